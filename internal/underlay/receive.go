//go:build linux

package underlay

import (
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"golang.org/x/sys/unix"
)

const (
	// rxBatch is how many recvmmsg messages one Receive takes at once. With
	// UDP GRO each may hold up to 64 KiB of datagrams.
	rxBatch = 32
	// maxPacket is the largest packet received: one IP datagram.
	maxPacket = 65535
)

// receiver holds one batch of receive buffers and the recvmmsg state.
type receiver struct {
	s     *Socket
	bufs  [][]byte
	msgs  []mmsghdr
	iovs  []unix.Iovec
	names []rawSockaddr
	want  int // messages to receive this time
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool // bound once: no allocation per call
	gro   bool                  // UDP_GRO is on: read its control messages
	ctrl  []byte
}

func newReceiver(s *Socket, n int, gro bool) *receiver {
	r := &receiver{
		s:     s,
		bufs:  make([][]byte, n),
		msgs:  make([]mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]rawSockaddr, n),
		gro:   gro,
	}
	mem := make([]byte, n*maxPacket)
	for i := range r.bufs {
		r.bufs[i] = mem[i*maxPacket : (i+1)*maxPacket : (i+1)*maxPacket]
	}
	if gro {
		r.ctrl = make([]byte, n*cmsgSegmentSpace)
	}
	r.fn = r.recv
	return r
}

func (r *receiver) recv(fd uintptr) bool {
	for i := range r.msgs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(cap(r.bufs[i]))
		m := &r.msgs[i].hdr
		m.Iov = &r.iovs[i]
		m.SetIovlen(1)
		m.Name = &r.names[i][0]
		m.Namelen = unix.SizeofSockaddrInet6
		m.Flags = 0
		if r.gro {
			m.Control = &r.ctrl[i*cmsgSegmentSpace]
			m.SetControllen(cmsgSegmentSpace)
		}
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.want), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

// BatchSize is the most messages one Receive fills.
func (s *Socket) BatchSize() int { return len(s.recv.msgs) }

// Receive waits until at least one packet arrives and fills msgs with up to
// len(msgs) packets, BatchSize at most, returning how many. It returns os.ErrClosed once the
// socket is closed; other errors come from recvmmsg and are not fatal. Only
// one goroutine may call it at a time.
func (s *Socket) Receive(msgs []Message) (int, error) {
	r := s.recv
	r.n, r.errno, r.want = 0, 0, min(len(msgs), len(r.msgs))
	if r.want == 0 {
		return 0, nil
	}
	if err := s.rc.Read(r.fn); err != nil {
		return 0, os.ErrClosed // the poller fails only once the file is closed
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	for i := 0; i < r.n; i++ {
		r.message(i, &msgs[i])
	}
	return r.n, nil
}

// message fills m from message i of the last recvmmsg.
func (r *receiver) message(i int, m *Message) {
	h := &r.msgs[i].hdr
	size := int(r.msgs[i].len)
	m.Src = decodeSockaddr(&r.names[i])
	if !r.s.cfg.UDP {
		m.Src = netip.AddrPortFrom(m.Src.Addr(), 0)
	}
	m.Seg, m.Buf, m.Drop = 0, nil, l2tpv3.DropNone
	if h.Flags&unix.MSG_TRUNC != 0 {
		m.Drop = l2tpv3.DropTruncated
		return
	}
	off := 0
	if r.s.raw4 {
		// A raw IPv4 socket delivers the IP header; skip it by its IHL.
		if size < 20 {
			m.Drop = l2tpv3.DropShort
			return
		}
		off = int(r.bufs[i][0]&0x0f) * 4
		if off < 20 || off > size {
			m.Drop = l2tpv3.DropShort
			return
		}
	}
	m.Buf = r.bufs[i][off:size]
	if r.gro {
		if seg := GROSegmentSize(r.ctrl[i*cmsgSegmentSpace : i*cmsgSegmentSpace+int(h.Controllen)]); seg > 0 && seg < len(m.Buf) {
			m.Seg = seg
		}
	}
}
