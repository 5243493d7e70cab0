//go:build linux

package underlay

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIntactNeedsChecksums holds the kernel to what Message.Intact relies
// on, over loopback with UDP GRO on the receiving socket: a UDP_SEGMENT run
// (checksummed) arrives as one message that is Intact; a sender of zero
// checksums (SO_NO_CHECK) cannot send UDP_SEGMENT at all (EINVAL), and its
// datagrams arrive one per message, none of them Intact.
func TestIntactNeedsChecksums(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	rx, err := Open(Config{UDP: true, Local: lo, Offload: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if !rx.recv.gro {
		t.Skip("no UDP GRO in this kernel")
	}
	to := &unix.SockaddrInet4{Port: int(tunnelPort(t, rx)), Addr: lo.As4()}
	const size, count = 200, 8
	payload := make([]byte, size*count)
	for i := range payload {
		payload[i] = byte(i)
	}
	seg := make([]byte, cmsgSegmentSpace)
	oob := seg[:putSegmentCmsg(seg, size)]

	// receive collects count datagrams and reports how many messages were
	// Intact and how many were not.
	msgs := make([]Message, rx.BatchSize())
	receive := func() (intact, single int) {
		t.Helper()
		// Receive blocks: a datagram that never comes must end the test,
		// not hang it, so the socket is closed at the deadline.
		var late atomic.Bool
		timer := time.AfterFunc(5*time.Second, func() { late.Store(true); rx.Close() })
		defer timer.Stop()
		for got := 0; got < count; {
			n, err := rx.Receive(msgs)
			if late.Load() {
				t.Fatalf("%d of %d datagrams after 5s", got, count)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs[:n] {
				if m.Intact() {
					intact++
				} else {
					single++
				}
				for one, rest := m.Datagram(m.Buf); len(one) > 0; one, rest = m.Datagram(rest) {
					got++
				}
			}
		}
		return intact, single
	}

	send := func(noCheck bool) *int {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if noCheck {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); err != nil {
				t.Fatal(err)
			}
		}
		return &fd
	}

	checked := send(false)
	if err := unix.Sendmsg(*checked, payload, oob, to, 0); err != nil {
		t.Skipf("no UDP_SEGMENT here: %v", err)
	}
	if intact, single := receive(); intact != 1 || single != 0 {
		t.Errorf("checksummed UDP_SEGMENT run: %d intact and %d other messages, want 1 and 0", intact, single)
	}

	zero := send(true)
	if err := unix.Sendmsg(*zero, payload, oob, to, 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("UDP_SEGMENT with zero checksums: %v, want EINVAL", err)
	}
	for i := 0; i < count; i++ {
		if err := unix.Sendto(*zero, payload[i*size:(i+1)*size], 0, to); err != nil {
			t.Fatal(err)
		}
	}
	if intact, single := receive(); intact != 0 || single != count {
		t.Errorf("zero-checksum datagrams: %d intact and %d other messages, want 0 and %d", intact, single, count)
	}
}
