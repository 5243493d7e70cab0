//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperCapMask is the capability sets of the privileged helper:
// sandbox.HelperCaps (CHOWN 0, DAC_OVERRIDE 1, FOWNER 3,
// NET_BIND_SERVICE 10, NET_ADMIN 12, NET_RAW 13).
const helperCapMask = "000000000000340b"

// childOf polls for the one child process of pid (the privileged helper),
// or, with want false, checks that pid has none; it returns the child's
// PID or 0.
func childOf(t *testing.T, pid int, want bool) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var kids []string
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			kids = append(kids, strings.Fields(string(b))...)
		}
		switch {
		case !want && len(kids) > 0:
			t.Fatalf("l2tap %d has children %v; want no helper", pid, kids)
		case !want:
			return 0
		case len(kids) == 1:
			c, _ := strconv.Atoi(kids[0])
			return c
		case len(kids) > 1:
			t.Fatalf("l2tap %d has children %v; want one helper", pid, kids)
		}
		if time.Now().After(deadline) {
			t.Fatalf("l2tap %d: no helper after 5s", pid)
		}
	}
}

// statusLines returns the Uid, CapPrm, CapEff, NoNewPrivs and Seccomp
// lines of /proc/PID/status, for the log.
func statusLines(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "Uid", "CapPrm", "CapEff", "NoNewPrivs", "Seccomp":
			out = append(out, k+" "+strings.Join(strings.Fields(v), " "))
		}
	}
	return strings.Join(out, "; ")
}

// checkSeparated checks the data path p (every thread: the default
// account, no capability, no_new_privs, the filter) and its helper: none
// when helper is false; otherwise root with helperCapMask only, under
// no_new_privs and its own filter. It logs both status lines and returns
// the helper's PID.
func checkSeparated(t *testing.T, mode string, p *proc, helper bool) int {
	t.Helper()
	pid := p.cmd.Process.Pid
	acct := defaultAccount(t)
	checkStatus(t, mode+": data path", pid, statusWith(dropped(), "Uid", idStatus(acct.UID), "Gid", idStatus(acct.GID)))
	t.Logf("%s: data path %d: %s", mode, pid, statusLines(t, pid))
	hp := childOf(t, pid, helper)
	if hp == 0 {
		t.Logf("%s: no helper", mode)
		return 0
	}
	// The helper confines itself before it says it is ready, which is
	// before the data path's setup: its status is final by now.
	checkStatus(t, mode+": helper", hp, map[string]string{
		"Uid": "0 0 0 0", "CapPrm": helperCapMask, "CapEff": helperCapMask, "CapBnd": helperCapMask,
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	})
	t.Logf("%s: helper %d: %s", mode, hp, statusLines(t, hp))
	return hp
}

// accountDir is socketDir for the default account: a directory it may
// write, so that l2tap running as it removes its socket files at exit.
func accountDir(t *testing.T) string {
	t.Helper()
	dir := socketDir(t)
	acct := defaultAccount(t)
	if err := os.Chown(dir, acct.UID, acct.GID); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitGone polls until process pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper %d still running 5s after l2tap exited", pid)
		}
	}
}

// TestPrivilegeSeparation starts l2tap as root without -user in every
// mode and reads the status of the data path and of the privileged
// helper: the data path runs as the default account with no capability,
// no_new_privs and its filter everywhere; a helper exists only where a
// reload or an attached TAP's restore needs one, as root with
// sandbox.HelperCaps under its own filter. What needed privilege still
// works: a reload adding and removing TAP and socket sessions, TAPs
// removed at exit, an attached TAP restored at exit (and after a
// SIGKILL of the data path), the helper gone with the data path.
func TestPrivilegeSeparation(t *testing.T) {
	requireTools(t, true, "ip")
	base := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}

	t.Run("static", func(t *testing.T) {
		a, _ := vethPair(t, "ps")
		p := startL2tap(t, a, append([]string{"-ifname", "ps0"}, base...)...)
		checkSeparated(t, "static", p, false)
		p.stop(t)
		waitLink(t, a, "ps0", false)
	})

	t.Run("user-root", func(t *testing.T) {
		a, _ := vethPair(t, "pr")
		p := startL2tap(t, a, append([]string{"-ifname", "pr0", "-user", "root"}, base...)...)
		if !strings.Contains(p.stderr.String(), "-user root: l2tap stays root after setup") {
			t.Errorf("no warning about -user root:\n%s", p.stderr.String())
		}
		checkStatus(t, "-user root", p.cmd.Process.Pid, statusWith(dropped(), "Uid", "0 0 0 0"))
		t.Logf("-user root: data path: %s", statusLines(t, p.cmd.Process.Pid))
		p.stop(t)
	})

	t.Run("circuit", func(t *testing.T) {
		a, _ := vethPair(t, "pc")
		p := startL2tap(t, a, dynArgs(true, true, "")...)
		checkSeparated(t, "-circuit", p, false)
		p.stop(t)
		waitLink(t, a, "vm0", false)
	})

	t.Run("socket", func(t *testing.T) {
		a, _ := vethPair(t, "pk")
		sock := filepath.Join(accountDir(t), "vm.sock")
		p := startL2tap(t, a, append([]string{"-socket", sock}, base...)...)
		checkSeparated(t, "-socket", p, false)
		p.stop(t)
		if _, err := os.Lstat(sock); err == nil {
			t.Errorf("%s left after exit", sock)
		}
	})

	t.Run("attach", func(t *testing.T) {
		a, _ := vethPair(t, "pa")
		a.ip(t, "tuntap", "add", "dev", "pa0", "mode", "tap")
		a.ip(t, "link", "set", "pa0", "mtu", "1280")
		args := append([]string{"-ifname", "pa0", "-attach", "-mtu", "1400"}, base...)
		for _, kill := range []bool{false, true} {
			p := startL2tap(t, a, args...)
			hp := checkSeparated(t, "-attach", p, true)
			if got := tapMTU(t, a, "pa0"); got != 1400 {
				t.Errorf("attached TAP MTU %d while running, want 1400", got)
			}
			if kill {
				// However the data path ends, the helper restores.
				p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
				p.exit = nil // killed as meant: not a failure at cleanup
			} else {
				p.stop(t)
			}
			waitGone(t, hp)
			if got := tapMTU(t, a, "pa0"); got != 1280 {
				t.Errorf("kill %v: attached TAP MTU %d after exit, want 1280 restored", kill, got)
			}
			if out := a.ip(t, "link", "show", "pa0"); strings.Contains(out, ",UP") {
				t.Errorf("kill %v: attached TAP left up, want it down as found: %s", kill, out)
			}
		}
	})

	t.Run("config", func(t *testing.T) {
		a, _ := vethPair(t, "pf")
		dir := accountDir(t)
		file, sock := filepath.Join(dir, "l2tap.toml"), filepath.Join(dir, "vm.sock")
		head := "control = \"off\"\n[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n"
		write := func(sessions ...string) {
			if err := os.WriteFile(file, []byte(head+strings.Join(sessions, "")), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s10 := "[[tunnel.session]]\ntxsession = 10\nifname = \"pf10\"\n"
		s11 := "[[tunnel.session]]\ntxsession = 11\nifname = \"pf11\"\n"
		s12 := "[[tunnel.session]]\ntxsession = 12\nsocket = \"" + sock + "\"\n"
		write(s10)
		// The file is root's, mode 0600: the data path cannot read it;
		// the helper reads it on a reload.
		p := startL2tap(t, a, "-config", file)
		hp := checkSeparated(t, "-config", p, true)

		write(s11, s12)
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitLog(t, p, `SIGHUP: configuration read again added=2 removed=1`, 10*time.Second)
		waitLink(t, a, "pf10", false)
		waitLink(t, a, "pf11", true)
		if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("socket session added by the reload: %v, %v", fi, err)
		}
		checkSeparated(t, "-config after SIGHUP", p, true)

		write(s10)
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitLog(t, p, `SIGHUP: configuration read again added=1 removed=2`, 10*time.Second)
		waitLink(t, a, "pf11", false)
		waitLink(t, a, "pf10", true)
		if _, err := os.Lstat(sock); err == nil {
			t.Errorf("%s left after its session was removed", sock)
		}
		p.stop(t)
		waitLink(t, a, "pf10", false)
		waitGone(t, hp)
	})
}
