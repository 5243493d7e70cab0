//go:build linux

package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// runBad runs l2tap in ns and checks it fails with exit code 2 and a single
// line naming every string in want.
func runBad(t *testing.T, ns netns, args []string, want ...string) {
	t.Helper()
	var cmd *exec.Cmd
	if ns == "" {
		cmd = exec.Command(l2tapBinary(t), args...)
	} else {
		cmd = ns.cmd(l2tapBinary(t), args...)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("l2tap %s: want exit code 2, got %v\n%s", strings.Join(args, " "), err, out)
	}
	msg := strings.TrimSuffix(string(out), "\n")
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "l2tap: ") {
		t.Errorf("want one line starting with 'l2tap: ', got:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
}

// TestBadFlags checks the errors that need no privilege: each names the flag
// and the value at fault and says what to do.
func TestBadFlags(t *testing.T) {
	ok := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no-src", []string{"-dst", "192.0.2.2", "-txsession", "1"}, []string{"-src is required"}},
		{"no-dst", []string{"-src", "192.0.2.1", "-txsession", "1"}, []string{"-dst is required"}},
		{"no-txsession", []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}, []string{"-txsession is required"}},
		{"session-0", with("-txsession", "0"), []string{"-txsession 0", "reserved"}},
		{"rxsession-0", with("-rxsession", "0x0"), []string{"-rxsession 0"}},
		{"session-too-big", with("-txsession", "0x100000000"), []string{"-txsession", "0x100000000", "at most"}},
		{"session-not-number", with("-txsession", "one"), []string{"-txsession", `"one"`, "decimal or 0x-hex"}},
		{"cookie-64bit-value", with("-txcookie", "0x123456789", "-rxcookie", "1"), []string{"-txcookie 0x123456789", "add -txcookie64", "-cookie64"}},
		{"rxcookie-64bit-value", with("-rxcookie", "0x123456789"), []string{"-rxcookie 0x123456789", "add -rxcookie64"}},
		{"rxcookie-64bit-value-tx64", with("-txcookie64", "-txcookie", "1", "-rxcookie", "0x123456789"), []string{"-rxcookie 0x123456789", "add -rxcookie64"}},
		{"cookie64-off-per-direction", with("-cookie64", "-txcookie64=off", "-txcookie", "0x123456789"), []string{"-txcookie 0x123456789", "wider than 32 bits"}},
		{"cookie64-alone", with("-cookie64"), []string{"-cookie64 without cookies", "-txcookie", "-rxcookie"}},
		{"txcookie64-alone", with("-txcookie64", "-rxcookie", "1"), []string{"-txcookie64 without -txcookie", "add -txcookie N"}},
		{"rxcookie64-alone", with("-rxcookie64"), []string{"-rxcookie64 without -rxcookie", "add -rxcookie N"}},
		{"mac-attach", with("-ifname", "vm0", "-attach", "-mac", "02:00:5e:10:00:01"), []string{"-mac 02:00:5e:10:00:01 with -attach", "drop -mac"}},
		{"mac-multicast", with("-mac", "01:00:5e:00:00:01"), []string{`-mac "01:00:5e:00:00:01"`, "multicast"}},
		{"mac-word", with("-mac", "stable"), []string{`-mac "stable"`, "persistent", "random"}},
		{"udp-no-ports", with("-udp"), []string{"-udp needs -srcport"}},
		{"pcap-outer-alone", with("-pcap-outer"), []string{"-pcap-outer without -pcap"}},
		{"pcap-size-alone", with("-pcap-size", "1M"), []string{"-pcap-size without -pcap"}},
		{"pcap-size-unit", with("-pcap", "c.pcap", "-pcap-size", "1Q"), []string{"-pcap-size", `"1Q"`, "100M"}},
		{"pcap-size-small", with("-pcap", "c.pcap", "-pcap-size", "100"), []string{"-pcap-size", `"100"`, "at least 1024"}},
		{"udp-no-dstport", with("-udp", "-srcport", "1701"), []string{"-udp needs -dstport"}},
		{"port-without-udp", with("-srcport", "1701"), []string{"-srcport", "add -udp"}},
		{"port-too-big", with("-udp", "-srcport", "70000", "-dstport", "1"), []string{"-srcport", "70000"}},
		{"ipv6-with-v4", with("-ipv6"), []string{"-src 192.0.2.1 is not IPv6", "drop -ipv6"}},
		{"v6-without-ipv6", []string{"-src", "2001:db8::1", "-dst", "2001:db8::2", "-txsession", "1"}, []string{"-src 2001:db8::1 is not IPv4", "add -ipv6"}},
		{"unresolvable", []string{"-src", "192.0.2.1", "-dst", "no-such-host.invalid", "-txsession", "1"}, []string{"-dst no-such-host.invalid"}},
		{"bool-bad", with("-udp=maybe"), []string{"-udp", "on or off"}},
		{"hello-no-ids", with("-hello", "1"), []string{"-hello needs -rxtunnel"}},
		{"hello-no-txtunnel", with("-hello", "1", "-rxtunnel", "5"), []string{"-hello needs -txtunnel"}},
		{"rxtunnel-0", with("-hello", "1", "-rxtunnel", "0", "-txtunnel", "6"), []string{"-rxtunnel 0", "1 to 4294967295"}},
		{"rxtunnel-too-big", with("-hello", "1", "-rxtunnel", "0x100000000", "-txtunnel", "6"), []string{"-rxtunnel", "0x100000000", "at most"}},
		{"hello-too-big", with("-hello", "7200", "-rxtunnel", "5", "-txtunnel", "6"), []string{"-hello", "7200", "at most 3600"}},
		{"txtunnel-without-hello", with("-txtunnel", "6"), []string{"-txtunnel without -hello", "-hello SECONDS"}},
		{"hello-required-without-hello", with("-hello-required=off"), []string{"-hello-required without -hello"}},
		{"hello-retries-without-hello", with("-hello-retries", "3"), []string{"-hello-retries without -hello"}},
		{"hello-retries-0", with("-hello", "1", "-rxtunnel", "5", "-txtunnel", "6", "-hello-retries", "0"), []string{"-hello-retries 0", "1 to 255"}},
		{"hello-retries-too-big", with("-hello", "1", "-rxtunnel", "5", "-txtunnel", "6", "-hello-retries", "256"), []string{"-hello-retries", "256", "at most 255"}},
		{"hello-required-bad", with("-hello", "1", "-rxtunnel", "5", "-txtunnel", "6", "-hello-required=maybe"), []string{"-hello-required", "on or off"}},
		{"name-too-long", with("-ifname", "a-very-long-tap-name"), []string{"-ifname", "a-very-long-tap-name", "15 bytes"}},
		{"offset-too-big", with("-offset", "256"), []string{"-offset", "256", "at most 255"}},
		{"offset-leading-zero-is-decimal", with("-offset", "0300"), []string{"-offset", "0300", "at most 255"}},
		{"session-leading-zero-is-decimal", with("-txsession", "09", "-rxsession", "0"), []string{"-rxsession 0"}},
		{"mtu-too-small", with("-mtu", "60"), []string{"-mtu 60"}},
		{"mss-clamp-word", with("-mss-clamp", "on"), []string{"-mss-clamp", `"on"`, "auto", "off", "88 to 65495"}},
		{"mss-clamp-small", with("-mss-clamp", "87"), []string{"-mss-clamp", `"87"`, "88 to 65495"}},
		{"mss-clamp-big", with("-mss-clamp", "65496"), []string{"-mss-clamp", `"65496"`}},
		{"mss-clamp-negative", with("-mss-clamp", "-1"), []string{"-mss-clamp", `"-1"`}},
		{"seqcheck-without-sublayer", with("-seqcheck"), []string{"-seqcheck", "-counter"}},
		{"attach-without-name", with("-attach"), []string{"-attach needs -ifname"}},
		{"unknown-owner", with("-owner", "no-such-user-here"), []string{"-owner no-such-user-here"}},
		{"queues-zero", with("-queues", "0"), []string{"-queues 0"}},
		{"queues-too-many", with("-queues", "257"), []string{"-queues", "257", "at most 256"}},
		{"queues-with-counter", with("-queues", "2", "-counter"), []string{"-queues 2", "-counter", "-pincounter"}},
		{"sched-bad", with("-sched", "fifo"), []string{"-sched", `"fifo"`, "batch", "normal"}},
		{"ip-path-bad", with("-ip-path", "fast"), []string{"-ip-path", `"fast"`, "raw", "packet"}},
		{"offload-bad", with("-offload", "fast"), []string{"-offload", `"fast"`, "auto", "off"}},
		{"socket-with-ifname", with("-socket", "/run/vm.sock", "-ifname", "vm0"), []string{"-ifname vm0 with -socket /run/vm.sock", "drop one"}},
		{"socket-with-master", with("-socket", "/run/vm.sock", "-master", "br0"), []string{"-master br0 with -socket /run/vm.sock"}},
		{"socket-with-queues", with("-socket", "/run/vm.sock", "-queues", "2"), []string{"-queues 2 with -socket"}},
		{"socket-with-mtu", with("-socket", "/run/vm.sock", "-mtu", "1400"), []string{"-mtu 1400 with -socket"}},
		{"socket-type-alone", with("-socket-type", "dgram"), []string{"-socket-type dgram without -socket"}},
		{"socket-type-bad", with("-socket", "/run/vm.sock", "-socket-type", "seqpacket"), []string{"-socket-type", `"seqpacket"`, "stream", "dgram"}},
		{"socket-empty", with("-socket", ""), []string{"-socket \"\""}},
		{"vhost-user-with-socket", with("-vhost-user", "/run/vm.vhost", "-socket", "/run/vm.sock"), []string{"-socket /run/vm.sock with -vhost-user /run/vm.vhost", "drop one"}},
		{"vhost-user-with-ifname", with("-vhost-user", "/run/vm.vhost", "-ifname", "vm0"), []string{"-ifname vm0 with -vhost-user /run/vm.vhost", "drop one"}},
		{"vhost-user-with-attach", with("-vhost-user", "/run/vm.vhost", "-ifname", "vm0", "-attach"), []string{"with -vhost-user /run/vm.vhost", "drop one"}},
		{"vhost-user-with-master", with("-vhost-user", "/run/vm.vhost", "-master", "br0"), []string{"-master br0 with -vhost-user"}},
		{"vhost-user-with-mtu", with("-vhost-user", "/run/vm.vhost", "-mtu", "1400"), []string{"-mtu 1400 with -vhost-user"}},
		{"vhost-user-with-queues", with("-vhost-user", "/run/vm.vhost", "-queues", "2"), []string{"-queues 2 with -vhost-user"}},
		{"vhost-user-with-offload", with("-vhost-user", "/run/vm.vhost", "-offload", "off"), []string{"-offload off with -vhost-user"}},
		{"vhost-user-with-mac", with("-vhost-user", "/run/vm.vhost", "-mac", "02:00:5e:10:00:01"), []string{"-mac 02:00:5e:10:00:01 with -vhost-user", "drop -mac"}},
		{"vhost-user-mode-alone", with("-vhost-user-mode", "client"), []string{"-vhost-user-mode client without -vhost-user", "add -vhost-user PATH"}},
		{"vhost-user-mode-bad", with("-vhost-user", "/run/vm.vhost", "-vhost-user-mode", "listen"), []string{"-vhost-user-mode", `"listen"`, "server", "client"}},
		{"vhost-user-client-owner", with("-vhost-user", "/run/vm.vhost", "-vhost-user-mode", "client", "-owner", "nobody"), []string{"-owner nobody with -vhost-user-mode client", "drop -owner"}},
		{"vhost-user-empty", with("-vhost-user", ""), []string{"-vhost-user \"\""}},
		{"vhost-user-too-long", with("-vhost-user", "/"+strings.Repeat("v", 110)), []string{"-vhost-user", "at most 107 bytes"}},
		{"unknown-flag", with("-bogus"), []string{"-bogus", "l2tap -help"}},
		{"stray-argument", with("extra"), []string{`"extra"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runBad(t, "", tc.args, tc.want...) })
	}
}

// TestSetupErrors checks errors found while setting up, and that a failed
// start leaves no TAP behind.
func TestSetupErrors(t *testing.T) {
	requireTools(t, true, "ip", "setpriv")
	a, _ := vethPair(t, "se")
	noTAP := func(t *testing.T) {
		t.Helper()
		if out := a.ip(t, "-o", "link", "show", "type", "tun"); strings.TrimSpace(out) != "" {
			t.Errorf("TAP left behind after a failed start: %s", out)
		}
	}
	udp := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}

	t.Run("port-in-use", func(t *testing.T) {
		holder := a.cmd("sh", "-c", "exec python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((\"192.0.2.1\",1701)); print(\"bound\",flush=True); time.sleep(30)'")
		stdout, _ := holder.StdoutPipe()
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { holder.Process.Kill(); holder.Wait() }()
		buf := make([]byte, 5)
		if _, err := stdout.Read(buf); err != nil {
			t.Fatalf("port holder: %v", err)
		}
		runBad(t, a, udp, "-srcport 1701", "already in use")
		noTAP(t)
	})
	t.Run("src-not-local", func(t *testing.T) {
		runBad(t, a, []string{"-src", "192.0.2.9", "-dst", "192.0.2.2", "-txsession", "1"}, "-src 192.0.2.9", "no interface")
		noTAP(t)
	})
	t.Run("no-route", func(t *testing.T) {
		runBad(t, a, []string{"-src", "192.0.2.1", "-dst", "203.0.113.1", "-txsession", "1"}, "-dst 203.0.113.1", "no route")
		noTAP(t)
	})
	t.Run("not-a-tap", func(t *testing.T) {
		runBad(t, a, []string{"-ifname", "ua", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}, `"ua"`, "not a TAP")
	})
	t.Run("attach-missing", func(t *testing.T) {
		runBad(t, a, []string{"-ifname", "nothere0", "-attach", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}, "-attach", "nothere0")
	})
	t.Run("no-permission-raw", func(t *testing.T) {
		args := append([]string{"netns", "exec", string(a), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", l2tapBinary(t)},
			"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1")
		out, err := exec.Command("ip", args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "CAP_NET_RAW") {
			t.Fatalf("want exit 2 naming CAP_NET_RAW, got %v: %s", err, out)
		}
	})
	t.Run("no-permission-tap", func(t *testing.T) {
		args := append([]string{"netns", "exec", string(a), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", l2tapBinary(t)},
			"-udp", "-srcport", "5000", "-dstport", "5000", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1")
		out, err := exec.Command("ip", args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "CAP_NET_ADMIN") {
			t.Fatalf("want exit 2 naming CAP_NET_ADMIN, got %v: %s", err, out)
		}
		noTAP(t)
	})
}
