//go:build linux

package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ifupEnv runs Debian's ifup and ifdown with the hook scripts/ifupdown/l2tap
// installed, without touching the host: each command runs in a private mount
// namespace where a temporary directory is bound over /etc/network (the
// hooks, the interfaces files) and another, holding the l2tap under test,
// over /usr/local/sbin, the first directory of the PATH ifupdown gives its
// hooks.
type ifupEnv struct {
	etc, bin string // bound over /etc/network and /usr/local/sbin
	l2tap    string // the l2tap the hook finds, as the kernel names its exe
}

func newIfupEnv(t *testing.T) *ifupEnv {
	t.Helper()
	requireTools(t, true, "ifup", "ifdown", "unshare", "mount", "start-stop-daemon")
	dir := t.TempDir()
	e := &ifupEnv{etc: filepath.Join(dir, "etc"), bin: filepath.Join(dir, "bin")}
	for _, d := range []string{"if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d"} {
		if err := os.MkdirAll(filepath.Join(e.etc, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(e.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join("scripts", "ifupdown", "l2tap"), filepath.Join(e.etc, "if-pre-up.d", "l2tap"), 0o755)
	if err := os.Symlink("../if-pre-up.d/l2tap", filepath.Join(e.etc, "if-post-down.d", "l2tap")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, l2tapBinary(t), filepath.Join(e.bin, "l2tap"), 0o755)
	e.l2tap = filepath.Join(e.bin, "l2tap")
	// Should a hook fail to stop l2tap, the copy made for this test
	// identifies what is left; the test's own cleanups (ifdown) run first.
	t.Cleanup(func() {
		for _, pid := range running(e.l2tap) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return e
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// interfaces writes the interfaces file name under /etc/network.
func (e *ifupEnv) interfaces(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.etc, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ifupdown runs "ifup" or "ifdown" in ns with -i /etc/network/FILE, its state
// in state, on the interface vm0, and returns its output.
func (e *ifupEnv) ifupdown(ns netns, cmd, file, state string) (string, error) {
	const script = `mount --bind "$1" /etc/network && mount --bind "$2" /usr/local/sbin &&
exec ip netns exec "$3" "$4" -i "/etc/network/$5" --state-dir "$6" vm0`
	out, err := exec.Command("unshare", "-m", "sh", "-c", script, "sh", e.etc, e.bin, string(ns), cmd, file, state).CombinedOutput()
	return string(out), err
}

// stanza is the interfaces file of one end: vm0 with address overlay, a
// pseudowire from src to dst, and extra option lines.
func stanza(overlay, src, dst string, extra ...string) string {
	lines := []string{
		"iface vm0 inet static",
		"    address " + overlay,
		"    l2tap-src " + src,
		"    l2tap-dst " + dst,
		"    l2tap-udp on",
		"    l2tap-srcport 1701",
		"    l2tap-dstport 1701",
	}
	for _, x := range extra {
		lines = append(lines, "    "+x)
	}
	return strings.Join(lines, "\n") + "\n"
}

// hookFiles are the pid file and log the hook keeps for vm0 in ns.
func hookFiles(ns netns) (pidfile, log string) {
	base := "/run/l2tap/vm0@" + string(ns)
	return base + ".pid", base + ".log"
}

// running lists the pids of live processes (zombies excluded) running the
// file exe. The file is compared, not the name: the processes see it under
// another path.
func running(exe string) []int {
	var pids []int
	want, err := os.Stat(exe)
	if err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && os.SameFile(fi, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// atoi is strconv.Atoi, -1 for what is not a number.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// TestIfupdown brings a pseudowire up with ifup in two namespaces, from
// interfaces files whose vm0 stanzas carry l2tap- lines and an address (set
// by ifupdown after the hook's pre-up, so the TAP must exist by then), pings
// across, and takes both ends down with ifdown: l2tap must have printed its
// counters and exited, and the TAP, the pid file and the process be gone.
func TestIfupdown(t *testing.T) {
	e := newIfupEnv(t)
	a, b := vethPair(t, "ifu")
	e.interfaces(t, "a", stanza("10.1.0.1/24", "192.0.2.1", "192.0.2.2", "l2tap-txsession 10", "l2tap-rxsession 20"))
	e.interfaces(t, "b", stanza("10.1.0.2/24", "192.0.2.2", "192.0.2.1", "l2tap-txsession 20", "l2tap-rxsession 10"))
	ends := []struct {
		ns          netns
		file, state string
	}{{a, "a", t.TempDir()}, {b, "b", t.TempDir()}}
	for _, end := range ends {
		pidfile, log := hookFiles(end.ns)
		t.Cleanup(func() {
			e.ifupdown(end.ns, "ifdown", end.file, end.state)
			os.Remove(log)
			os.Remove(pidfile)
		})
		start := time.Now()
		if out, err := e.ifupdown(end.ns, "ifup", end.file, end.state); err != nil {
			t.Fatalf("ifup vm0 in %s: %v\n%s", end.ns, err, out)
		}
		t.Logf("ifup vm0 in %s: %v", end.ns, time.Since(start).Round(time.Millisecond))
		if _, err := os.Stat(pidfile); err != nil {
			t.Errorf("after ifup: %v", err)
		}
		addrs := end.ns.ip(t, "-br", "addr", "show", "dev", "vm0")
		if want := map[netns]string{a: "10.1.0.1/24", b: "10.1.0.2/24"}[end.ns]; !strings.Contains(addrs, want) {
			t.Errorf("vm0 in %s after ifup: %q, want address %s from the stanza", end.ns, addrs, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if pids := running(e.l2tap); len(pids) != 2 {
		t.Errorf("after both ifups, l2tap processes %v, want 2", pids)
	}
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pingAll(t, pingCheck{a, "10.1.0.2", 56}, pingCheck{b, "10.1.0.1", 1400})
	for _, end := range ends {
		pidfile, _ := hookFiles(end.ns)
		if pid, err := os.ReadFile(pidfile); err != nil || !slices.Contains(running(e.l2tap), atoi(strings.TrimSpace(string(pid)))) {
			t.Errorf("%s: %q (%v) is not the pid of a running l2tap (%v)", pidfile, pid, err, running(e.l2tap))
		}
	}

	for _, end := range ends {
		pidfile, log := hookFiles(end.ns)
		pid, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if out, err := e.ifupdown(end.ns, "ifdown", end.file, end.state); err != nil {
			t.Fatalf("ifdown vm0 in %s: %v\n%s", end.ns, err, out)
		}
		t.Logf("ifdown vm0 in %s: %v", end.ns, time.Since(start).Round(time.Millisecond))
		if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
			t.Errorf("pid file %s after ifdown: %v", pidfile, err)
		}
		if out, err := end.ns.cmd("ip", "link", "show", "vm0").CombinedOutput(); err == nil {
			t.Errorf("vm0 still in %s after ifdown:\n%s", end.ns, out)
		}
		if p := strings.TrimSpace(string(pid)); slices.Contains(running(e.l2tap), atoi(p)) {
			t.Errorf("l2tap (pid %s) still runs after ifdown in %s", p, end.ns)
		}
		// The counters l2tap prints when SIGTERM stops it cleanly.
		text, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		if pids := running(e.l2tap); end.ns == b && pids != nil {
			t.Errorf("l2tap still runs after both ifdowns: %v", pids)
		}
		counters := map[string]uint64{}
		for _, line := range strings.Split(string(text), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
					counters[f[0]] = v
				}
			}
		}
		if counters["tx_packets"] < 4 || counters["rx_packets"] < 4 {
			t.Errorf("%s: counters after ifdown tx_packets %d rx_packets %d, want at least the 4 echoes each way:\n%s",
				log, counters["tx_packets"], counters["rx_packets"], text)
		}
	}
}

// TestIfupdownRefused: options l2tap refuses make ifup fail with one line
// naming the option as the interfaces file spells it, and leave no l2tap,
// TAP or pid file behind.
func TestIfupdownRefused(t *testing.T) {
	e := newIfupEnv(t)
	a, _ := vethPair(t, "ifr")
	for _, c := range []struct {
		src, option, want string
	}{
		{"192.0.2.1", "l2tap-txsession 0", "l2tap vm0: l2tap-txsession 0: session ID 0 is reserved"},
		{"192.0.2.1", "l2tap-txsesion 10", "l2tap vm0: flag provided but not defined: l2tap-txsesion"},
		{"192.0.2.1", "l2tap-ifname tap7", "l2tap vm0: l2tap-ifname tap7: the TAP takes the interface's name, vm0"},
		// a setup error, after the flags passed
		{"192.0.2.9", "l2tap-txsession 10", "l2tap vm0: l2tap-src 192.0.2.9: no interface on this host has that address"},
	} {
		t.Run(strings.Fields(c.option)[0]+"-"+c.src, func(t *testing.T) {
			e.interfaces(t, "bad", stanza("10.1.0.1/24", c.src, "192.0.2.2", c.option))
			pidfile, log := hookFiles(a)
			t.Cleanup(func() { os.Remove(log) })
			out, err := e.ifupdown(a, "ifup", "bad", t.TempDir())
			if err == nil {
				t.Fatalf("ifup with %q succeeded:\n%s", c.option, out)
			}
			var hook []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "l2tap ") {
					hook = append(hook, line)
				}
			}
			if len(hook) != 1 || !strings.HasPrefix(hook[0], c.want) {
				t.Errorf("ifup with %q: the hook said %q, want one line starting %q; all output:\n%s", c.option, hook, c.want, out)
			}
			if pids := running(e.l2tap); pids != nil {
				t.Errorf("l2tap left running: %v", pids)
			}
			if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
				t.Errorf("pid file %s left: %v", pidfile, err)
			}
			if out, err := a.cmd("ip", "link", "show", "vm0").CombinedOutput(); err == nil {
				t.Errorf("vm0 left:\n%s", out)
			}
		})
	}
}
