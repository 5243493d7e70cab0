package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceUnit checks scripts/l2tap@.service: systemd-analyze finds
// nothing wrong with it, and the example configuration in its comment is a
// command line that brings a pseudowire end up with no capabilities but
// the two the unit keeps.
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

	if !strings.Contains(string(unit), "\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW\n") {
		t.Fatal("unit's CapabilityBoundingSet is not CAP_NET_ADMIN CAP_NET_RAW, which this test grants")
	}
	a, _ := underlay(t, "svc")
	// As root, the bounding set limits what l2tap gets, as the unit's does.
	p := startWrapped(t, a, []string{"setpriv", "--bounding-set=-all,+net_admin,+net_raw", "--inh-caps=-all"}, strings.Fields(example)...)
	if out := a.ip(t, "link", "show", "vm0"); !strings.Contains(out, "UP") {
		t.Errorf("TAP vm0 of the example is not up: %s", out)
	}
	p.stop(t)
}
