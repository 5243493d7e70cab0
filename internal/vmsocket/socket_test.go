//go:build linux

package vmsocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

const headroom = 12

// loop runs a socket's ReadLoop as the engine would, recording frames
// and drops.
type loop struct {
	s       *Socket
	mu      sync.Mutex
	frames  [][]byte
	batches int
	drops   []error
	got     chan struct{}
	done    chan error
}

func startLoop(t testing.TB, s *Socket) *loop {
	l := &loop{s: s, got: make(chan struct{}, 1), done: make(chan error, 1)}
	arena := make([]byte, 512<<10+headroom+MaxFrame)
	pkts := make([][]byte, 512)
	go func() {
		l.done <- s.ReadLoop(0, arena, headroom, pkts, l.send, l.dropped)
	}()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-l.done:
			if err != nil {
				t.Errorf("ReadLoop: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("ReadLoop did not end on Close")
		}
	})
	return l
}

func (l *loop) send(pkts [][]byte) error {
	l.mu.Lock()
	for _, p := range pkts {
		if len(p) < headroom {
			panic("frame without headroom")
		}
		// The engine writes its header into the headroom: so do we.
		for i := range p[:headroom] {
			p[i] = 0xee
		}
		l.frames = append(l.frames, bytes.Clone(p[headroom:]))
	}
	l.batches++
	l.mu.Unlock()
	select {
	case l.got <- struct{}{}:
	default:
	}
	return nil
}

func (l *loop) dropped(err error) {
	l.mu.Lock()
	l.drops = append(l.drops, err)
	l.mu.Unlock()
	select {
	case l.got <- struct{}{}:
	default:
	}
}

// wait polls until cond holds on the recorded frames and drops.
func (l *loop) wait(t testing.TB, what string, cond func(frames [][]byte, drops []error) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		ok := cond(l.frames, l.drops)
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.got:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("%s: not within 5 s; %d frames, drops %v", what, len(l.frames), l.drops)
		}
	}
}

func testFrame(i, n int) []byte {
	f := make([]byte, n)
	for j := range f {
		f[j] = byte(i*7 + j)
	}
	return f
}

func framed(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func listen(t testing.TB, typ Type) *Socket {
	t.Helper()
	s, err := Listen(Config{Path: filepath.Join(t.TempDir(), "vm.sock"), Type: typ, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dial(t testing.TB, s *Socket) *net.UnixConn {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.Name(), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFramed reads n frames from a stream client.
func readFramed(t testing.TB, c net.Conn, n int) [][]byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out [][]byte
	var lb [4]byte
	for range n {
		if _, err := io.ReadFull(c, lb[:]); err != nil {
			t.Fatalf("read length after %d frames: %v", len(out), err)
		}
		f := make([]byte, binary.BigEndian.Uint32(lb[:]))
		if _, err := io.ReadFull(c, f); err != nil {
			t.Fatalf("read frame %d: %v", len(out), err)
		}
		out = append(out, f)
	}
	return out
}

func equalFrames(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d: %d bytes %x..., want %d bytes %x...", i, len(got[i]), got[i][:min(8, len(got[i]))], len(want[i]), want[i][:min(8, len(want[i]))])
		}
	}
}

// TestStreamFraming: frames of every size, many in one write, one split
// byte by byte over many writes, and the largest, arrive whole and in order
// behind the headroom.
func TestStreamFraming(t *testing.T) {
	s := listen(t, Stream)
	l := startLoop(t, s)
	c := dial(t, s)
	var want [][]byte
	for i, n := range []int{1, 60, 1514, 9000, MaxFrame, 64, 1500} {
		want = append(want, testFrame(i, n))
	}
	// All in one write, then again with each split across writes.
	if _, err := c.Write(framed(want...)); err != nil {
		t.Fatal(err)
	}
	all := framed(want...)
	for i := 0; i < len(all); {
		n := min(len(all)-i, 1+i%4099) // cuts through lengths and frames
		if i < 8 {
			n = 1
		}
		if _, err := c.Write(all[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	want = append(want, want...)
	l.wait(t, "frames", func(f [][]byte, _ []error) bool { return len(f) >= len(want) })
	l.mu.Lock()
	defer l.mu.Unlock()
	equalFrames(t, l.frames, want)
	if len(l.drops) != 0 {
		t.Errorf("drops %v", l.drops)
	}
}

// TestStreamBatches: a burst the socket holds at once reaches send in few
// batches, not one per frame.
func TestStreamBatches(t *testing.T) {
	s := listen(t, Stream)
	c := dial(t, s)
	var want [][]byte
	for i := range 100 {
		want = append(want, testFrame(i, 1000))
	}
	if _, err := c.Write(framed(want...)); err != nil {
		t.Fatal(err)
	}
	l := startLoop(t, s) // started after the burst: it is all there
	l.wait(t, "frames", func(f [][]byte, _ []error) bool { return len(f) >= len(want) })
	l.mu.Lock()
	defer l.mu.Unlock()
	equalFrames(t, l.frames, want)
	if l.batches > 2 {
		t.Errorf("100 frames of 1000 bytes in %d batches, want 1 or 2", l.batches)
	}
}

// TestStreamBadLength: a length of 0 or beyond MaxFrame closes that client,
// counted under DropSocketFrame, after the frames before it; the next
// client is served.
func TestStreamBadLength(t *testing.T) {
	for _, bad := range []uint32{0, MaxFrame + 1, 0xffffffff} {
		s := listen(t, Stream)
		l := startLoop(t, s)
		c := dial(t, s)
		good := testFrame(1, 100)
		msg := append(framed(good), binary.BigEndian.AppendUint32(nil, bad)...)
		msg = append(msg, framed(testFrame(2, 100))...)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		l.wait(t, "drop", func(_ [][]byte, d []error) bool { return len(d) > 0 })
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("length %d: client read %d, %v; want EOF (closed)", bad, n, err)
		}
		l.mu.Lock()
		if !errors.Is(l.drops[0], l2tpv3.DropSocketFrame) {
			t.Errorf("length %d: drop %v, want DropSocketFrame", bad, l.drops[0])
		}
		equalFrames(t, l.frames, [][]byte{good})
		l.mu.Unlock()
		c2 := dial(t, s)
		if _, err := c2.Write(framed(testFrame(3, 200))); err != nil {
			t.Fatal(err)
		}
		l.wait(t, "next client", func(f [][]byte, _ []error) bool { return len(f) == 2 })
		s.Close()
	}
}

// TestStreamReconnect: a client that goes is waited for again; the next
// one gets what Write sends, and a second client at the same time is
// refused while the first is served.
func TestStreamReconnect(t *testing.T) {
	s := listen(t, Stream)
	l := startLoop(t, s)
	for round := range 3 {
		c := dial(t, s)
		f := testFrame(round, 300)
		if _, err := c.Write(framed(f)); err != nil {
			t.Fatal(err)
		}
		l.wait(t, "frame", func(fr [][]byte, _ []error) bool { return len(fr) == round+1 })
		// The client is served once its frame came: Write reaches it.
		back := [][]byte{testFrame(round+10, 1500), testFrame(round+20, 60)}
		if n, _, _, err := s.Write(back); n != 2 || err != nil {
			t.Fatalf("round %d: Write %d, %v", round, n, err)
		}
		equalFrames(t, readFramed(t, c, 2), back)
		if round == 1 {
			c2 := dial(t, s)
			c2.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c2.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("second client: %v, want EOF (refused)", err)
			}
			if n, _, _, err := s.Write(back[:1]); n != 1 || err != nil {
				t.Fatalf("after refusing: Write %d, %v", n, err)
			}
			equalFrames(t, readFramed(t, c, 1), back[:1])
		}
		c.Close()
		// Until the loop has seen it go, Write may still reach the old one;
		// afterwards it has no client.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, _, _, err := s.Write(back[:1])
			if errors.Is(err, ErrNoClient) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: Write after the client left: %v, want ErrNoClient", round, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestStreamStalledClient: a client that reads nothing makes Write give
// up after writeWait with ErrBusy, keeping what it cut short; once the
// client reads, every frame Write reported taken arrives whole and in
// order.
func TestStreamStalledClient(t *testing.T) {
	s := listen(t, Stream)
	l := startLoop(t, s)
	c := dial(t, s)
	c.Write(framed(testFrame(0, 10)))
	l.wait(t, "frame", func(fr [][]byte, _ []error) bool { return len(fr) == 1 })
	var taken [][]byte
	busy := false
	for i := 0; i < 4000 && !busy; i++ {
		batch := [][]byte{testFrame(i, 1499), testFrame(i+1, 777)}
		n, _, _, err := s.Write(batch)
		taken = append(taken, batch[:n]...)
		if err != nil {
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("Write: %v, want ErrBusy", err)
			}
			busy = true
		}
	}
	if !busy {
		t.Fatal("8000 frames written to a client reading nothing, never ErrBusy")
	}
	last := [][]byte{testFrame(99, 1234)}
	got := make(chan [][]byte)
	go func() { got <- readFramed(t, c, len(taken)+1) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _, _, err := s.Write(last)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Write after the client read again: %v", err)
		}
	}
	equalFrames(t, <-got, append(taken, last...))
}

// TestStaleSocket: a socket file nothing listens on is replaced, a live one
// refused, a file that is no socket refused; Close removes the file.
func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vm.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(Config{Path: path, UID: -1, GID: -1}); err == nil {
		t.Fatal("Listen on a live socket succeeded")
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // stale now
	for _, typ := range []Type{Stream, Dgram} {
		s, err := Listen(Config{Path: path, Type: typ, UID: -1, GID: -1})
		if err != nil {
			t.Fatalf("%v over a stale socket: %v", typ, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%v: socket file %v, %v; want mode 0600", typ, fi, err)
		}
		if typ == Stream {
			if _, err := Listen(Config{Path: path, Type: Dgram, UID: -1, GID: -1}); err == nil {
				t.Errorf("dgram Listen over a live stream socket succeeded")
			}
		}
		s.Close()
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: socket file after Close: %v", typ, err)
		}
		// Leave a stale one for the next round.
		c, _ := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		c.Close()
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	if _, err := Listen(Config{Path: plain, UID: -1, GID: -1}); err == nil {
		t.Error("Listen over a regular file succeeded")
	}
	if s, err := Listen(Config{Path: filepath.Join(dir, "g.sock"), UID: -1, GID: os.Getgid()}); err != nil {
		t.Error(err)
	} else {
		fi, _ := os.Stat(s.Name())
		if fi.Mode().Perm() != 0o660 {
			t.Errorf("with a group: mode %v, want 0660", fi.Mode().Perm())
		}
		s.Close()
	}
}

// vmDgram is a stand-in for QEMU's -netdev dgram: a datagram socket bound
// to a path of its own, sending to l2tap's.
func vmDgram(t testing.TB, s *Socket, name string) *net.UnixConn {
	t.Helper()
	local := &net.UnixAddr{Name: filepath.Join(filepath.Dir(s.Name()), name), Net: "unixgram"}
	c, err := net.DialUnix("unixgram", local, &net.UnixAddr{Name: s.Name(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDgram: one frame per datagram both ways; bad lengths counted; a
// second VM refused while the first lives and served once it is gone.
func TestDgram(t *testing.T) {
	s := listen(t, Dgram)
	l := startLoop(t, s)
	if _, _, _, err := s.Write([][]byte{testFrame(0, 60)}); !errors.Is(err, ErrNoClient) {
		t.Errorf("Write before any VM: %v, want ErrNoClient", err)
	}
	a := vmDgram(t, s, "a.sock")
	var want [][]byte
	for i, n := range []int{60, 1514, MaxFrame} {
		want = append(want, testFrame(i, n))
		if _, err := a.Write(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	a.Write(nil) // length 0
	l.wait(t, "frames", func(f [][]byte, d []error) bool { return len(f) == 3 && len(d) == 1 })
	l.mu.Lock()
	equalFrames(t, l.frames, want)
	if !errors.Is(l.drops[0], l2tpv3.DropSocketFrame) {
		t.Errorf("empty datagram: %v, want DropSocketFrame", l.drops[0])
	}
	l.mu.Unlock()
	back := [][]byte{testFrame(5, 1500), testFrame(6, 64), testFrame(7, 9000)}
	if n, _, b, err := s.Write(back); n != 3 || b != 10564 || err != nil {
		t.Fatalf("Write: %d frames %d bytes, %v", n, b, err)
	}
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, w := range back {
		buf := make([]byte, MaxFrame)
		n, err := a.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], w) {
			t.Fatalf("datagram %d: %d bytes, %v", i, n, err)
		}
	}
	b := vmDgram(t, s, "b.sock")
	b.Write(testFrame(8, 100))
	l.wait(t, "refusal", func(_ [][]byte, d []error) bool { return len(d) == 2 })
	l.mu.Lock()
	if !errors.Is(l.drops[1], l2tpv3.DropSocketClient) {
		t.Errorf("second VM: %v, want DropSocketClient", l.drops[1])
	}
	l.mu.Unlock()
	a.Close()
	// Within a second b is probed again and, a being gone, served.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.Write(testFrame(9, 100))
		l.mu.Lock()
		n := len(l.frames)
		l.mu.Unlock()
		if n > 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second VM not served after the first was gone")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, _, _, err := s.Write(back[:1]); n != 1 || err != nil {
		t.Fatalf("Write to the second VM: %d, %v", n, err)
	}
}
