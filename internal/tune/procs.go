// Package tune fits the process to the data path's work: its threads'
// scheduling policy (SCHED_BATCH) and the number of Go processors, one for
// one-sided traffic and two when both directions carry bulk.
package tune

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// The data path is two loops, one per direction, that live in system calls.
// When traffic is one-sided (a bulk transfer and its acknowledgements) the
// light loop gains nothing from a processor of its own: every handful of
// acknowledgements would wake a second thread on another CPU, and the cost
// of those wakeups exceeds the work they do. With one Go processor the light
// loop runs between the heavy loop's batches instead. When both directions
// carry bulk traffic, each loop needs its own CPU. Governor switches
// between the two by watching the byte counters.

const (
	govInterval = 250 * time.Millisecond
	// govBulk is the bytes per interval (256 Mbit/s) below which a
	// direction is not bulk traffic.
	govBulk = 8 << 20
	// govCalm is how many one-sided intervals in a row it takes to go back
	// to one processor, so that a brief lull does not flap.
	govCalm = 4
)

// Governor sets GOMAXPROCS to 1 or 2 from the traffic that bytes reports:
// the bytes sent and received so far.
type Governor struct {
	bytes          func() (tx, rx uint64)
	lastTx, lastRx uint64
	// Raised counts moves to two processors.
	Raised atomic.Uint64
	procs  int // current setting
	calm   int // one-sided intervals in a row
}

// NewGovernor returns nil where there is nothing to govern: a single CPU,
// GOMAXPROCS set by the user, or more than two loops (several sessions or
// TAP queues), which need a processor each.
func NewGovernor(loops int, bytes func() (tx, rx uint64)) *Governor {
	if os.Getenv("GOMAXPROCS") != "" || runtime.NumCPU() < 2 || loops > 2 {
		return nil
	}
	runtime.GOMAXPROCS(1)
	return &Governor{bytes: bytes, procs: 1}
}

// want returns the processors for an interval that moved tx and rx bytes,
// given the current setting.
func (g *Governor) want(tx, rx uint64) int {
	lo, hi := min(tx, rx), max(tx, rx)
	if lo >= govBulk && lo*4 >= hi {
		g.calm = 0
		return 2
	}
	if g.procs == 1 {
		return 1
	}
	g.calm++
	if g.calm >= govCalm {
		g.calm = 0
		return 1
	}
	return g.procs
}

// Run adjusts GOMAXPROCS every interval until stop is closed.
func (g *Governor) Run(stop <-chan struct{}) {
	t := time.NewTicker(govInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		tx, rx := g.bytes()
		n := g.want(tx-g.lastTx, rx-g.lastRx)
		g.lastTx, g.lastRx = tx, rx
		if n != g.procs {
			runtime.GOMAXPROCS(n)
			g.procs = n
			if n > 1 {
				g.Raised.Add(1)
			}
		}
	}
}
