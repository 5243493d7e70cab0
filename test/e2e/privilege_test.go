//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/sandbox"

	"github.com/l2tap/l2tap/internal/daemon"
)

// threadStatus returns the fields named in keys from /proc/PID/status and
// from the status of every thread of pid, keyed by the file read.
func threadStatus(t *testing.T, pid int, keys ...string) map[string]map[string]string {
	t.Helper()
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(files) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	files = append(files, fmt.Sprintf("/proc/%d/status", pid))
	all := map[string]map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && slices.Contains(keys, k) {
				fields[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		all[f] = fields
	}
	return all
}

// checkStatus fails the test unless every thread of pid has each field of
// want as given.
func checkStatus(t *testing.T, who string, pid int, want map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for f, got := range threadStatus(t, pid, keys...) {
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %s: %s %q, want %q", who, f, k, got[k], w)
			}
		}
	}
}

// dropped is the status of a thread that holds no capability and runs
// under no_new_privs and a seccomp filter.
func dropped() map[string]string {
	return map[string]string{
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	}
}

// lookupUser is the account named name in the user database, with its
// primary group.
func lookupUser(name string) (*sandbox.Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return &sandbox.Account{Name: name, UID: uid, GID: gid}, nil
}

// defaultAccount is the account l2tap started as root without -user runs
// as: the first of daemon.DefaultUsers the host has.
func defaultAccount(t *testing.T) *sandbox.Account {
	t.Helper()
	for _, name := range daemon.DefaultUsers {
		if a, err := lookupUser(name); err == nil {
			return a
		}
	}
	t.Fatalf("the host has none of %v", daemon.DefaultUsers)
	return nil
}

// idStatus is the Uid or Gid line of /proc/PID/status of a process whose
// real, effective, saved and filesystem IDs are all id.
func idStatus(id int) string { return strings.Repeat(strconv.Itoa(id)+" ", 3) + strconv.Itoa(id) }

// statusWith returns a copy of m with the pairs kv set.
func statusWith(m map[string]string, kv ...string) map[string]string {
	m = maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestLeastPrivilege runs the ping matrix (both ways, IPv4 and IPv6
// overlay) over every underlay with one l2tap started as root without
// -user (so running as the default account) and the other switched with
// -user nobody, and reads every thread's status while they run: no
// capability in any set, no_new_privs, the seccomp filter, and the uid
// and gid asked for. The status is read after the pings, so threads
// the runtime started for the traffic are included.
func TestLeastPrivilege(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: it reads the threads' credentials, which load
	// does not change; no time bound.
	t.Parallel()
	for _, e := range encaps {
		t.Run(e.name, func(t *testing.T) {
			flags := []string{"-txsession", "1"}
			a, b, pa, pb := pseudowire(t, "lp", "lp0", slices.Concat(e.a, flags), slices.Concat(e.b, flags, []string{"-user", "nobody"}))
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			pingAll(t,
				pingCheck{a, "10.1.0.2", 56}, pingCheck{b, "10.1.0.1", 56},
				pingCheck{a, "fd00::2", 1200}, pingCheck{b, "fd00::1", 1200},
			)
			def := defaultAccount(t)
			checkStatus(t, "l2tap without -user", pa.cmd.Process.Pid, statusWith(dropped(), "Uid", idStatus(def.UID), "Gid", idStatus(def.GID), "Groups", ""))
			checkStatus(t, "l2tap -user nobody", pb.cmd.Process.Pid,
				statusWith(dropped(), "Uid", "65534 65534 65534 65534", "Gid", "65534 65534 65534 65534", "Groups", ""))
			for side, c := range map[string]map[string]uint64{"a": pa.stop(t), "b": pb.stop(t)} {
				if c["rx_packets"] < 12 || c["rx_errors"] != 0 || c["tx_errors"] != 0 {
					t.Errorf("side %s counters: %v", side, c)
				}
			}
		})
	}
}

// TestLeastPrivilegeAttach checks -attach with -user nobody: the data
// path keeps no capability, and the privileged helper gives the TAP its
// MTU and down state back on exit.
func TestLeastPrivilegeAttach(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	a, b := vethPair(t, "la")
	a.ip(t, "tuntap", "add", "dev", "la0", "mode", "tap")
	a.ip(t, "link", "set", "la0", "mtu", "1280")
	flags := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txsession", "1", "-ifname", "la0", "-mtu", "1400"}
	pa := startL2tap(t, a, append([]string{"-attach", "-user", "nobody", "-src", "192.0.2.1", "-dst", "192.0.2.2"}, flags...)...)
	pb := startL2tap(t, b, append([]string{"-src", "192.0.2.2", "-dst", "192.0.2.1"}, flags...)...)
	overlay(t, a, b, "la0")
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkStatus(t, "l2tap -attach -user nobody", pa.cmd.Process.Pid,
		statusWith(dropped(), "Uid", "65534 65534 65534 65534"))
	pa.stop(t)
	pb.stop(t)
	if got := tapMTU(t, a, "la0"); got != 1280 {
		t.Errorf("attached TAP MTU %d after exit, want 1280 restored", got)
	}
	if out := a.ip(t, "link", "show", "la0"); strings.Contains(out, ",UP") {
		t.Errorf("attached TAP left up, want it down as found: %s", out)
	}
}

// TestLeastPrivilegeFewCaps starts l2tap as root with only CAP_NET_ADMIN
// and CAP_NET_RAW, as a service manager might: it drops both, and leaves
// the bounding set (emptying it takes CAP_SETPCAP), saying so.
func TestLeastPrivilegeFewCaps(t *testing.T) {
	requireTools(t, true, "ip", "setpriv")
	a, _ := vethPair(t, "lf")
	p := startWrapped(t, a, []string{"setpriv", "--bounding-set=-all,+net_admin,+net_raw", "--inh-caps=-all"},
		"-ifname", "lf0", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1")
	checkStatus(t, "l2tap with CAP_NET_ADMIN and CAP_NET_RAW", p.cmd.Process.Pid, statusWith(dropped(), "CapBnd", "0000000000003000"))
	if !strings.Contains(p.stderr.String(), "bounding set left as it is") {
		t.Errorf("no note about the bounding set in:\n%s", p.stderr.String())
	}
	p.stop(t)
}

// TestUnknownUser checks -user with a name the host lacks: one line naming
// flag and value, exit code 2, and no TAP created.
func TestUnknownUser(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "lu")
	runBad(t, a, []string{"-ifname", "lu0", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1", "-user", "no-such-user-here"},
		"-user no-such-user-here")
	if _, err := a.cmd("ip", "link", "show", "lu0").CombinedOutput(); err == nil {
		t.Error("TAP lu0 created although -user was refused")
	}
}

// TestSeccompKills uses the test hook L2TAP_TEST_FORBIDDEN_SYSCALL, which
// makes l2tap open "/" right after setup: under the filter the kernel
// answers with SIGSYS and l2tap dies before its ready line, with a report
// naming the call; with -seccomp=off the open succeeds and l2tap carries
// on until stopped.
func TestSeccompKills(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "sk")
	args := []string{"-ifname", "sk0", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}

	t.Run("on", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", string(a), l2tapBinary(t)}, args...)...)
		cmd.Env = append(os.Environ(), "L2TAP_TEST_FORBIDDEN_SYSCALL=1")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("want l2tap killed by the filter, got %v (timeout: %v)\n%s", err, ctx.Err(), out)
		}
		// The runtime reports the signal, that seccomp sent it (code 1,
		// SYS_SECCOMP), and the call in the trace; then exits with 2.
		for _, want := range []string{"SIGSYS: bad system call", "sigcode=1", "syscall.openat", "daemon.forbiddenCall"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(string(out), "l2tap: ready") {
			t.Errorf("l2tap got to ready past the forbidden call:\n%s", out)
		}
		if _, err := a.cmd("ip", "link", "show", "sk0").CombinedOutput(); err == nil {
			t.Error("TAP sk0 left behind")
		}
	})

	t.Run("off", func(t *testing.T) {
		t.Setenv("L2TAP_TEST_FORBIDDEN_SYSCALL", "1")
		p := startL2tap(t, a, append(args, "-seccomp=off")...)
		if !strings.Contains(p.stderr.String(), "openat after setup result=allowed") {
			t.Errorf("test hook did not report its open:\n%s", p.stderr.String())
		}
		checkStatus(t, "l2tap -seccomp=off", p.cmd.Process.Pid, statusWith(dropped(), "Seccomp", "0"))
		if c := p.stop(t); len(c) < 10 {
			t.Errorf("no counters on exit: %q", p.stdout.String())
		}
	})
}
