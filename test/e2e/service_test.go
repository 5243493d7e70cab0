//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestServiceUnit checks scripts/l2tap@.service: systemd-analyze finds
// nothing wrong with it, and the example configuration in its comment is a
// command line that brings a pseudowire end up with no capabilities but
// the two the unit keeps, and drops those once set up; and systemd-analyze
// security rates the unit's hardening no worse than when it was measured.
func TestServiceUnit(t *testing.T) {
	requireTools(t, true, "systemd-analyze", "ip", "setpriv")
	unit, err := os.ReadFile("scripts/l2tap@.service")
	if err != nil {
		t.Fatal(err)
	}
	var example string
	for _, line := range strings.Split(string(unit), "\n") {
		if i := strings.Index(line, "'L2TAP_ARGS="); i >= 0 && strings.HasPrefix(line, "#") {
			example = strings.TrimSuffix(strings.TrimSpace(line[i+len("'L2TAP_ARGS="):]), `' \`)
		}
	}
	if example == "" {
		t.Fatal("no example L2TAP_ARGS line in the unit's comment")
	}

	// Verify a copy that points at the test binary and a configuration
	// file in a temporary directory: verify wants both to exist.
	dir := t.TempDir()
	conf := filepath.Join(dir, "demo.conf")
	if err := os.WriteFile(conf, []byte("L2TAP_ARGS="+example+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("/usr/local/bin/l2tap", l2tapBinary(t), "/etc/l2tap/%i.conf", conf).Replace(string(unit))
	if text == string(unit) {
		t.Fatal("unit has neither ExecStart=/usr/local/bin/l2tap nor EnvironmentFile=/etc/l2tap/%i.conf")
	}
	path := filepath.Join(dir, "l2tap@.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "l2tap@demo.service")).CombinedOutput()
	if err != nil || strings.Contains(string(out), "l2tap@") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	if !strings.Contains(string(unit), "\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID\n") {
		t.Fatal("unit's CapabilityBoundingSet is not CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID, which this test grants")
	}
	// The hardening as systemd rates it: the exposure level (0 best, 10
	// worst) measured when the unit gained it, which it must not exceed.
	// (2.3 with the network capabilities alone; CAP_SETUID and CAP_SETGID,
	// with which l2tap leaves root once set up, add 0.3.)
	const maxExposure = 2.6
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > maxExposure {
		t.Errorf("exposure level %.1f, above the %.1f measured for the unit:\n%s", level, maxExposure, out)
	}

	a, _ := vethPair(t, "svc")
	// As root, the bounding set limits what l2tap gets, as the unit's does.
	p := startWrapped(t, a, []string{"setpriv", "--bounding-set=-all,+net_admin,+net_raw,+setuid,+setgid", "--inh-caps=-all"}, strings.Fields(example)...)
	if out := a.ip(t, "link", "show", "vm0"); !strings.Contains(out, "UP") {
		t.Errorf("TAP vm0 of the example is not up: %s", out)
	}
	// Set up, it runs as its default account, holds none of the four
	// (the bounding set stays: emptying it would take CAP_SETPCAP) and
	// runs under no_new_privs and its filter.
	acct := defaultAccount(t)
	checkStatus(t, "l2tap under the unit's capabilities", p.cmd.Process.Pid,
		statusWith(dropped(), "CapBnd", "00000000000030c0", "Uid", idStatus(acct.UID), "Gid", idStatus(acct.GID)))
	p.stop(t)
}
