package main

import (
	"encoding/binary"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// udpMaxSegments is the most datagrams one UDP_SEGMENT send may carry
	// (UDP_MAX_SEGMENTS in older kernels; newer ones allow more).
	udpMaxSegments = 64
	// udpMaxGSOPayload bounds the UDP payload of one UDP_SEGMENT send: the
	// whole run must fit one IPv4 datagram before it is cut.
	udpMaxGSOPayload = 65535 - 20 - 8
	// cmsgSegmentSpace is the control space of one UDP_SEGMENT or UDP_GRO
	// message, whose data is at most an int.
	cmsgSegmentSpace = unix.SizeofCmsghdr + 8
)

// enableUDPGRO asks the kernel to hand runs of datagrams from one flow to
// the socket coalesced, with their size in a UDP_GRO control message.
func enableUDPGRO(t *Tunnel) bool {
	ok := false
	t.rc.Control(func(fd uintptr) {
		ok = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	})
	return ok
}

// probeUDPGSO reports whether the kernel accepts UDP_SEGMENT on t.
func probeUDPGSO(t *Tunnel) bool {
	ok := false
	t.rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// putSegmentCmsg writes a UDP_SEGMENT control message for segments of size
// bytes into b, which has cmsgSegmentSpace bytes, and returns its length.
func putSegmentCmsg(b []byte, size uint16) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.SizeofCmsghdr:], size)
	return unix.CmsgSpace(2)
}

// groSegmentSize returns the datagram size a UDP_GRO control message in b
// reports, or 0 if b holds none.
func groSegmentSize(b []byte) int {
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(b) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.SizeofCmsghdr+4 {
			return int(binary.NativeEndian.Uint32(b[unix.SizeofCmsghdr:]))
		}
		b = b[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(b)):]
	}
	return 0
}

// txQueue collects L2TP packets in one arena and sends them to the peer with
// sendmmsg, runs of equal-sized packets as one UDP_SEGMENT message when the
// kernel supports it. It never allocates after newTxQueue.
type txQueue struct {
	t      *Tunnel
	arena  []byte
	used   int
	offs   []int32 // packet k is arena[offs[k] : offs[k]+lens[k]]
	lens   []int32
	n      int
	iovs   []unix.Iovec
	msgs   []mmsghdr
	ctrl   []byte
	first  []int32 // first packet of each message
	nmsg   int
	gso    bool // group runs with UDP_SEGMENT
	gsoMax int  // largest datagram grouped; lowered when the path refuses one
	from   int  // first message not yet sent
	sent   int
	errno  syscall.Errno
	fn     func(fd uintptr) bool
	sys    func(fd uintptr, msgs []mmsghdr) (int, syscall.Errno) // sendmmsg; tests stand in for the kernel
	fail   func(k int, err syscall.Errno)                        // packet k was refused
	noGSO  func(err syscall.Errno)                               // UDP_SEGMENT was refused for good
	single [1]mmsghdr
}

// newTxQueue makes a queue of up to maxPkts packets in size bytes of arena.
func newTxQueue(t *Tunnel, size, maxPkts int, gso bool) *txQueue {
	q := &txQueue{
		t:      t,
		arena:  make([]byte, size),
		offs:   make([]int32, maxPkts),
		lens:   make([]int32, maxPkts),
		iovs:   make([]unix.Iovec, maxPkts),
		msgs:   make([]mmsghdr, maxPkts),
		ctrl:   make([]byte, maxPkts*cmsgSegmentSpace),
		first:  make([]int32, maxPkts+1),
		gso:    gso,
		gsoMax: 65535,
	}
	q.fn = q.send
	q.sys = sendmmsg
	return q
}

// room returns the arena bytes free for the next packet, or 0 when no
// further packet fits.
func (q *txQueue) room() []byte {
	if q.n == len(q.offs) {
		return nil
	}
	return q.arena[q.used:]
}

// add appends a packet of n bytes written at the start of room().
func (q *txQueue) add(n int) {
	q.offs[q.n], q.lens[q.n] = int32(q.used), int32(n)
	q.n++
	q.used += n
}

// build groups the packets into messages.
func (q *txQueue) build() {
	q.nmsg = 0
	peer, peerLn := &q.t.peer[0], q.t.peerLn
	for k := 0; k < q.n; {
		start, size := k, int(q.lens[k])
		total := size
		k++
		if q.gso && size <= q.gsoMax {
			for k < q.n && k-start < udpMaxSegments && int(q.lens[k]) <= size && total+int(q.lens[k]) <= udpMaxGSOPayload {
				total += int(q.lens[k])
				k++
				if int(q.lens[k-1]) < size {
					break // a shorter datagram ends the run
				}
			}
		}
		m := &q.msgs[q.nmsg].hdr
		*m = unix.Msghdr{Name: peer, Namelen: peerLn, Iov: &q.iovs[start]}
		m.SetIovlen(k - start)
		for j := start; j < k; j++ {
			q.iovs[j].Base = &q.arena[q.offs[j]]
			q.iovs[j].SetLen(int(q.lens[j]))
		}
		if k-start > 1 {
			c := q.ctrl[q.nmsg*cmsgSegmentSpace:]
			m.Control = &c[0]
			m.SetControllen(putSegmentCmsg(c, uint16(size)))
		}
		q.first[q.nmsg] = int32(start)
		q.nmsg++
	}
	q.first[q.nmsg] = int32(q.n)
}

// sendmmsg sends msgs on the non-blocking socket fd. Like the system call,
// it returns the messages sent, or an error if the first one failed.
func sendmmsg(fd uintptr, msgs []mmsghdr) (int, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

func (q *txQueue) send(fd uintptr) bool {
	n, e := q.sys(fd, q.msgs[q.from:q.nmsg])
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	q.sent, q.errno = n, e
	return true
}

// Flush sends every queued packet and empties the queue. A packet the kernel
// refuses is reported to fail; a refused UDP_SEGMENT message is resent one
// datagram at a time, and on EIO (no segmentation on this path) GSO is
// switched off; EINVAL or EMSGSIZE (datagrams above the path MTU) stop
// grouping datagrams of that size. Flush returns an error only when the socket is closed.
func (q *txQueue) Flush() error {
	defer func() { q.n, q.used = 0, 0 }()
	if q.n == 0 {
		return nil
	}
	q.build()
	for q.from = 0; q.from < q.nmsg; {
		q.sent, q.errno = 0, 0
		if err := q.t.rc.Write(q.fn); err != nil {
			return os.ErrClosed // the poller fails only once the file is closed
		}
		if q.errno == 0 {
			q.from += q.sent
			continue
		}
		first, end := int(q.first[q.from]), int(q.first[q.from+1])
		resend := end-first > 1 // a refused UDP_SEGMENT message
		switch {
		case !resend:
		case q.errno == unix.EINVAL || q.errno == unix.EMSGSIZE:
			// Datagrams of this size do not fit the path unfragmented,
			// which UDP_SEGMENT requires: send them singly from now on.
			q.gsoMax = min(q.gsoMax, int(q.lens[first])-1)
		case q.errno == unix.EIO:
			// No segmentation on this path at all.
			if q.gso {
				q.gso = false
				if q.noGSO != nil {
					q.noGSO(q.errno)
				}
			}
		default:
			resend = false // an error of the path, not of segmentation
		}
		if resend {
			if err := q.sendEach(first, end); err != nil {
				return err
			}
		} else {
			for k := first; k < end; k++ {
				q.fail(k, q.errno)
			}
		}
		q.from++
	}
	return nil
}

// sendEach sends packets first..end-1 one datagram per message.
func (q *txQueue) sendEach(first, end int) error {
	saved, savedN, savedFrom := q.msgs, q.nmsg, q.from
	defer func() { q.msgs, q.nmsg, q.from = saved, savedN, savedFrom }()
	q.msgs = q.single[:]
	q.nmsg = 1
	for k := first; k < end; k++ {
		q.single[0].hdr = unix.Msghdr{Name: &q.t.peer[0], Namelen: q.t.peerLn, Iov: &q.iovs[k], Iovlen: 1}
		q.from, q.sent, q.errno = 0, 0, 0
		if err := q.t.rc.Write(q.fn); err != nil {
			return os.ErrClosed
		}
		if q.errno != 0 {
			q.fail(k, q.errno)
		}
	}
	return nil
}
