package main

import (
	"os"
	"runtime"
	"time"
)

// The data path is two loops, one per direction, that live in system calls.
// When traffic is one-sided (a bulk transfer and its acknowledgements) the
// light loop gains nothing from a processor of its own: every handful of
// acknowledgements would wake a second thread on another CPU, and the cost
// of those wakeups exceeds the work they do. With one Go processor the light
// loop runs between the heavy loop's batches instead. When both directions
// carry bulk traffic, each loop needs its own CPU. procGovernor switches
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

// procGovernor sets GOMAXPROCS to 1 or 2 from the traffic seen in Stats.
type procGovernor struct {
	stats          *Stats
	lastTx, lastRx uint64
	procs          int // current setting
	calm           int // one-sided intervals in a row
}

// newProcGovernor returns nil where there is nothing to govern: a single
// CPU, GOMAXPROCS set by the user, or several TAP queues, whose loops need
// a processor each.
func newProcGovernor(st *Stats, queues int) *procGovernor {
	if os.Getenv("GOMAXPROCS") != "" || runtime.NumCPU() < 2 || queues > 1 {
		return nil
	}
	runtime.GOMAXPROCS(1)
	return &procGovernor{stats: st, procs: 1}
}

// want returns the processors for an interval that moved tx and rx bytes,
// given the current setting.
func (g *procGovernor) want(tx, rx uint64) int {
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

// run adjusts GOMAXPROCS every interval until stop is closed.
func (g *procGovernor) run(stop <-chan struct{}) {
	t := time.NewTicker(govInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		tx, rx := g.stats.TxBytes.Load(), g.stats.RxBytes.Load()
		n := g.want(tx-g.lastTx, rx-g.lastRx)
		g.lastTx, g.lastRx = tx, rx
		if n != g.procs {
			runtime.GOMAXPROCS(n)
			g.procs = n
			if n > 1 {
				g.stats.ProcsRaised.Add(1)
			}
		}
	}
}
