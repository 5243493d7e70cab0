//go:build linux

package underlay

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The tests in this file pin down what depends on the architecture: byte
// order and word size. `make cross` runs them, with the other tests that
// need no root, as 386, arm64 and s390x (big-endian) binaries under
// qemu-user.

// TestSockaddrNetworkOrder checks the bytes of the peer's sockaddr: the
// family in host byte order, the port and address in network byte order.
func TestSockaddrNetworkOrder(t *testing.T) {
	tests := []struct {
		addr     string
		wantLen  uint32
		family   uint16
		addrOff  int
		addrWant []byte
	}{
		{"192.0.2.1", 16, unix.AF_INET, 4, []byte{192, 0, 2, 1}},
		{"2001:db8::1", 28, unix.AF_INET6, 8, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	}
	for _, tt := range tests {
		var b rawSockaddr
		for i := range b {
			b[i] = 0xee // encodeSockaddr must clear what it does not set
		}
		n := encodeSockaddr(&b, netip.MustParseAddr(tt.addr), 1701)
		if got := decodeSockaddr(&b); got != netip.AddrPortFrom(netip.MustParseAddr(tt.addr), 1701) {
			t.Errorf("%s: decoded as %v", tt.addr, got)
		}
		if n != tt.wantLen {
			t.Errorf("%s: length %d, want %d", tt.addr, n, tt.wantLen)
		}
		if got := binary.NativeEndian.Uint16(b[0:]); got != tt.family {
			t.Errorf("%s: family %d, want %d (host byte order)", tt.addr, got, tt.family)
		}
		if b[2] != 0x06 || b[3] != 0xa5 {
			t.Errorf("%s: port bytes %#02x %#02x, want 0x06 0xa5 (1701 in network byte order)", tt.addr, b[2], b[3])
		}
		if got := b[tt.addrOff : tt.addrOff+len(tt.addrWant)]; !bytes.Equal(got, tt.addrWant) {
			t.Errorf("%s: address bytes % x, want % x", tt.addr, got, tt.addrWant)
		}
		for i := 4; i < int(tt.wantLen); i++ {
			if (i < tt.addrOff || i >= tt.addrOff+len(tt.addrWant)) && b[i] != 0 {
				t.Errorf("%s: byte %d is %#02x, want 0 (padding, flow info, scope)", tt.addr, i, b[i])
			}
		}
	}
}

// TestMmsghdrLayout checks mmsghdr against the C layout of struct mmsghdr,
// a struct msghdr (pointer, socklen_t, pointer, size_t, pointer, size_t,
// int) followed by an unsigned int: 64 bytes with msg_len at 56 where
// pointers have 8 bytes, 32 bytes with msg_len at 28 where they have 4.
func TestMmsghdrLayout(t *testing.T) {
	var m mmsghdr
	size, off := unsafe.Sizeof(m), unsafe.Offsetof(m.len)
	switch unsafe.Sizeof(uintptr(0)) {
	case 8:
		if size != 64 || off != 56 {
			t.Errorf("64-bit: mmsghdr is %d bytes with len at %d, want 64 and 56", size, off)
		}
	case 4:
		if size != 32 || off != 28 {
			t.Errorf("32-bit: mmsghdr is %d bytes with len at %d, want 32 and 28", size, off)
		}
	default:
		t.Fatalf("pointer size %d", unsafe.Sizeof(uintptr(0)))
	}
	// In an array the next message starts where the C array's does.
	var a [2]mmsghdr
	if d := uintptr(unsafe.Pointer(&a[1])) - uintptr(unsafe.Pointer(&a[0])); d != size {
		t.Errorf("array stride %d, want %d", d, size)
	}
}

// TestTunnelLoopback sends and receives through the kernel on loopback,
// without UDP GSO and GRO, over IPv4 and IPv6: sendmmsg must reach the port
// the peer listens on (the sockaddr l2tap encodes), recvmmsg must report
// every datagram's length (the mmsghdr layout), and each datagram's source
// must be reported as it is, telling the peer from another port of the
// same address.
func TestTunnelLoopback(t *testing.T) {
	for _, lo := range []string{"127.0.0.1", "::1"} {
		t.Run(lo, func(t *testing.T) { tunnelLoopback(t, netip.MustParseAddr(lo)) })
	}
}

func tunnelLoopback(t *testing.T, lo netip.Addr) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	peer, stranger := listen(), listen()
	peerPort := uint16(peer.LocalAddr().(*net.UDPAddr).Port)
	tun, err := Open(Config{UDP: true, Local: lo})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	tunAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, tunnelPort(t, tun)))
	sizes := []int{1, 60, 1400, 1500, 9000, 333}
	payload := func(i, n int) []byte { return bytes.Repeat([]byte{byte(0x10 + i)}, n) }

	// Out: a sender without UDP_SEGMENT, one datagram per message.
	q := tun.NewSender(netip.AddrPortFrom(lo, peerPort), 16, nil, nil)
	var pkts [][]byte
	for i, n := range sizes {
		pkts = append(pkts, payload(i, n))
	}
	if err := q.Send(pkts); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for i, n := range sizes {
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d of %d to port %d: %v", i, len(sizes), peerPort, err)
		}
		if !bytes.Equal(buf[:got], payload(i, n)) {
			t.Fatalf("datagram %d: %d bytes of %#02x, want %d of %#02x", i, got, buf[0], n, 0x10+i)
		}
		if from.Port() != uint16(tunAddr.Port) {
			t.Fatalf("datagram %d from port %d, want %d", i, from.Port(), tunAddr.Port)
		}
	}

	// In: the peer's datagrams and one from a stranger on another port. The
	// kernel usually queues a loopback datagram before the write returns, but
	// a busy machine may defer the delivery, so a round whose first recvmmsg
	// finds fewer than a whole batch queued is repeated: the check that each
	// message of a full batch is read at its place (the mmsghdr stride) needs
	// one round in which the batch is full.
	const batch = 4
	msgs := make([]Message, batch)
	peerAddr := netip.AddrPortFrom(lo, peerPort)
	strangerAddr := netip.AddrPortFrom(lo, uint16(stranger.LocalAddr().(*net.UDPAddr).Port))
	const maxRounds = 50
	for round := 1; ; round++ {
		if _, err := stranger.WriteToUDP([]byte("stranger"), tunAddr); err != nil {
			t.Fatal(err)
		}
		for i, n := range sizes {
			if _, err := peer.WriteToUDP(payload(i, n), tunAddr); err != nil {
				t.Fatal(err)
			}
		}
		tun.file.SetReadDeadline(time.Now().Add(5 * time.Second))
		good, strangers, full := 0, 0, false
		for good < len(sizes) || strangers < 1 {
			n, err := tun.Receive(msgs)
			if err != nil {
				t.Fatalf("round %d: receive after %d of %d datagrams and %d from the stranger: %v", round, good, len(sizes), strangers, err)
			}
			full = full || n == batch
			for _, m := range msgs[:n] {
				switch {
				case m.Drop != 0:
					t.Fatalf("round %d: datagram dropped: %v", round, m.Drop)
				case m.Src == strangerAddr:
					strangers++
				case m.Src != peerAddr:
					t.Fatalf("round %d: datagram from %v, want %v or %v", round, m.Src, peerAddr, strangerAddr)
				case good >= len(sizes):
					t.Fatalf("round %d: an extra datagram of %d bytes", round, len(m.Buf))
				case !bytes.Equal(m.Buf, payload(good, sizes[good])):
					t.Fatalf("round %d: datagram %d: %d bytes, want %d of %#02x", round, good, len(m.Buf), sizes[good], 0x10+good)
				default:
					good++
				}
			}
		}
		if strangers != 1 {
			t.Fatalf("round %d: %d datagrams from the stranger, want 1", round, strangers)
		}
		if full {
			return
		}
		if round == maxRounds {
			t.Fatalf("recvmmsg never filled a batch of %d in %d rounds of %d datagrams", batch, maxRounds, len(sizes)+1)
		}
	}
}

// tunnelPort returns the UDP port a tunnel's socket is bound to, IPv4 or
// IPv6, as the kernel reports it.
func tunnelPort(t *testing.T, tun *Socket) uint16 {
	t.Helper()
	var port int
	tun.rc.Control(func(fd uintptr) {
		sa, err := unix.Getsockname(int(fd))
		if err != nil {
			t.Fatal(err)
		}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			port = sa.Port
		case *unix.SockaddrInet6:
			port = sa.Port
		}
	})
	if port == 0 {
		t.Fatal("tunnel socket has no port")
	}
	return uint16(port)
}
