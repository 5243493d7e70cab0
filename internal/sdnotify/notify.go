// Package sdnotify speaks systemd's notification protocol (sd_notify(3))
// for a Type=notify unit: datagrams of "KEY=VALUE" lines to
// $NOTIFY_SOCKET, and the watchdog interval $WATCHDOG_USEC and
// $WATCHDOG_PID ask for.
//
// It owns the socket (connected once, at Open, so that sending needs only
// write(2), which a seccomp filter may allow where connect is forbidden),
// the watchdog's period (half the timeout systemd gave), and sending
// STATUS= only when the line changed. It never decides what to say or
// when: the daemon sends READY=1, STOPPING=1 and WATCHDOG=1 at the moments
// it chooses, and writes the status line itself. It never fails the
// process: a send that fails is logged, and systemd acts on what it misses
// (a unit never ready, a watchdog expired).
package sdnotify

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier speaks systemd's notification protocol (sd_notify(3)) for a
// Type=notify unit: datagrams of "KEY=VALUE" lines to $NOTIFY_SOCKET. The
// socket is connected during setup, so that sending needs only write(2),
// which the seccomp filter allows. A nil *Notifier sends nothing.
type Notifier struct {
	conn *net.UnixConn
	// watchdog is the interval between WATCHDOG=1 messages: half of
	// $WATCHDOG_USEC, or 0 without a watchdog for this process.
	watchdog time.Duration
	last     string // the last STATUS= sent
}

// Open connects to $NOTIFY_SOCKET (a path, or an abstract name
// starting with @) and reads $WATCHDOG_USEC, which applies when
// $WATCHDOG_PID is unset or names this process. It returns nil, nil
// when l2tap was not started by systemd with Type=notify.
func Open() (*Notifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	// Go's sockaddr turns a leading @ into the abstract namespace's NUL.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET %s: %w", path, err)
	}
	n := &Notifier{conn: conn}
	if n.watchdog, err = watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid()); err != nil {
		slog.Warn("no watchdog", "err", err)
	}
	return n, nil
}

// watchdogInterval returns half the watchdog timeout usec (microseconds),
// or 0 when usec is empty or pid, if set, is not self.
func watchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" || (pid != "" && pid != strconv.Itoa(self)) {
		return 0, nil
	}
	v, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || v == 0 || v > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0, fmt.Errorf("WATCHDOG_USEC %q: want a positive number of microseconds", usec)
	}
	return time.Duration(v) * time.Microsecond / 2, nil
}

// Send sends one notification, such as "READY=1" or "WATCHDOG=1". A
// failure is logged, not fatal: systemd acts on what it misses (a unit
// never ready, a watchdog expired).
func (n *Notifier) Send(state string) {
	if n == nil {
		return
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		slog.Warn("systemd notification not sent", "err", err)
	}
}

// Status sends STATUS=line when it differs from the last one sent.
func (n *Notifier) Status(line string) {
	if n == nil || line == n.last {
		return
	}
	n.last = line
	n.Send("STATUS=" + line)
}

// WatchdogTicker ticks when WATCHDOG=1 is due (see Ticker).
func (n *Notifier) WatchdogTicker() (<-chan time.Time, func()) {
	if n == nil {
		return nil, func() {}
	}
	return n.Ticker(n.watchdog)
}

// Ticker returns a channel ticking every d, and its stop function; a nil
// channel (never ready) for a nil Notifier or d of 0.
func (n *Notifier) Ticker(d time.Duration) (<-chan time.Time, func()) {
	if n == nil || d == 0 {
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Close closes the socket.
func (n *Notifier) Close() {
	if n != nil {
		n.conn.Close()
	}
}
