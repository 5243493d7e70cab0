package control

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// fakeClock is a Clock that moves only when a test advances it; due
// functions run in the test's goroutine, in time order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	seq     int
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock by d, running every function that falls due on
// the way at its time.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		live := c.timers[:0]
		for _, t := range c.timers {
			if !t.stopped {
				live = append(live, t)
			}
		}
		c.timers = live
		sort.Slice(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			return a.at.Before(b.at) || a.at.Equal(b.at) && a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		t.stopped = true
		c.now = t.at
		c.mu.Unlock()
		t.f()
	}
}

// link carries messages one way after a delay, losing a share of them.
type link struct {
	clock   *fakeClock
	delay   time.Duration
	loss    float64
	rng     *rand.Rand
	to      func(msg []byte)
	mu      sync.Mutex
	sent    [][]byte
	times   []time.Time
	dropped int
	down    bool // loses everything
	forget  bool // keeps no copy of what it carried (sent, times stay empty)
}

func (l *link) send(msg []byte) error {
	b := append([]byte(nil), msg...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.forget {
		l.sent = append(l.sent, b)
		l.times = append(l.times, l.clock.Now())
	}
	if l.down || l.rng.Float64() < l.loss {
		l.dropped++
		return nil
	}
	to := l.to
	l.clock.AfterFunc(l.delay, func() {
		if to != nil {
			to(b)
		}
	})
	return nil
}

func (l *link) messages() ([][]byte, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.sent...), append([]time.Time(nil), l.times...)
}
