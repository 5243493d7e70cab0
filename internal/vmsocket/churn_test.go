//go:build linux

package vmsocket

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/testalloc"
)

// openFDs counts the test process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestReconnectChurn: a VM that connects, exchanges a frame each way and
// goes, 500 times, on each socket type (a dgram VM with a new socket file
// of its own each time, as a restarted QEMU binds anew). Afterwards the
// live heap after a collection must be within 1 MiB of where it was after
// the first round (within 64 KiB in fact: what a connection leaves behind
// if kept, its client and descriptor state, is a few hundred bytes, which
// 500 rounds under 1 MiB would not show), and the descriptors and
// goroutines as many: nothing of a VM that left is kept.
func TestReconnectChurn(t *testing.T) {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // two lines per connection
	t.Cleanup(func() { slog.SetDefault(old) })
	const rounds = 500
	for _, typ := range []Type{Stream, Dgram} {
		t.Run(typ.String(), func(t *testing.T) {
			s := listen(t, typ)
			cnt := testalloc.Count(t, s, 512<<10+headroom+MaxFrame, headroom, 512)
			in, out := testFrame(1, 1514), [][]byte{testFrame(2, 1514)}
			burst := framed(in)
			sink := make([]byte, 2*len(burst))
			round := func(i int) {
				var c *net.UnixConn
				var err error
				if typ == Stream {
					c, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: s.Name(), Net: "unix"})
				} else {
					// The VM's socket file is its own; a name per round, as
					// the VM's address is what changes when QEMU restarts.
					local := &net.UnixAddr{Name: fmt.Sprintf("%s.vm%d", s.Name(), i), Net: "unixgram"}
					c, err = net.DialUnix("unixgram", local, &net.UnixAddr{Name: s.Name(), Net: "unixgram"})
					defer os.Remove(local.Name)
				}
				if err != nil {
					t.Fatalf("round %d: connect: %v", i, err)
				}
				defer c.Close()
				want := cnt.Frames() + 1
				if typ == Stream {
					_, err = c.Write(burst)
				} else {
					_, err = c.Write(in)
				}
				if err != nil {
					t.Fatalf("round %d: send: %v", i, err)
				}
				if !cnt.Await(want, 5*time.Second) {
					t.Fatalf("round %d: the VM's frame did not arrive within 5 s", i)
				}
				// Once its frame came, the VM is served: a write reaches it.
				if n, _, _, err := s.Write(out); n != 1 || err != nil {
					t.Fatalf("round %d: Write %d, %v", i, n, err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if typ == Stream {
					_, err = io.ReadFull(c, sink[:4+len(out[0])])
				} else {
					_, err = c.Read(sink)
				}
				if err != nil {
					t.Fatalf("round %d: the VM read nothing back: %v", i, err)
				}
				if typ == Stream {
					c.Close()
					// Until the loop sees it go, a write may still reach it.
					for end := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
						if _, _, _, err := s.Write(out); errors.Is(err, ErrNoClient) {
							break
						}
						if time.Now().After(end) {
							t.Fatalf("round %d: the socket still serves a VM that left", i)
						}
					}
				}
			}
			round(0)
			first, fds, gor := testalloc.LiveHeap(), openFDs(t), runtime.NumGoroutine()
			for i := 1; i < rounds; i++ {
				round(i)
			}
			last := testalloc.LiveHeap()
			t.Logf("live heap after round 1: %d KiB; after round %d: %d KiB (%+d KiB); fds %d -> %d, goroutines %d -> %d",
				first>>10, rounds, last>>10, (int64(last)-int64(first))>>10, fds, openFDs(t), gor, runtime.NumGoroutine())
			if last > first+64<<10 {
				t.Errorf("live heap grew by %d KiB over %d reconnections (more than 64 KiB)", (last-first)>>10, rounds)
			}
			if n := openFDs(t); n != fds {
				t.Errorf("%d descriptors open after %d reconnections, %d after the first", n, rounds, fds)
			}
			if n := runtime.NumGoroutine(); n != gor {
				t.Errorf("%d goroutines after %d reconnections, %d after the first", n, rounds, gor)
			}
		})
	}
}
