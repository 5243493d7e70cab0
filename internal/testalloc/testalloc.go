// Package testalloc is test support for the tests of what allocates and
// what stays allocated. For the endpoints' zero-allocation loop tests
// (internal/vmsocket's and internal/vhostuser's TestLoopAllocs and their
// benchmarks), Count runs an endpoint's ReadLoop in the background with a
// consumer that allocates nothing and counts the frames it is handed, so
// that a test's step can send frames in, wait until the loop has read them
// and measure its allocations with testing.AllocsPerRun. For the churn
// tests (sessions or connections made and ended hundreds of times),
// LiveHeap and HeapGrowth measure what stays reachable. Only tests import
// it.
package testalloc

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// Reader is the part of an endpoint (engine.Endpoint) that Count drives:
// ReadLoop reads queue q until Close ends it.
type Reader interface {
	ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error
	Close() error
}

// Counter counts the frames ReadLoop handed its consumer.
type Counter struct {
	frames atomic.Int64
	token  chan struct{} // one token left after each batch, to wake Await
	timer  *time.Timer   // Await's limit, reset each call: no allocation
}

// Count runs r.ReadLoop on queue 0 with an arena of arenaLen bytes, the
// given headroom and batches of up to batch frames, until the test ends:
// then it closes r and fails t if ReadLoop has not returned within 10 s.
// The consumer allocates nothing.
func Count(t testing.TB, r Reader, arenaLen, headroom, batch int) *Counter {
	t.Helper()
	c := &Counter{token: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	arena := make([]byte, arenaLen)
	pkts := make([][]byte, batch)
	done := make(chan error, 1)
	send := func(p [][]byte) error {
		c.frames.Add(int64(len(p)))
		select {
		case c.token <- struct{}{}:
		default:
		}
		return nil
	}
	go func() { done <- r.ReadLoop(0, arena, headroom, pkts, send, func(error) {}) }()
	t.Cleanup(func() {
		r.Close()
		c.timer.Stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("ReadLoop did not end")
		}
	})
	return c
}

// Frames is the number of frames read so far.
func (c *Counter) Frames() int64 { return c.frames.Load() }

// Await waits until at least total frames have been read, or for at most
// limit; it reports whether they were. It allocates nothing.
func (c *Counter) Await(total int64, limit time.Duration) bool {
	c.timer.Reset(limit)
	for c.frames.Load() < total {
		select {
		case <-c.token:
		case <-c.timer.C:
			return c.frames.Load() >= total
		}
	}
	return true
}

// LiveHeap returns the bytes of live heap objects after a collection.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second also frees what finalizers of the first released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// HeapGrowth runs round(i) for i from 0 to rounds-1 and returns how much
// the live heap grew between the end of the first round and the end of the
// last (0 if it shrank), which it logs.
func HeapGrowth(t testing.TB, rounds int, round func(i int)) uint64 {
	t.Helper()
	round(0)
	first := LiveHeap()
	for i := 1; i < rounds; i++ {
		round(i)
	}
	last := LiveHeap()
	t.Logf("live heap after round 1: %d KiB; after round %d: %d KiB (%+d KiB)", first>>10, rounds, last>>10, (int64(last)-int64(first))>>10)
	if last < first {
		return 0
	}
	return last - first
}
