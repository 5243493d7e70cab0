//go:build linux

package underlay

import (
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sender sends batches of packets to one peer with sendmmsg: runs of
// equal-sized packets go as one UDP_SEGMENT message where the kernel takes
// it. Each send loop has a Sender of its own; it allocates nothing per
// packet once made.
type Sender struct {
	s      *Socket
	peer   rawSockaddr
	peerLn uint32
	pkts   [][]byte // the batch being sent
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
	fail   func(pkt []byte, err syscall.Errno)
	noGSO  func(err syscall.Errno)
	single [1]mmsghdr
}

// NewSender returns a Sender of batches of up to maxPkts packets to peer
// (its port is ignored for IP encapsulation). fail is called for each
// packet the kernel refuses; noGSO once if UDP segmentation turns out not
// to work on this path (sending goes on a datagram at a time). Either may
// be nil.
func (s *Socket) NewSender(peer netip.AddrPort, maxPkts int, fail func(pkt []byte, err syscall.Errno), noGSO func(err syscall.Errno)) *Sender {
	q := &Sender{
		s:      s,
		iovs:   make([]unix.Iovec, maxPkts),
		msgs:   make([]mmsghdr, maxPkts),
		ctrl:   make([]byte, maxPkts*cmsgSegmentSpace),
		first:  make([]int32, maxPkts+1),
		gso:    s.gso,
		gsoMax: 65535,
		fail:   fail,
		noGSO:  noGSO,
		sys:    sendmmsg,
	}
	if q.fail == nil {
		q.fail = func([]byte, syscall.Errno) {}
	}
	if q.noGSO == nil {
		q.noGSO = func(syscall.Errno) {}
	}
	q.peerLn = encodeSockaddr(&q.peer, peer.Addr(), peer.Port())
	q.fn = q.send
	return q
}

// build groups the packets into messages.
func (q *Sender) build() {
	q.nmsg = 0
	n := len(q.pkts)
	for k := 0; k < n; {
		start, size := k, len(q.pkts[k])
		total := size
		k++
		if q.gso && size <= q.gsoMax {
			for k < n && k-start < udpMaxSegments && len(q.pkts[k]) <= size && total+len(q.pkts[k]) <= udpMaxGSOPayload {
				total += len(q.pkts[k])
				k++
				if len(q.pkts[k-1]) < size {
					break // a shorter datagram ends the run
				}
			}
		}
		m := &q.msgs[q.nmsg].hdr
		*m = unix.Msghdr{Name: &q.peer[0], Namelen: q.peerLn, Iov: &q.iovs[start]}
		m.SetIovlen(k - start)
		for j := start; j < k; j++ {
			q.iovs[j].Base = &q.pkts[j][0]
			q.iovs[j].SetLen(len(q.pkts[j]))
		}
		if k-start > 1 {
			c := q.ctrl[q.nmsg*cmsgSegmentSpace:]
			m.Control = &c[0]
			m.SetControllen(putSegmentCmsg(c, uint16(size)))
		}
		q.first[q.nmsg] = int32(start)
		q.nmsg++
	}
	q.first[q.nmsg] = int32(n)
}

// sendmmsg sends msgs on the non-blocking socket fd. Like the system call,
// it returns the messages sent, or an error if the first one failed.
func sendmmsg(fd uintptr, msgs []mmsghdr) (int, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

func (q *Sender) send(fd uintptr) bool {
	n, e := q.sys(fd, q.msgs[q.from:q.nmsg])
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	q.sent, q.errno = n, e
	return true
}

// Send sends pkts, none of them empty and at most the maxPkts of
// NewSender, waiting while the socket's buffer is full. A packet the kernel
// refuses is reported to fail; a refused UDP_SEGMENT message is resent one
// datagram at a time, and on EIO (no segmentation on this path) GSO is
// switched off for good; EINVAL or EMSGSIZE (datagrams above the path MTU)
// stop grouping datagrams of that size. Send returns an error only when the
// socket is closed.
func (q *Sender) Send(pkts [][]byte) error {
	if len(pkts) == 0 {
		return nil
	}
	q.pkts = pkts
	defer func() { q.pkts = nil }()
	q.build()
	for q.from = 0; q.from < q.nmsg; {
		q.sent, q.errno = 0, 0
		if err := q.s.rc.Write(q.fn); err != nil {
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
			q.gsoMax = min(q.gsoMax, len(q.pkts[first])-1)
		case q.errno == unix.EIO:
			// No segmentation on this path at all.
			if q.gso {
				q.gso = false
				q.noGSO(q.errno)
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
				q.fail(q.pkts[k], q.errno)
			}
		}
		q.from++
	}
	return nil
}

// sendEach sends packets first..end-1 one datagram per message.
func (q *Sender) sendEach(first, end int) error {
	saved, savedN, savedFrom := q.msgs, q.nmsg, q.from
	defer func() { q.msgs, q.nmsg, q.from = saved, savedN, savedFrom }()
	q.msgs = q.single[:]
	q.nmsg = 1
	for k := first; k < end; k++ {
		q.single[0].hdr = unix.Msghdr{Name: &q.peer[0], Namelen: q.peerLn, Iov: &q.iovs[k]}
		q.single[0].hdr.SetIovlen(1)
		q.from, q.sent, q.errno = 0, 0, 0
		if err := q.s.rc.Write(q.fn); err != nil {
			return os.ErrClosed
		}
		if q.errno != 0 {
			q.fail(q.pkts[k], q.errno)
		}
	}
	return nil
}
