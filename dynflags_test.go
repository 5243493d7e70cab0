//go:build linux

package main

import "testing"

// TestDynamicBadFlags: the dynamic options' mistakes exit 2 with one line
// naming the flags and the fix.
func TestDynamicBadFlags(t *testing.T) {
	base := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}
	dyn := func(extra ...string) []string {
		return append(append(append([]string{}, base...), "-circuit", "vm1"), extra...)
	}
	static := func(extra ...string) []string {
		return append(append(append([]string{}, base...), "-txsession", "1"), extra...)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"circuit-txsession", dyn("-txsession", "5"), []string{"-circuit with -txsession", "negotiated", "drop -txsession"}},
		{"circuit-rxsession", dyn("-rxsession", "5"), []string{"-circuit with -rxsession"}},
		{"circuit-cookies", dyn("-txcookie", "1", "-rxcookie", "2"), []string{"-circuit with -txcookie"}},
		{"circuit-cookie64", dyn("-cookie64"), []string{"-circuit with -cookie64"}},
		{"circuit-empty", append(base, "-circuit", ""), []string{`-circuit ""`, "1 to"}},
		{"secret-file-static", static("-secret-file", "/etc/hostname"), []string{"-secret-file is for dynamic sessions", "add -circuit NAME"}},
		{"role-static", static("-role", "initiator"), []string{"-role is for dynamic sessions"}},
		{"router-id-static", static("-router-id", "192.0.2.1"), []string{"-router-id is for dynamic sessions"}},
		{"router-id-ipv6", dyn("-router-id", "2001:db8::1"), []string{`-router-id "2001:db8::1"`, "IPv4 address", "0xffffffff"}},
		{"router-id-zero", dyn("-router-id", "0"), []string{`-router-id "0"`, "IPv4 address"}},
		{"router-id-word", dyn("-router-id", "me"), []string{`-router-id "me"`}},
		{"router-id-big", dyn("-router-id", "0x100000000"), []string{`-router-id "0x100000000"`}},
		{"digest-bad", dyn("-digest", "sha256"), []string{`-digest "sha256"`, "md5", "sha1"}},
		{"role-bad", dyn("-role", "master"), []string{`-role "master"`, "initiator", "responder", "both"}},
		{"secret-missing", dyn("-secret-file", "/nonexistent/secret"), []string{"-secret-file /nonexistent/secret", "no such file"}},
		{"digest-no-secret", dyn("-digest", "sha1"), []string{"-digest without a secret", "-secret-file FILE"}},
		{"rxtunnel", dyn("-rxtunnel", "1"), []string{"-rxtunnel with -circuit", "drop -rxtunnel"}},
		{"hello-required", dyn("-hello-required=off"), []string{"-hello-required with -circuit"}},
		{"hello-0", dyn("-hello", "0"), []string{"-hello 0 with -circuit"}},
		{"no-txsession-nor-circuit", base, []string{"-txsession is required", "-circuit NAME"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runBad(t, "", tc.args, tc.want...) })
	}
}
