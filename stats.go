package main

import (
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"time"
)

// Reason says why a packet was dropped. Each reason has its own counter.
type Reason uint8

const (
	DropNone      Reason = iota
	DropShort            // shorter than its headers plus an Ethernet header
	DropVersion          // UDP T/Ver word is not L2TPv3 data
	DropControl          // a control message (T bit, or session 0 over IP)
	DropSession          // session ID is not the receive session
	DropCookie           // cookie differs from the receive cookie
	DropSublayer         // sublayer reserved bits set: the peer sends no sublayer?
	DropSequence         // out of order with -seqcheck
	DropTruncated        // larger than the receive buffer
	DropSource           // not from the configured peer address and port
	numReasons
)

// reasonCounters names each drop reason's counter, as printed.
var reasonCounters = [numReasons]string{
	DropNone:      "",
	DropShort:     "rx_invalid",
	DropVersion:   "rx_invalid",
	DropControl:   "rx_control",
	DropSession:   "rx_session_mismatch",
	DropCookie:    "rx_cookie_discards",
	DropSublayer:  "rx_sublayer_errors",
	DropSequence:  "rx_seq_discards",
	DropTruncated: "rx_truncated",
	DropSource:    "rx_wrong_source",
}

var reasonText = [numReasons]string{
	DropShort:     "packet too short",
	DropVersion:   "not an L2TPv3 data packet (T/Ver word)",
	DropControl:   "L2TP control message ignored (static pseudowire)",
	DropSession:   "session ID mismatch: check -rxsession against the peer's transmit session",
	DropCookie:    "cookie mismatch: check -rxcookie and -cookie64 against the peer's transmit cookie",
	DropSublayer:  "sublayer reserved bits set: the peer seems to send no sublayer; check -counter/-pincounter against the peer's l2spec_type",
	DropSequence:  "out-of-order packet dropped (-seqcheck)",
	DropTruncated: "packet larger than the receive buffer",
	DropSource:    "packet from an address other than -dst/-dstport",
}

func (r Reason) String() string { return reasonText[r] }

// Stats holds one pseudowire's counters. Each field is written by one
// goroutine and may be read at any time.
type Stats struct {
	TxPackets, TxBytes, TxErrors atomic.Uint64
	TxTransient                  atomic.Uint64 // send errors the next send may not repeat
	RxPackets, RxBytes, RxErrors atomic.Uint64
	RxOOS, RxLost                atomic.Uint64 // sequence gaps seen
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

// Counters returns a snapshot of every counter in a fixed order.
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
	}
	sums := map[string]uint64{}
	var order []string
	for r := DropShort; r < numReasons; r++ {
		name := reasonCounters[r]
		if _, ok := sums[name]; !ok {
			order = append(order, name)
		}
		sums[name] += s.Drops[r].Load()
	}
	for _, name := range order {
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
	lim.logf(int(r), "drop: %s", r)
}

// rateLimit logs at most one line per second per key, then says how many
// lines it held back. Keys are small integers; it is safe for one goroutine.
type rateLimit struct {
	last       [32]time.Time
	suppressed [32]uint64
}

func (l *rateLimit) logf(key int, format string, args ...any) {
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
