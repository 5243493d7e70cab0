package watertap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/l2tap/l2tap/test/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testEtherType marks the test's frames (IEEE 802 local experimental),
// so that what the kernel sends on its own (none is expected with IPv6
// off, but to be sure) is told apart.
const testEtherType = 0x88b5

// inNewNetns runs f on a thread moved to a new network namespace, which
// goes away with the thread when the test ends: the TAP and the packet
// socket f makes live there, wherever they are used from later.
func inNewNetns(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		f()
	}()
	<-done
}

// openTestTAP opens a water TAP in a new namespace, sets it up, and opens
// an AF_PACKET socket on it: what the socket sends, the TAP reads, and
// what is written to the TAP, the socket receives.
func openTestTAP(t *testing.T) (d *Device, pkt int, ifindex int) {
	t.Helper()
	inNewNetns(t, func() {
		var err error
		if d, err = Open(Config{Name: "wt%d"}); err != nil {
			t.Error(err)
			return
		}
		link, err := netlink.LinkByName(d.Name())
		if err != nil {
			t.Error(err)
			return
		}
		os.WriteFile("/proc/sys/net/ipv6/conf/"+d.Name()+"/disable_ipv6", []byte("1"), 0)
		if err := netlink.LinkSetUp(link); err != nil {
			t.Error(err)
			return
		}
		ifindex = link.Attrs().Index
		proto := int(htons(unix.ETH_P_ALL))
		if pkt, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			t.Error(err)
			return
		}
		if err := unix.Bind(pkt, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
			t.Error(err)
		}
		tv := unix.Timeval{Sec: 5}
		unix.SetsockoptTimeval(pkt, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() { d.Close(); unix.Close(pkt) })
	return d, pkt, ifindex
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// testFrame is a broadcast frame of the test's EtherType from src, n bytes
// long, its payload counting up from seed.
func testFrame(src byte, n int, seed byte) []byte {
	f := make([]byte, n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, src})
	binary.BigEndian.PutUint16(f[12:], testEtherType)
	for i := 14; i < n; i++ {
		f[i] = seed + byte(i)
	}
	return f
}

// TestLoopAllocs: frames go round, a packet socket → the TAP → ReadLoop →
// Write → the TAP → the packet socket, with every byte checked, and a
// round allocates nothing.
func TestLoopAllocs(t *testing.T) {
	testenv.RequireTools(t, true)
	d, pkt, _ := openTestTAP(t)
	const headroom = 16
	arena := make([]byte, headroom+maxFrame)
	pkts := make([][]byte, 4)
	got := make(chan []byte)
	loopDone := make(chan error, 1)
	go func() {
		loopDone <- d.ReadLoop(0, arena, headroom, pkts, func(p [][]byte) error {
			if len(p) != 1 {
				t.Errorf("batch of %d frames, want 1", len(p))
			}
			if f := p[0][headroom:]; len(f) >= 14 && binary.BigEndian.Uint16(f[12:]) == testEtherType {
				got <- p[0]
				<-got // the test has written it back
			}
			return nil
		}, func(err error) { t.Errorf("dropped: %v", err) })
	}()
	in := testFrame(1, 1400, 7)
	back := make([]byte, 2048)
	frames := make([][]byte, 1)
	round := func() {
		if _, err := unix.Write(pkt, in); err != nil {
			t.Fatal(err)
		}
		p := <-got
		if !bytes.Equal(p[headroom:], in) {
			t.Fatalf("TAP read %d bytes, not the %d sent", len(p)-headroom, len(in))
		}
		f := p[headroom:]
		f[11] = 2 // from the other side now
		frames[0] = f
		written, merged, n, err := d.Write(frames)
		if written != 1 || merged != 0 || n != len(in) || err != nil {
			t.Fatalf("Write = %d, %d, %d, %v", written, merged, n, err)
		}
		got <- nil
		for {
			m, err := unix.Read(pkt, back)
			if err != nil {
				t.Fatalf("packet socket: %v", err)
			}
			if m >= 14 && back[11] == 2 && binary.BigEndian.Uint16(back[12:]) == testEtherType {
				if !bytes.Equal(back[:m], f) {
					t.Fatalf("packet socket got %d bytes, not the %d written", m, len(f))
				}
				return
			}
		}
	}
	round()
	if allocs := testing.AllocsPerRun(500, round); allocs != 0 {
		t.Errorf("%.2f allocations per frame round trip, want 0", allocs)
	}
	d.Close()
	select {
	case err := <-loopDone:
		if err != nil {
			t.Errorf("ReadLoop after Close = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadLoop still running 5 s after Close")
	}
	if _, _, _, err := d.Write(frames); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
}

// TestOpenNames: a %d pattern picks a free number, a fixed name is kept,
// and the TAP goes away with the device.
func TestOpenNames(t *testing.T) {
	testenv.RequireTools(t, true)
	inNewNetns(t, func() {
		a, err := Open(Config{Name: "wt%d"})
		if err != nil {
			t.Error(err)
			return
		}
		b, err := Open(Config{Name: "wtfixed"})
		if err != nil {
			t.Error(err)
			return
		}
		if a.Name() != "wt0" || b.Name() != "wtfixed" || a.Queues() != 1 {
			t.Errorf("names %q, %q, %d queues; want wt0, wtfixed, 1", a.Name(), b.Name(), a.Queues())
		}
		if _, err := net.InterfaceByName("wtfixed"); err != nil {
			t.Errorf("wtfixed is not there: %v", err)
		}
		a.Close()
		b.Close()
		if _, err := net.InterfaceByName("wtfixed"); err == nil {
			t.Error("wtfixed is still there after Close")
		}
	})
}
