package underlay

import (
	"bytes"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// openConnPair binds two Conns on the loopback address of a family.
func openConnPair(t *testing.T, local netip.Addr) (a, b *Conn) {
	t.Helper()
	var err error
	if a, err = OpenConn(Config{UDP: true, Local: local}); err != nil {
		if local.Is6() {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = OpenConn(Config{UDP: true, Local: local}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// TestConnLoopback sends packets of several sizes each way between two
// Conns and checks bytes, sender and message fields.
func TestConnLoopback(t *testing.T) {
	for _, local := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		t.Run(local.String(), func(t *testing.T) {
			a, b := openConnPair(t, local)
			if a.LocalAddr().Port() == 0 || a.LocalAddr().Addr() != local {
				t.Fatalf("bound to %v, want %v and a port", a.LocalAddr(), local)
			}
			for _, dir := range []struct{ from, to *Conn }{{a, b}, {b, a}} {
				s := dir.from.NewSender(dir.to.LocalAddr(), func(p []byte, e syscall.Errno) { t.Errorf("send of %d bytes refused: %v", len(p), e) })
				var pkts [][]byte
				for i, n := range []int{1, 60, 1400, 9000, 65000} {
					pkts = append(pkts, bytes.Repeat([]byte{byte(i + 1)}, n))
				}
				if err := s.Send(pkts); err != nil {
					t.Fatal(err)
				}
				msgs := make([]Message, 4)
				for i, want := range pkts {
					dir.to.c.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, err := dir.to.Receive(msgs)
					if err != nil || n != 1 {
						t.Fatalf("packet %d: Receive = %d, %v", i, n, err)
					}
					m := msgs[0]
					if !bytes.Equal(m.Buf, want) || m.Seg != 0 || m.Drop != 0 || m.Src != dir.from.LocalAddr() {
						t.Fatalf("packet %d: got %d bytes from %v (seg %d, drop %v), want %d bytes from %v",
							i, len(m.Buf), m.Src, m.Seg, m.Drop, len(want), dir.from.LocalAddr())
					}
				}
			}
		})
	}
}

// TestConnClosed: a blocked Receive and a Send on a closed Conn return
// os.ErrClosed, the engine's signal to stop.
func TestConnClosed(t *testing.T) {
	a, b := openConnPair(t, netip.MustParseAddr("127.0.0.1"))
	done := make(chan error, 1)
	go func() {
		_, err := a.Receive(make([]Message, 1))
		done <- err
	}()
	a.Close()
	select {
	case err := <-done:
		if err != os.ErrClosed {
			t.Errorf("Receive after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive still blocked 5 s after Close")
	}
	if err := a.NewSender(b.LocalAddr(), nil).Send([][]byte{{1}}); err != os.ErrClosed {
		t.Errorf("Send after Close = %v, want os.ErrClosed", err)
	}
	if _, err := OpenConn(Config{Local: netip.MustParseAddr("127.0.0.1")}); err != ErrNoIPEncap {
		t.Errorf("OpenConn for IP encapsulation = %v, want ErrNoIPEncap", err)
	}
}

// TestConnLoopAllocs: a packet sent and received through two Conns
// allocates nothing, on whatever system the test runs.
func TestConnLoopAllocs(t *testing.T) {
	a, b := openConnPair(t, netip.MustParseAddr("127.0.0.1"))
	s := a.NewSender(b.LocalAddr(), func(_ []byte, e syscall.Errno) { t.Errorf("send refused: %v", e) })
	pkts := [][]byte{make([]byte, 1400)}
	msgs := make([]Message, 1)
	round := func() {
		if err := s.Send(pkts); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Receive(msgs); n != 1 || err != nil || len(msgs[0].Buf) != 1400 {
			t.Fatalf("Receive = %d, %v (%d bytes)", n, err, len(msgs[0].Buf))
		}
	}
	round() // warm up the poller
	if allocs := testing.AllocsPerRun(1000, round); allocs != 0 {
		t.Errorf("%.2f allocations per packet, want 0", allocs)
	}
}
