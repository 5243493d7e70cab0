//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadConf writes side's configuration file: one UDP tunnel to the other
// side with a session per entry of sessions (ID, both ways, and a cookie),
// each on TAP rl<ID>.
func reloadConf(t *testing.T, path, src, dst string, sessions map[int]uint32) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "control = \"off\"\n[[tunnel]]\nsrc = %q\ndst = %q\nudp = true\nsrcport = 1701\ndstport = 1701\n", src, dst)
	for id := 10; id < 20; id++ {
		if cookie, ok := sessions[id]; ok {
			fmt.Fprintf(&b, "  [[tunnel.session]]\n  txsession = %d\n  txcookie = %d\n  rxcookie = %d\n  ifname = \"rl%d\"\n", id, cookie, cookie, id)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitLink polls until dev exists in ns (present) or is gone (!present).
func waitLink(t *testing.T, ns netns, dev string, present bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := ns.cmd("ip", "link", "show", dev).CombinedOutput()
		if (err == nil) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: TAP %s present=%v after 5s, want %v", ns, dev, err == nil, present)
		}
	}
}

// TestReload changes the configuration file of both ends while a ping flood
// runs over one session: SIGHUP adds a session, removes one, makes a
// changed one anew, and refuses a broken file, and the flooded session
// loses no frame. It all happens with every capability dropped and under
// the seccomp filter, as l2tap runs by default.
func TestReload(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	a, b := vethPair(t, "rl")
	dir := t.TempDir()
	fa, fb := filepath.Join(dir, "a.toml"), filepath.Join(dir, "b.toml")
	conf := func(sessions map[int]uint32) {
		reloadConf(t, fa, "192.0.2.1", "192.0.2.2", sessions)
		reloadConf(t, fb, "192.0.2.2", "192.0.2.1", sessions)
	}
	addrs := func(id int) {
		a.ip(t, "addr", "add", fmt.Sprintf("10.%d.0.1/24", id), "dev", fmt.Sprintf("rl%d", id))
		b.ip(t, "addr", "add", fmt.Sprintf("10.%d.0.2/24", id), "dev", fmt.Sprintf("rl%d", id))
	}
	hup := func(ps ...*proc) {
		for _, p := range ps {
			p.cmd.Process.Signal(syscall.SIGHUP)
		}
	}
	// waitLog polls p's log for n lines matching re.
	waitLog := func(p *proc, re string, n int) {
		t.Helper()
		rx := regexp.MustCompile(re)
		for deadline := time.Now().Add(5 * time.Second); len(rx.FindAllString(p.stderr.String(), -1)) < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("log lacks %d lines matching %q:\n%s", n, re, p.stderr.String())
			}
		}
	}

	conf(map[int]uint32{10: 0x1010, 11: 0x1111})
	pa := startL2tap(t, a, "-config", fa)
	pb := startL2tap(t, b, "-config", fb)
	addrs(10)
	addrs(11)
	if err := a.pingEventually(t, "10.10.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.pingEventually(t, "10.11.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// The flood: 3000 echoes 2 ms apart over session 10, for 6 s.
	flood := a.cmd("ping", "-q", "-i", "0.002", "-c", "3000", "-W", "2", "10.10.0.2")
	floodOut := &syncBuffer{}
	flood.Stdout, flood.Stderr = floodOut, floodOut
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	defer flood.Process.Kill()

	// Add session 12 and remove 11.
	conf(map[int]uint32{10: 0x1010, 12: 0x1212})
	hup(pa, pb)
	waitLog(pa, `SIGHUP: configuration read again added=1 removed=1`, 1)
	waitLog(pb, `SIGHUP: configuration read again added=1 removed=1`, 1)
	for _, ns := range []netns{a, b} {
		waitLink(t, ns, "rl11", false)
		waitLink(t, ns, "rl12", true)
	}
	addrs(12)
	if err := a.pingEventually(t, "10.12.0.2", 5*time.Second); err != nil {
		t.Errorf("added session: %v", err)
	}

	// Change session 12's cookies: it is made anew and works again.
	conf(map[int]uint32{10: 0x1010, 12: 0x2222})
	hup(pa, pb)
	waitLog(pa, `changed tap=rl12`, 1)
	waitLog(pb, `changed tap=rl12`, 1)
	waitLog(pa, `added tap=rl12`, 2)
	waitLog(pb, `added tap=rl12`, 2)
	addrs(12) // a new TAP has no addresses
	if err := a.pingEventually(t, "10.12.0.2", 5*time.Second); err != nil {
		t.Errorf("changed session: %v", err)
	}

	// A broken file changes nothing.
	if err := os.WriteFile(fa, []byte("[[tunnel]]\nsrc = \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup(pa)
	waitLog(pa, `SIGHUP: configuration not read; nothing changes err=.*a\.toml:2`, 1)
	if err := a.ping(t, "10.12.0.2", 1, 56); err != nil {
		t.Errorf("after a broken file: %v", err)
	}

	if err := flood.Wait(); err != nil {
		t.Fatalf("flood: %v\n%s", err, floodOut.String())
	}
	out := floodOut.String()
	if !strings.Contains(out, "3000 packets transmitted, 3000 received") {
		t.Errorf("the flooded session lost frames while others came and went:\n%s", out)
	}
	t.Logf("flood over the untouched session: %s", strings.TrimSpace(out[strings.Index(out, "3000 packets"):]))
	// The two ends change one after the other, so the sessions removed
	// or rebuilt may drop a few packets in between (unknown session, old
	// cookie); the untouched one drops nothing.
	for _, p := range []*proc{pa, pb} {
		p.stop(t)
		line := regexp.MustCompile(`(?m)^session rl10 10/10: .*$`).FindString(p.stdout.String())
		for _, zero := range []string{"rx_errors=0 ", "tx_errors=0 ", "tap_write_errors=0 "} {
			if !strings.Contains(line+" ", zero) {
				t.Errorf("the untouched session: want %s in %q\n%s", zero, line, p.stdout.String())
			}
		}
	}
}
