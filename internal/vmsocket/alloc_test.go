//go:build linux

package vmsocket

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/testalloc"
)

// roundTrip sets up a stream socket with a client that echoes nothing but
// reads: step sends a burst of 32 frames of size bytes from the client
// through ReadLoop, and Writes 32 frames back, read by the client.
func roundTrip(t testing.TB, typ Type, size int) (step func()) {
	s := listen(t, typ)
	cnt := testalloc.Count(t, s, 512<<10+headroom+MaxFrame, headroom, 512)
	var frames [][]byte
	for i := range 32 {
		frames = append(frames, testFrame(i, size))
	}
	var conn *net.UnixConn
	if typ == Stream {
		conn = dial(t, s)
	} else {
		conn = vmDgram(t, s, "vm-end.sock")
	}
	burst := framed(frames...)
	sink := make([]byte, len(burst)+MaxFrame)
	total := int64(0)
	return func() {
		if typ == Stream {
			conn.Write(burst)
		} else {
			for _, f := range frames {
				conn.Write(f)
			}
		}
		total += int64(len(frames))
		if !cnt.Await(total, 10*time.Second) {
			t.Fatalf("%d frames of %d read", cnt.Frames(), total)
		}
		n, _, _, err := s.Write(frames)
		if n != len(frames) || err != nil {
			t.Fatalf("Write %d of %d: %v", n, len(frames), err)
		}
		if typ == Stream {
			io.ReadFull(conn, sink[:len(burst)])
		} else {
			for range frames {
				conn.Read(sink)
			}
		}
	}
}

// TestLoopAllocs: in steady state, reading a burst of frames through
// ReadLoop and writing a batch back allocates nothing, on either type.
func TestLoopAllocs(t *testing.T) {
	for _, typ := range []Type{Stream, Dgram} {
		step := roundTrip(t, typ, 1500)
		step() // the first client is adopted: that allocates once
		if a := testing.AllocsPerRun(100, step); a != 0 {
			t.Errorf("%v: %v allocations per 32 frames each way, want 0", typ, a)
		}
	}
}

// BenchmarkStream moves 32 frames of 1500 bytes each way per op through a
// stream socket; run with -benchmem: 0 allocs/op.
func BenchmarkStream(b *testing.B) { benchRoundTrip(b, Stream) }

// BenchmarkDgram is BenchmarkStream over a datagram socket.
func BenchmarkDgram(b *testing.B) { benchRoundTrip(b, Dgram) }

func benchRoundTrip(b *testing.B, typ Type) {
	step := roundTrip(b, typ, 1500)
	step()
	b.SetBytes(2 * 32 * 1500)
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}
