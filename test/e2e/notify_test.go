//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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
	// Each message is stamped by the kernel as it is sent (SO_TIMESTAMP),
	// so that the reader's own delays on a busy host do not change the
	// intervals measured.
	if err := setTimestamps(l); err != nil {
		t.Fatal(err)
	}

	type msg struct {
		text  string
		at    time.Time
		tapUp bool // the TAP existed when the message arrived
	}
	msgs := make(chan msg, 1024)
	go func() {
		buf := make([]byte, 4096)
		oob := make([]byte, unix.CmsgSpace(64))
		for {
			k, oobn, _, _, err := l.ReadMsgUnix(buf, oob)
			if err != nil {
				close(msgs)
				return
			}
			m := msg{text: string(buf[:k]), at: sentAt(oob[:oobn])}
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
		if m.at.IsZero() {
			t.Fatal("a WATCHDOG=1 without its SO_TIMESTAMP")
		}
		pings = append(pings, m.at)
	}
	// Ten intervals of 100 ms (half of WATCHDOG_USEC), as sent. l2tap's
	// ticker keeps its schedule, so a busy host that holds l2tap back
	// makes one interval longer and the next shorter: their median is
	// still 100 ms, where a ticker at WATCHDOG_USEC gives 200 ms and one
	// at a quarter of it 50 ms.
	var intervals []time.Duration
	for i := 1; i < len(pings); i++ {
		intervals = append(intervals, pings[i].Sub(pings[i-1]))
	}
	slices.Sort(intervals)
	med := intervals[len(intervals)/2]
	if med < 75*time.Millisecond || med > 150*time.Millisecond {
		t.Errorf("WATCHDOG=1 intervals %v: median %v, want about 100ms", intervals, med)
	}
	t.Logf("WATCHDOG=1 intervals from %v to %v, median %v", intervals[0], intervals[len(intervals)-1], med)
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

// setTimestamps has the kernel stamp each datagram l receives with the
// time it was sent (SO_TIMESTAMP).
func setTimestamps(l *net.UnixConn) error {
	rc, err := l.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMP, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_TIMESTAMP on the notify socket: %w", serr)
	}
	return nil
}

// sentAt is the kernel's timestamp in a datagram's control messages (see
// setTimestamps), or the zero time if it has none.
func sentAt(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMP && len(m.Data) >= int(unsafe.Sizeof(unix.Timeval{})) {
			tv := (*unix.Timeval)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(tv.Unix())
		}
	}
	return time.Time{}
}
