//go:build linux

package vmsocket

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"golang.org/x/sys/unix"
)

// dgramBatch is the most datagrams one recvmmsg or sendmmsg handles.
const dgramBatch = 64

// mmsghdr is struct mmsghdr: Go pads it as C does on 32- and 64-bit.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// peerAddr is the VM's address, as recvmmsg returned it.
type peerAddr struct {
	raw  unix.RawSockaddrUnix
	len  uint32
	name string
}

func (p *peerAddr) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&p.raw)), p.len)
}

// dgramReader is the state of datagram reads: the messages and their
// senders' addresses, prepared once.
type dgramReader struct {
	s     *Socket
	msgs  [dgramBatch]mmsghdr
	iov   [dgramBatch]unix.Iovec
	names [dgramBatch]unix.RawSockaddrUnix
	slots int

	arena    []byte
	headroom int
	pkts     [][]byte
	send     func([][]byte) error
	dropped  func(error)
	sendErr  error
	errno    syscall.Errno
	fn       func(fd uintptr) bool

	refused     []byte // the last address refused, and when it was probed
	refusedAt   time.Time
	refusedLive bool
}

func newDgramReader(s *Socket) *dgramReader {
	r := &dgramReader{s: s}
	r.fn = r.service
	return r
}

// dgramLoop reads datagrams until the socket is closed.
func (s *Socket) dgramLoop(arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	r := s.dr
	r.arena, r.headroom, r.pkts, r.send, r.dropped = arena, headroom, pkts, send, dropped
	// Each slot takes a frame of up to MaxFrame behind the headroom.
	r.slots = min(dgramBatch, len(pkts), len(arena)/(headroom+MaxFrame))
	for i := 0; i < r.slots; i++ {
		off := i * (headroom + MaxFrame)
		r.iov[i].Base = &arena[off+headroom]
		r.msgs[i].hdr.Iov = &r.iov[i]
		r.msgs[i].hdr.SetIovlen(1)
		r.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	err := s.prc.Read(r.fn)
	switch {
	case r.sendErr != nil:
		return r.sendErr
	case s.closed() || err != nil:
		return nil
	case r.errno != 0:
		return fmt.Errorf("read %s: %w", s.path, r.errno)
	}
	return nil
}

// service receives until the socket is drained (false) or fails (true).
func (r *dgramReader) service(fd uintptr) bool {
	for {
		for i := 0; i < r.slots; i++ {
			r.iov[i].SetLen(MaxFrame)
			r.msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
			r.msgs[i].hdr.Flags = 0
		}
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.slots), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			return false
		}
		if e != 0 {
			r.errno = e
			return true
		}
		k := 0
		for i := 0; i < int(n); i++ {
			m := &r.msgs[i]
			if !r.from(m) {
				continue
			}
			l := int(m.n)
			if l == 0 || m.hdr.Flags&unix.MSG_TRUNC != 0 {
				r.dropped(fmt.Errorf("%s: datagram of length %d (beyond %d if truncated): %w", r.s.path, l, MaxFrame, l2tpv3.DropSocketFrame))
				continue
			}
			off := i * (r.headroom + MaxFrame)
			r.pkts[k] = r.arena[off : off+r.headroom+l : off+r.headroom+l]
			k++
		}
		if k > 0 {
			if err := r.send(r.pkts[:k]); err != nil {
				r.sendErr = err
				return true
			}
		}
	}
}

// from reports whether m comes from the VM served: the first sender is
// adopted, and another one is too once the first no longer lives.
func (r *dgramReader) from(m *mmsghdr) bool {
	s := r.s
	name := unsafe.Slice(m.hdr.Name, m.hdr.Namelen)
	p := s.peer.Load()
	if p != nil && bytes.Equal(p.bytes(), name) {
		return true
	}
	if m.hdr.Namelen <= 2 { // an unbound sender cannot be answered
		r.dropped(fmt.Errorf("%s: datagram from a socket bound to no address (QEMU's local.path missing?): %w", s.path, l2tpv3.DropSocketClient))
		return false
	}
	if p != nil {
		// Probe the VM served at most once a second per stranger.
		if !bytes.Equal(r.refused, name) || time.Since(r.refusedAt) > time.Second {
			r.refused = append(r.refused[:0], name...)
			r.refusedAt = time.Now()
			r.refusedLive = s.lives(p)
		}
		if r.refusedLive {
			r.dropped(fmt.Errorf("%s: datagram from %s while %s is served: refused (one VM per socket): %w",
				s.path, sockName(name), p.name, l2tpv3.DropSocketClient))
			return false
		}
	}
	np := &peerAddr{len: m.hdr.Namelen}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&np.raw)), unsafe.Sizeof(np.raw)), name)
	np.name = sockName(name)
	s.peer.Store(np)
	slog.Info("VM address learned", append(s.logAttrs(), "vm", np.name)...)
	return true
}

// sockName returns the path in a raw sockaddr_un, @ first if abstract.
func sockName(raw []byte) string {
	if len(raw) <= 2 {
		return "(unbound)"
	}
	p := raw[2:]
	if p[0] == 0 {
		return "@" + string(p[1:])
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	return string(p)
}

// lives reports whether a socket is bound at p: connecting the probe
// socket to it is refused once its owner is gone.
func (s *Socket) lives(p *peerAddr) bool {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(s.probe), uintptr(unsafe.Pointer(&p.raw)), uintptr(p.len))
	return e != unix.ECONNREFUSED && e != unix.ENOENT
}

// dgramWriter sends frames to the VM, many to one sendmmsg, from messages
// prepared once.
type dgramWriter struct {
	msgs  [dgramBatch]mmsghdr
	iov   [dgramBatch]unix.Iovec
	n     int
	next  int
	errno syscall.Errno
	armed bool
	until time.Time
	fn    func(fd uintptr) bool
	s     *Socket
}

func newDgramWriter() *dgramWriter {
	w := &dgramWriter{}
	for i := range w.msgs {
		w.msgs[i].hdr.Iov = &w.iov[i]
		w.msgs[i].hdr.SetIovlen(1)
	}
	w.fn = w.write
	return w
}

// dgramWrite sends frames to the VM's address, once one is known.
func (s *Socket) dgramWrite(frames [][]byte) (written, nbytes int, err error) {
	p := s.peer.Load()
	if p == nil {
		return 0, 0, ErrNoClient
	}
	w := s.dw
	w.s = s
	for len(frames) > 0 {
		k := min(len(frames), dgramBatch)
		for i, f := range frames[:k] {
			w.iov[i].Base = &f[0]
			w.iov[i].SetLen(len(f))
			w.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&p.raw))
			w.msgs[i].hdr.Namelen = p.len
		}
		w.n, w.next, w.errno, w.armed = k, 0, 0, false
		rerr := s.prc.Write(w.fn)
		for _, f := range frames[:w.next] {
			nbytes += len(f)
		}
		written += w.next
		switch {
		case w.errno == unix.EAGAIN:
			return written, nbytes, ErrBusy
		case rerr != nil:
			return written, nbytes, os.ErrClosed
		case w.errno == unix.ECONNREFUSED || w.errno == unix.ENOENT:
			// The VM is gone: wait for the next one to send.
			s.peer.CompareAndSwap(p, nil)
			return written, nbytes, ErrNoClient
		case w.errno != 0:
			return written, nbytes, w.errno
		}
		frames = frames[k:]
	}
	return written, nbytes, nil
}

// write runs inside RawConn.Write: sendmmsg until every message is sent,
// or a send fails (true, errno set; EAGAIN once the VM's queue stayed full
// for writeWait).
func (w *dgramWriter) write(fd uintptr) bool {
	for w.next < w.n {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.msgs[w.next])), uintptr(w.n-w.next), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			// The VM's receive queue is full. Unconnected, the socket is
			// not woken when it drains, so poll for room a while.
			now := time.Now()
			if !w.armed {
				w.armed, w.until = true, now.Add(writeWait)
			}
			if now.After(w.until) {
				w.errno = e
				return true
			}
			time.Sleep(50 * time.Microsecond)
			continue
		}
		if e != 0 {
			w.errno = e
			return true
		}
		w.next += int(n)
	}
	return true
}
