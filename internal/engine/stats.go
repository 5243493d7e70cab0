package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Stats holds one session's counters. Every field may be read at any
// time; a field written by several loops (the send loops of a multi-queue
// TAP) is only ever added to atomically.
type Stats struct {
	TxPackets, TxBytes, TxErrors atomic.Uint64
	TxTransient                  atomic.Uint64 // send errors the next send may not repeat
	RxPackets, RxBytes, RxErrors atomic.Uint64
	RxOOS, RxLost                atomic.Uint64 // sequence gaps seen
	RxSeqResyncs                 atomic.Uint64 // the peer's numbering adopted anew (a restart)
	RxSublayerReserved           atomic.Uint64 // packets accepted with sublayer reserved bits set
	TapErrors                    atomic.Uint64 // frames the endpoint refused
	RxCoalesced                  atomic.Uint64 // frames merged into an earlier endpoint write
	TxPeerDown                   atomic.Uint64 // frames read and dropped while the tunnel's peer is down
	TxMSSClamped, RxMSSClamped   atomic.Uint64 // TCP SYNs whose MSS option was lowered (MSSClamp)
	Drops                        [l2tpv3.NumReasons]atomic.Uint64
}

// Counter is one named counter value.
type Counter struct {
	Name  string
	Value uint64
}

// Counters returns a snapshot of every counter in a fixed order: totals,
// then the events of the data path (with the endpoint's superframes and
// offload errors, which it counts itself), then one counter per drop
// reason name.
func (s *Stats) Counters(superframes, offloadErrors uint64) []Counter {
	c := []Counter{
		{"rx_packets", s.RxPackets.Load()},
		{"rx_bytes", s.RxBytes.Load()},
		{"rx_errors", s.RxErrors.Load()},
		{"tx_packets", s.TxPackets.Load()},
		{"tx_bytes", s.TxBytes.Load()},
		{"tx_errors", s.TxErrors.Load()},
		{"tx_transient_errors", s.TxTransient.Load()},
		{"tap_write_errors", s.TapErrors.Load()},
		{"tx_superframes", superframes},
		{"tx_offload_errors", offloadErrors},
		{"rx_coalesced", s.RxCoalesced.Load()},
		{"rx_oos_packets", s.RxOOS.Load()},
		{"rx_lost_packets", s.RxLost.Load()},
		{"rx_seq_resyncs", s.RxSeqResyncs.Load()},
		{"rx_sublayer_reserved", s.RxSublayerReserved.Load()},
		{"tx_peer_down", s.TxPeerDown.Load()},
		{"tx_mss_clamped", s.TxMSSClamped.Load()},
		{"rx_mss_clamped", s.RxMSSClamped.Load()},
	}
	return appendDrops(c, &s.Drops)
}

// appendDrops appends one counter per drop counter name to c, summing the
// reasons that share a name.
func appendDrops(c []Counter, drops *[l2tpv3.NumReasons]atomic.Uint64) []Counter {
	var sums [l2tpv3.NumReasons]uint64
	names := l2tpv3.DropCounters()
	for r := l2tpv3.DropNone + 1; r < l2tpv3.NumReasons; r++ {
		for i, name := range names {
			if name == r.Counter() {
				sums[i] += drops[r].Load()
			}
		}
	}
	for i, name := range names {
		c = append(c, Counter{name, sums[i]})
	}
	return c
}

// Sum adds the counters of b to those of the same name in a, appending
// names a lacks, and returns a.
func Sum(a, b []Counter) []Counter {
	for _, x := range b {
		found := false
		for i := range a {
			if a[i].Name == x.Name {
				a[i].Value += x.Value
				found = true
				break
			}
		}
		if !found {
			a = append(a, x)
		}
	}
	return a
}

// WriteCounters prints counters as "name value", one per line.
func WriteCounters(w io.Writer, c []Counter) {
	for _, x := range c {
		fmt.Fprintf(w, "%s %d\n", x.Name, x.Value)
	}
}

// drop counts a dropped received packet.
func (s *Stats) drop(r l2tpv3.Reason) {
	s.Drops[r].Add(1)
	s.RxErrors.Add(1)
}

// logKey names a kind of log line for rateLimit. The drop reasons come
// first, each its own key; the kinds below follow them.
type logKey uint8

const (
	logReceiveError logKey = logKey(l2tpv3.NumReasons) + iota
	logTAPWrite
	logNoGSO
	logOffloadError
	logSeqResync
	logSublayerReserved
	logSendError // last: send errors use one key per errno class (see sendErrorKey)
)

// rateLimit lets through at most one log line per second per key, and
// counts the lines it held back. It is safe for one goroutine.
type rateLimit struct {
	last       [64]time.Time
	suppressed [64]uint64
}

// allow reports whether a line of kind key may be logged now and, if so,
// how many lines of that kind it held back since the last one.
func (l *rateLimit) allow(key logKey) (held uint64, ok bool) {
	now := time.Now()
	if now.Sub(l.last[key]) < time.Second {
		l.suppressed[key]++
		return 0, false
	}
	held, l.suppressed[key] = l.suppressed[key], 0
	l.last[key] = now
	return held, true
}

// warn writes a rate-limited line through slog.Default at warning level:
// msg, attrs, and count, the lines like it that were held back. Every
// rate-limited line carries count, so that a reader can add them up.
func warn(held uint64, msg string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.Uint64("count", held))
	slog.Default().LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// sendErrorKey spreads send errors over the rate limiter's remaining keys,
// so that one errno flooding the log does not hide another.
func sendErrorKey(e syscall.Errno) logKey {
	return logSendError + logKey(uint(e)%uint(len(rateLimit{}.last)-int(logSendError)))
}
