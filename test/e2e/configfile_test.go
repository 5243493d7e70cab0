//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigFileBinary runs l2tap -config on bad files: exit code 2 and one
// line naming the file, line, key and value; and -config with a session
// flag.
func TestConfigFileBinary(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// One tunnel with two sessions; line 16 is the second session's txsession.
	b, err := os.ReadFile("internal/config/testdata/two-sessions.toml")
	if err != nil {
		t.Fatal(err)
	}
	twoSessions := string(b)
	good := write("good.toml", twoSessions)
	bad := write("bad.toml", strings.Replace(twoSessions, "  txsession = 11\n", "  txsession = 11\n  rxcookei = 5\n", 1))
	runBad(t, "", []string{"-config", bad}, bad+":17: rxcookei 5: unknown key; did you mean rxcookie?")
	runBad(t, "", []string{"-config", good, "-txsession", "5"}, "-txsession with -config", "drop -txsession")
	runBad(t, "", []string{"-config", good, "-udp"}, "-udp with -config")
	runBad(t, "", []string{"-config", filepath.Join(dir, "none.toml")}, "-config "+filepath.Join(dir, "none.toml"), "no such file")
	runBad(t, "", []string{"-config", good, "-sched", "fifo"}, `-sched "fifo"`)
}

// TestConfigFilePseudowire runs one side of a pseudowire from a file and the
// other from flags saying the same: they must carry pings both ways.
func TestConfigFilePseudowire(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	a, b := vethPair(t, "cf")
	file := filepath.Join(t.TempDir(), "a.toml")
	conf := `sched = "normal"
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1701
dstport = "0x6a5"
  [[tunnel.session]]
  txsession = 10
  rxsession = 20
  txcookie = 0x11223344
  rxcookie = "0x55667788"
  counter = "on"
  ifname = "cf0"
`
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pa := startL2tap(t, a, "-config", file)
	pb := startL2tap(t, b, "-udp", "-src", "192.0.2.2", "-dst", "192.0.2.1", "-srcport", "1701", "-dstport", "1701",
		"-txsession", "20", "-rxsession", "10", "-txcookie", "0x55667788", "-rxcookie", "0x11223344", "-counter", "-ifname", "cf0")
	overlay(t, a, b, "cf0")
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pingAll(t, pingCheck{a, "10.1.0.2", 1400}, pingCheck{b, "10.1.0.1", 56})
	ca, cb := pa.stop(t), pb.stop(t)
	for side, c := range map[string]map[string]uint64{"file": ca, "flags": cb} {
		if c["rx_packets"] < 5 || c["tx_packets"] < 5 || c["rx_errors"] != 0 {
			t.Errorf("%s side counters: %v", side, c)
		}
	}
}
