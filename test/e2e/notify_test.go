//go:build linux

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNotify runs l2tap under the default seccomp filter as systemd would
// for Type=notify with WatchdogSec: NOTIFY_SOCKET names a datagram socket
// the test reads, WATCHDOG_USEC is 200 ms and WATCHDOG_PID is l2tap's own
// pid. READY=1 must come once the TAP exists, then STATUS= with the
// summary, then WATCHDOG=1 every 100 ms or so, and STOPPING=1 on SIGTERM.
func TestNotify(t *testing.T) {
	requireTools(t, true, "ip", "sh")
	a, _ := vethPair(t, "ntf")
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	type msg struct {
		text  string
		at    time.Time
		tapUp bool // the TAP existed when the message arrived
	}
	msgs := make(chan msg, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := l.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			m := msg{text: string(buf[:k]), at: time.Now()}
			if strings.Contains(m.text, "READY=1") {
				m.tapUp = a.cmd("ip", "link", "show", "dev", "ntf0").Run() == nil
			}
			msgs <- m
		}
	}()

	// ip netns exec execs sh, which execs l2tap: all three are one pid,
	// which the shell passes as WATCHDOG_PID as systemd does.
	wrapper := []string{"env", "NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000",
		"sh", "-c", `export WATCHDOG_PID=$$; exec "$0" "$@"`}
	p := startWrapped(t, a, wrapper, "-udp", "-src", "192.0.2.1", "-dst", "192.0.2.2",
		"-srcport", "1701", "-dstport", "1701", "-txsession", "1", "-ifname", "ntf0")

	next := func(what string) msg {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("socket closed waiting for %s", what)
			}
			return m
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5s\n%s", what, p.stderr.String())
		}
		return msg{}
	}
	if m := next("READY=1"); m.text != "READY=1" || !m.tapUp {
		t.Fatalf("first message %q, TAP up %v; want READY=1 with the TAP up", m.text, m.tapUp)
	}
	status := regexp.MustCompile(`^STATUS=1 sessions, rx \d+ pkts, tx \d+ pkts, drops \d+$`)
	if m := next("STATUS="); !status.MatchString(m.text) {
		t.Fatalf("second message %q, want %s", m.text, status)
	}
	var pings []time.Time
	for len(pings) < 11 {
		m := next("WATCHDOG=1")
		if m.text != "WATCHDOG=1" {
			if strings.HasPrefix(m.text, "STATUS=") {
				continue
			}
			t.Fatalf("unexpected %q while waiting for WATCHDOG=1", m.text)
		}
		pings = append(pings, m.at)
	}
	// Ten intervals of 100 ms, stamped as the test reads them: a reader
	// the host's load holds back reads several at once, so the lower bound
	// is loose (an interval of a tenth would give 0.1 s); the upper one is
	// far below what a watchdog of 200 ms given whole would take (2 s).
	if d := pings[10].Sub(pings[0]); d < 500*time.Millisecond || d > 1800*time.Millisecond {
		t.Errorf("11 WATCHDOG=1 over %v, want about 1s (every 100ms)", d)
	}
	if !strings.Contains(p.stderr.String(), "l2tap: ready tap=ntf0") {
		t.Errorf("no ready line:\n%s", p.stderr.String())
	}
	pid := strconv.Itoa(p.cmd.Process.Pid)
	if env, err := os.ReadFile("/proc/" + pid + "/environ"); err != nil || !strings.Contains(string(env), "WATCHDOG_PID="+pid+"\x00") {
		t.Errorf("l2tap (pid %s) does not have WATCHDOG_PID=%s: %v", pid, pid, err)
	}
	p.stop(t)
	for {
		m := next("STOPPING=1")
		if m.text == "STOPPING=1" {
			break
		}
	}
}
