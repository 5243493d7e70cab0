package main

import (
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Stats holds one pseudowire's counters. Every field may be read at any
// time; a field written by several loops (the send loops of a multi-queue
// TAP) is only ever added to atomically.
type Stats struct {
	TxPackets, TxBytes, TxErrors atomic.Uint64
	TxTransient                  atomic.Uint64 // send errors the next send may not repeat
	RxPackets, RxBytes, RxErrors atomic.Uint64
	RxOOS, RxLost                atomic.Uint64 // sequence gaps seen
	RxSeqResyncs                 atomic.Uint64 // the peer's numbering adopted anew (a restart)
	RxSublayerReserved           atomic.Uint64 // packets accepted with sublayer reserved bits set
	TapErrors                    atomic.Uint64 // frames the TAP refused
	TxSuperframes                atomic.Uint64 // offloaded TAP reads cut into frames
	TxOffloadErrors              atomic.Uint64 // malformed offloaded TAP reads dropped
	RxCoalesced                  atomic.Uint64 // frames merged into an earlier TAP write
	ProcsRaised                  atomic.Uint64 // moves to two Go processors (procGovernor)
	Drops                        [numReasons]atomic.Uint64
}

// Counter is one named counter value.
type Counter struct {
	Name  string
	Value uint64
}

// Counters returns a snapshot of every counter in a fixed order: totals,
// then the events of the data path, then one counter per drop reason name.
func (s *Stats) Counters() []Counter {
	c := []Counter{
		{"rx_packets", s.RxPackets.Load()},
		{"rx_bytes", s.RxBytes.Load()},
		{"rx_errors", s.RxErrors.Load()},
		{"tx_packets", s.TxPackets.Load()},
		{"tx_bytes", s.TxBytes.Load()},
		{"tx_errors", s.TxErrors.Load()},
		{"tx_transient_errors", s.TxTransient.Load()},
		{"tap_write_errors", s.TapErrors.Load()},
		{"tx_superframes", s.TxSuperframes.Load()},
		{"tx_offload_errors", s.TxOffloadErrors.Load()},
		{"rx_coalesced", s.RxCoalesced.Load()},
		{"procs_raised", s.ProcsRaised.Load()},
		{"rx_oos_packets", s.RxOOS.Load()},
		{"rx_lost_packets", s.RxLost.Load()},
		{"rx_seq_resyncs", s.RxSeqResyncs.Load()},
		{"rx_sublayer_reserved", s.RxSublayerReserved.Load()},
	}
	sums := map[string]uint64{}
	for r := DropNone + 1; r < numReasons; r++ {
		sums[r.Counter()] += s.Drops[r].Load()
	}
	for _, name := range l2tpv3.DropCounters() {
		c = append(c, Counter{name, sums[name]})
	}
	return c
}

// Write prints every counter as "name value", one per line.
func (s *Stats) Write(w io.Writer) {
	for _, c := range s.Counters() {
		fmt.Fprintf(w, "%s %d\n", c.Name, c.Value)
	}
}

// drop counts a dropped received packet and logs its reason, rate-limited.
func (s *Stats) drop(r Reason, lim *rateLimit) {
	s.Drops[r].Add(1)
	s.RxErrors.Add(1)
	lim.logf(logKey(r), "drop: %s", r)
}

// logKey names a kind of log line for rateLimit. The drop reasons come
// first, each its own key; the kinds below follow them.
type logKey uint8

const (
	logReceiveError logKey = logKey(numReasons) + iota
	logTAPWrite
	logNoGSO
	logOffloadError
	logSeqResync
	logSublayerReserved
	logSendError // last: send errors use one key per errno class (see sendErrorKey)
)

// rateLimit logs at most one line per second per key, then says how many
// lines it held back. It is safe for one goroutine.
type rateLimit struct {
	last       [64]time.Time
	suppressed [64]uint64
}

func (l *rateLimit) logf(key logKey, format string, args ...any) {
	now := time.Now()
	if now.Sub(l.last[key]) < time.Second {
		l.suppressed[key]++
		return
	}
	if n := l.suppressed[key]; n > 0 {
		format += fmt.Sprintf(" (%d more like it)", n)
		l.suppressed[key] = 0
	}
	l.last[key] = now
	log.Printf(format, args...)
}
