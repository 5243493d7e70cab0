//go:build linux

package sdnotify

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// TestWatchdogInterval checks which environment asks for WATCHDOG=1 and
// how often: half of WATCHDOG_USEC, only for the process WATCHDOG_PID
// names (or any, unset).
func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		bad       bool
	}{
		{"", "", 0, false},
		{"", "42", 0, false},
		{"200000", "", 100 * time.Millisecond, false},
		{"30000000", "42", 15 * time.Second, false},
		{"30000000", "43", 0, false},
		{"0", "", 0, true},
		{"-5", "", 0, true},
		{"soon", "42", 0, true},
	} {
		got, err := watchdogInterval(c.usec, c.pid, 42)
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, %v; want %v, error %v", c.usec, c.pid, got, err, c.want, c.bad)
		}
	}
}

// TestNotifierAbstract checks that a NOTIFY_SOCKET starting with @ names
// an abstract socket, and that STATUS= is sent only when it changes.
func TestNotifierAbstract(t *testing.T) {
	name := fmt.Sprintf("@l2tap-notify-test-%d", os.Getpid())
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	t.Setenv("WATCHDOG_USEC", "")
	n, err := Open()
	if err != nil || n == nil {
		t.Fatalf("Open: %v, %v", n, err)
	}
	defer n.Close()
	n.Send("READY=1")
	n.Status("1 sessions")
	n.Status("1 sessions")
	n.Status("2 sessions")
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for _, want := range []string{"READY=1", "STATUS=1 sessions", "STATUS=2 sessions"} {
		k, err := l.Read(buf)
		if err != nil || string(buf[:k]) != want {
			t.Fatalf("got %q, %v; want %q", buf[:k], err, want)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if n, err := Open(); n != nil || err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v, %v; want nothing", n, err)
	}
}
