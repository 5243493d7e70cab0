//go:build linux

// Package underlay owns the sockets that carry L2TPv3 packets between the
// two ends of a tunnel: a UDP socket bound to a local address and port, or
// a raw IP socket for protocol 115 bound to a local address. It receives in
// batches with recvmmsg (with UDP GRO, runs of datagrams in one buffer) and
// sends in batches with sendmmsg (with UDP GSO, runs of equal-sized
// datagrams in one message), falling back where the kernel or the path
// refuses. Nothing in it allocates per packet once set up.
package underlay

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

// Socket is a datagram socket carrying L2TPv3 packets. It is bound, never
// connected, so packets from any source reach it: the caller decides which
// sources it serves. One goroutine may Receive at a time; any number may
// send, each through a Sender of its own.
type Socket struct {
	cfg  Config
	file *os.File
	rc   syscall.RawConn
	raw4 bool // received packets start with an IPv4 header
	gso  bool // the kernel takes UDP_SEGMENT
	recv *receiver
	pkt  *packetPath // IP encapsulation over IPv4 with Config.PacketPath
}

// Open creates and binds the socket that c describes. Errors wrap the
// errno, so that callers can explain EADDRINUSE, EPERM and the like.
func Open(c Config) (*Socket, error) {
	family, typ, proto := unix.AF_INET, unix.SOCK_DGRAM, 0
	if c.Local.Is6() {
		family = unix.AF_INET6
	}
	if !c.UDP {
		typ, proto = unix.SOCK_RAW, IPProtoL2TP
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("create socket: %w", err)
	}
	s := &Socket{cfg: c, raw4: !c.UDP && family == unix.AF_INET}
	if err := s.setup(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return FromFile(c, os.NewFile(uintptr(fd), "l2tp"))
}

// FromFile makes a Socket of f, a socket opened and bound for c (by Open,
// perhaps in another process: see File). On error f is closed.
func FromFile(c Config, f *os.File) (*Socket, error) {
	s := &Socket{cfg: c, raw4: !c.UDP && c.Local.Is4(), file: f}
	var err error
	if s.rc, err = s.file.SyscallConn(); err != nil {
		s.file.Close()
		return nil, err
	}
	gro := false
	if c.Offload && c.UDP {
		s.rc.Control(func(fd uintptr) {
			gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
			_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
			s.gso = err == nil
		})
	}
	s.recv = newReceiver(s, rxBatch, gro)
	if c.PacketPath && s.raw4 {
		if s.pkt, err = openPacketPath(c.Local); err != nil {
			s.file.Close()
			return nil, err
		}
	}
	return s, nil
}

// File returns the socket's descriptor, to hand to another process
// (which makes its Socket with FromFile); it stays the Socket's.
func (s *Socket) File() *os.File { return s.file }

func (s *Socket) setup(fd int) error {
	c := s.cfg
	// Large buffers ride out bursts; errors only mean a smaller buffer.
	for _, opt := range []int{unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, sockBuf) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt-(unix.SO_RCVBUFFORCE-unix.SO_RCVBUF), sockBuf)
		}
	}
	// Like Linux's l2tp (ignore_df), never set DF: an oversized frame is
	// fragmented rather than lost.
	if c.Local.Is6() {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT)
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	} else {
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
	}
	if err := unix.Bind(fd, sockaddr(c.Local, c.Port)); err != nil {
		return fmt.Errorf("bind %s: %w", AddrPortString(c.Local, c.Port, c.UDP), err)
	}
	return nil
}

// UDP reports whether the socket carries UDP encapsulation.
func (s *Socket) UDP() bool { return s.cfg.UDP }

// Close stops the socket; blocked receives and sends return os.ErrClosed.
func (s *Socket) Close() error {
	if s.pkt != nil {
		s.pkt.close()
	}
	return s.file.Close()
}

func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
}

// rawSockaddr is a sockaddr_in or sockaddr_in6 in kernel form.
type rawSockaddr [unix.SizeofSockaddrInet6]byte

// encodeSockaddr writes a sockaddr_in or sockaddr_in6 into b and returns its
// length. The family is in host byte order, the port in network byte order,
// on every architecture.
func encodeSockaddr(b *rawSockaddr, a netip.Addr, port uint16) uint32 {
	*b = rawSockaddr{}
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

// decodeSockaddr reads the address and port of a received sockaddr; a
// family other than IPv4 or IPv6 gives the zero AddrPort.
func decodeSockaddr(b *rawSockaddr) netip.AddrPort {
	switch (*unix.RawSockaddrInet4)(unsafe.Pointer(b)).Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(b))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:]))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(b))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:]))
	}
	return netip.AddrPort{}
}

// mmsghdr mirrors struct mmsghdr: a struct msghdr, then the unsigned int
// msg_len. As in C, the size is rounded up to the alignment of msghdr's
// pointers: 64 bytes on 64-bit Linux, 32 on 32-bit. (No explicit padding
// field: a zero-length one at the end would make Go add 4 bytes on 32-bit.)
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}
