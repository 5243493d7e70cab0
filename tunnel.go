package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockBuf is the socket send and receive buffer size asked for. With UDP
// GSO and GRO one queued packet carries up to 64 KiB of frames, so the
// buffer must hold bursts of many of them while the receiving loop waits for
// a CPU: smaller buffers drop whole trains of TCP segments.
const sockBuf = 16 << 20

// ipprotoL2TP is the IP protocol number of L2TPv3 over IP (RFC 3931 §4.1.1.2).
const ipprotoL2TP = 115

// Endpoint is the underlay of one pseudowire: where packets come from and go.
type Endpoint struct {
	UDP        bool
	Local      netip.Addr
	Remote     netip.Addr
	LocalPort  uint16 // UDP only
	RemotePort uint16 // UDP only
}

// IPOverhead is the size of the outer IP (and UDP) headers per packet.
func (e Endpoint) IPOverhead() int {
	n := 20
	if e.Remote.Is6() {
		n = 40
	}
	if e.UDP {
		n += 8
	}
	return n
}

// Tunnel is a datagram socket carrying L2TPv3 data packets to and from one peer.
type Tunnel struct {
	ep     Endpoint
	file   *os.File
	rc     syscall.RawConn
	peer   [unix.SizeofSockaddrInet6]byte // remote sockaddr in kernel form
	peerLn uint32
	raw4   bool // received packets start with an IPv4 header
}

// OpenTunnel creates a socket for ep, bound to its local address and port.
// The socket is not connected, so packets from other sources reach Tunnel
// and are counted as wrong-source drops rather than vanishing.
func OpenTunnel(ep Endpoint) (*Tunnel, error) {
	family, typ, proto := unix.AF_INET, unix.SOCK_DGRAM, 0
	if ep.Local.Is6() {
		family = unix.AF_INET6
	}
	if !ep.UDP {
		typ, proto = unix.SOCK_RAW, ipprotoL2TP
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("create socket: %w", err)
	}
	t := &Tunnel{ep: ep, raw4: !ep.UDP && family == unix.AF_INET}
	if err := t.setup(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	t.file = os.NewFile(uintptr(fd), "l2tp")
	if t.rc, err = t.file.SyscallConn(); err != nil {
		t.file.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tunnel) setup(fd int) error {
	ep := t.ep
	// Large buffers ride out bursts; errors only mean a smaller buffer.
	for _, opt := range []int{unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, sockBuf) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt-(unix.SO_RCVBUFFORCE-unix.SO_RCVBUF), sockBuf)
		}
	}
	// Like Linux's l2tp (ignore_df), never set DF: an oversized frame is
	// fragmented rather than lost.
	if ep.Local.Is6() {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT)
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	} else {
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
	}
	local := sockaddr(ep.Local, ep.LocalPort)
	if err := unix.Bind(fd, local); err != nil {
		return fmt.Errorf("bind %s: %w", addrPort(ep.Local, ep.LocalPort, ep.UDP), err)
	}
	t.peerLn = encodeSockaddr(&t.peer, ep.Remote, ep.RemotePort)
	return nil
}

// Close stops the tunnel; blocked reads and writes return.
func (t *Tunnel) Close() error { return t.file.Close() }

func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
}

func addrPort(a netip.Addr, port uint16, udp bool) string {
	if !udp {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// encodeSockaddr writes a sockaddr_in or sockaddr_in6 into b and returns its
// length. The family is in host byte order, the port in network byte order,
// on every architecture.
func encodeSockaddr(b *[unix.SizeofSockaddrInet6]byte, a netip.Addr, port uint16) uint32 {
	*b = [unix.SizeofSockaddrInet6]byte{}
	if a.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(b))
		sa.Family = unix.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], port)
		sa.Addr = a.As4()
		return unix.SizeofSockaddrInet4
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(b))
	sa.Family = unix.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], port)
	sa.Addr = a.As16()
	return unix.SizeofSockaddrInet6
}

// fromPeer reports whether a received sockaddr is the configured peer.
// Raw sockets report port 0, so the port is compared only for UDP.
func (t *Tunnel) fromPeer(name *[unix.SizeofSockaddrInet6]byte) bool {
	if t.ep.Remote.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		want := (*unix.RawSockaddrInet4)(unsafe.Pointer(&t.peer))
		return sa.Family == unix.AF_INET && sa.Addr == want.Addr && (!t.ep.UDP || sa.Port == want.Port)
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(name))
	want := (*unix.RawSockaddrInet6)(unsafe.Pointer(&t.peer))
	return sa.Family == unix.AF_INET6 && sa.Addr == want.Addr && (!t.ep.UDP || sa.Port == want.Port)
}

// mmsghdr mirrors struct mmsghdr: a struct msghdr, then the unsigned int
// msg_len. As in C, the size is rounded up to the alignment of msghdr's
// pointers: 64 bytes on 64-bit Linux, 32 on 32-bit. (No explicit padding
// field: a zero-length one at the end would make Go add 4 bytes on 32-bit.)
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// Batch is a set of packet buffers filled by one recvmmsg.
// Bufs[i] has capacity for the largest packet; Lens[i] is the bytes in use.
type Batch struct {
	Bufs  [][]byte
	Lens  []int
	N     int // packets in the batch
	msgs  []mmsghdr
	iovs  []unix.Iovec
	names [][unix.SizeofSockaddrInet6]byte
}

// NewBatch allocates a batch of n buffers of size bytes each.
func NewBatch(n, size int) *Batch {
	b := &Batch{
		Bufs:  make([][]byte, n),
		Lens:  make([]int, n),
		msgs:  make([]mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([][unix.SizeofSockaddrInet6]byte, n),
	}
	mem := make([]byte, n*size)
	for i := range b.Bufs {
		b.Bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
	return b
}

// Receiver reads batches of packets from a Tunnel.
type Receiver struct {
	t     *Tunnel
	b     *Batch
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool // bound once: no allocation per call
	gro   bool                  // UDP_GRO is on: read its control messages
	ctrl  []byte
}

// NewReceiver prepares to receive into b.
func (t *Tunnel) NewReceiver(b *Batch) *Receiver {
	r := &Receiver{t: t, b: b}
	r.fn = r.recv
	return r
}

func (r *Receiver) recv(fd uintptr) bool {
	b := r.b
	for i := range b.msgs {
		b.iovs[i].Base = &b.Bufs[i][0]
		b.iovs[i].SetLen(cap(b.Bufs[i]))
		m := &b.msgs[i].hdr
		m.Iov = &b.iovs[i]
		m.Iovlen = 1
		m.Name = &b.names[i][0]
		m.Namelen = unix.SizeofSockaddrInet6
		m.Flags = 0
		if r.gro {
			m.Control = &r.ctrl[i*cmsgSegmentSpace]
			m.SetControllen(cmsgSegmentSpace)
		}
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

// Receive blocks until at least one packet arrives, fills the batch and sets
// N and Lens; Packet then vets each packet.
func (r *Receiver) Receive() error {
	r.n, r.errno = 0, 0
	if err := r.t.rc.Read(r.fn); err != nil {
		return os.ErrClosed // the poller fails only once the file is closed
	}
	if r.errno != 0 {
		return r.errno
	}
	r.b.N = r.n
	for i := 0; i < r.n; i++ {
		r.b.Lens[i] = int(r.b.msgs[i].len)
	}
	return nil
}

// EnableGRO asks the kernel for UDP GRO on the tunnel and, if it agrees,
// makes room for the segment size of every packet of a batch. It reports
// whether GRO is on.
func (r *Receiver) EnableGRO() bool {
	if r.gro = enableUDPGRO(r.t); r.gro {
		r.ctrl = make([]byte, len(r.b.msgs)*cmsgSegmentSpace)
	}
	return r.gro
}

// Packet verifies packet i of the last Receive and returns its L2TP bytes:
// one datagram, or a run of datagrams of size bytes each (the last may be
// shorter) that UDP GRO coalesced. A packet to drop comes with the reason.
func (r *Receiver) Packet(i int) (pkt []byte, size int, why Reason) {
	off, why := r.check(i)
	if why != DropNone {
		return nil, 0, why
	}
	pkt = r.b.Bufs[i][off:r.b.Lens[i]]
	if size = r.segmentSize(i); size <= 0 {
		size = len(pkt)
	}
	return pkt, size, DropNone
}

// segmentSize returns the size of the datagrams UDP GRO coalesced into
// packet i of the last Receive, or 0 if it is a single datagram.
func (r *Receiver) segmentSize(i int) int {
	if !r.gro {
		return 0
	}
	m := &r.b.msgs[i].hdr
	return groSegmentSize(r.ctrl[i*cmsgSegmentSpace : i*cmsgSegmentSpace+int(m.Controllen)])
}

// check returns where the L2TP header of packet i starts in Bufs[i], or
// the reason to drop the packet.
func (r *Receiver) check(i int) (int, Reason) {
	b := r.b
	if b.msgs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
		return 0, DropTruncated
	}
	if !r.t.fromPeer(&b.names[i]) {
		return 0, DropSource
	}
	if !r.t.raw4 {
		return 0, DropNone
	}
	// A raw IPv4 socket delivers the IP header; skip it by its IHL.
	if b.Lens[i] < 20 {
		return 0, DropShort
	}
	ihl := int(b.Bufs[i][0]&0x0f) * 4
	if ihl < 20 || ihl > b.Lens[i] {
		return 0, DropShort
	}
	return ihl, DropNone
}

// transientSendError reports errors that come and go with the network:
// a full queue, an ICMP error from the peer, a route that is down.
func transientSendError(e syscall.Errno) bool {
	switch e {
	case unix.ENOBUFS, unix.EAGAIN, unix.ECONNREFUSED, unix.ENETUNREACH, unix.EHOSTUNREACH,
		unix.ENETDOWN, unix.EHOSTDOWN, unix.EPERM, unix.ENOMEM:
		return true
	}
	return false
}
