package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// statusEvery is how often the STATUS= summary is checked and, when it
// changed, sent again.
const statusEvery = 10 * time.Second

// notifier speaks systemd's notification protocol (sd_notify(3)) for a
// Type=notify unit: datagrams of "KEY=VALUE" lines to $NOTIFY_SOCKET. The
// socket is connected during setup, so that sending needs only write(2),
// which the seccomp filter allows. A nil *notifier sends nothing.
type notifier struct {
	conn *net.UnixConn
	// watchdog is the interval between WATCHDOG=1 messages: half of
	// $WATCHDOG_USEC, or 0 without a watchdog for this process.
	watchdog time.Duration
	last     string // the last STATUS= sent
}

// openNotifier connects to $NOTIFY_SOCKET (a path, or an abstract name
// starting with @) and reads $WATCHDOG_USEC, which applies when
// $WATCHDOG_PID is unset or names this process. It returns nil, nil
// when l2tap was not started by systemd with Type=notify.
func openNotifier() (*notifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	// Go's sockaddr turns a leading @ into the abstract namespace's NUL.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET %s: %w", path, err)
	}
	n := &notifier{conn: conn}
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

// send sends one notification, such as "READY=1" or "WATCHDOG=1". A
// failure is logged, not fatal: systemd acts on what it misses (a unit
// never ready, a watchdog expired).
func (n *notifier) send(state string) {
	if n == nil {
		return
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		slog.Warn("systemd notification not sent", "err", err)
	}
}

// status sends STATUS=line when it differs from the last one sent.
func (n *notifier) status(line string) {
	if n == nil || line == n.last {
		return
	}
	n.last = line
	n.send("STATUS=" + line)
}

// watchdogTicker ticks when WATCHDOG=1 is due (see ticker).
func (n *notifier) watchdogTicker() (<-chan time.Time, func()) {
	if n == nil {
		return nil, func() {}
	}
	return n.ticker(n.watchdog)
}

// ticker returns a channel ticking every d, and its stop function; a nil
// channel (never ready) for a nil notifier or d of 0.
func (n *notifier) ticker(d time.Duration) (<-chan time.Time, func()) {
	if n == nil || d == 0 {
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// close closes the socket.
func (n *notifier) close() {
	if n != nil {
		n.conn.Close()
	}
}

// statusLine summarises the process for systemctl status: "N sessions,
// rx X pkts, tx Y pkts, drops Z", the sessions running and the totals
// (drops: every received packet dropped with a reason).
func (p *process) statusLine() string {
	p.mu.Lock()
	n := 0
	for _, l := range p.live {
		if !l.failed {
			n++
		}
	}
	p.mu.Unlock()
	drop := map[string]bool{}
	for _, name := range l2tpv3.DropCounters() {
		drop[name] = true
	}
	var rx, tx, drops uint64
	for _, c := range p.totals() {
		switch {
		case c.Name == "rx_packets":
			rx = c.Value
		case c.Name == "tx_packets":
			tx = c.Value
		case drop[c.Name]:
			drops += c.Value
		}
	}
	return fmt.Sprintf("%d sessions, rx %d pkts, tx %d pkts, drops %d", n, rx, tx, drops)
}
