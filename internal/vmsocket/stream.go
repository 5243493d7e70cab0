//go:build linux

package vmsocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"golang.org/x/sys/unix"
)

const (
	// stageSize is the most bytes one read takes from a stream client:
	// many frames, at least one of the largest with its length.
	stageSize = 256 << 10
	// maxIov is the most iovecs one writev takes (the kernel's UIO_MAXIOV):
	// a length and a frame each.
	maxIov = 1024
	// sendBuffer is the socket buffer asked for toward the VM.
	sendBuffer = 1 << 20
	// refuseGrace is how long a second client waits for the first one's
	// end (a QEMU restarted before its old connection's end was read)
	// before it is refused.
	refuseGrace = 500 * time.Millisecond
)

// client is one stream connection from QEMU.
type client struct {
	conn *net.UnixConn
	rc   syscall.RawConn
}

// acceptLoop takes connections until the socket is closed: one is served
// at a time, a second one is refused with a log line.
func (s *Socket) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if s.closed() {
				return
			}
			slog.Warn("accept failed", append(s.logAttrs(), "err", err)...)
			select { // EMFILE and the like: do not spin
			case <-s.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if s.cur.Load() != nil && !s.waitFreed() {
			slog.Warn("a second VM connected while one is served: refused (one VM per socket)", s.logAttrs()...)
			conn.Close()
			continue
		}
		rc, err := conn.SyscallConn()
		if err != nil {
			conn.Close()
			continue
		}
		conn.SetWriteBuffer(sendBuffer) // the kernel caps it at net.core.wmem_max
		c := &client{conn: conn, rc: rc}
		s.cur.Store(c)
		select {
		case s.clients <- c:
		case <-s.done:
			conn.Close()
			return
		}
	}
}

// waitFreed waits up to refuseGrace for the client served to end, and
// reports whether it did.
func (s *Socket) waitFreed() bool {
	t := time.NewTimer(refuseGrace)
	defer t.Stop()
	for {
		select {
		case <-s.freed:
			if s.cur.Load() == nil {
				return true
			}
		case <-t.C:
			return s.cur.Load() == nil
		case <-s.done:
			return false
		}
	}
}

// release ends client c.
func (s *Socket) release(c *client) {
	c.conn.Close()
	s.cur.CompareAndSwap(c, nil)
	select {
	case s.freed <- struct{}{}:
	default:
	}
}

// streamLoop serves one client after the other until the socket closes.
func (s *Socket) streamLoop(arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	r := s.sr
	r.arena, r.headroom, r.pkts, r.send = arena, headroom, pkts, send
	for {
		var c *client
		select {
		case <-s.done:
			return nil
		case c = <-s.clients:
		}
		slog.Info("VM connected", s.logAttrs()...)
		r.reset()
		err := c.rc.Read(r.fn)
		s.release(c)
		why := "disconnected"
		switch {
		case r.sendErr != nil:
			return r.sendErr
		case s.closed():
			return nil
		case r.bad >= 0:
			why = fmt.Sprintf("closed: frame length %d", r.bad)
			dropped(fmt.Errorf("%s: frame length %d, the VM's connection closed: %w", s.path, r.bad, l2tpv3.DropSocketFrame))
		case r.errno != 0:
			why = fmt.Sprintf("closed: read: %v", r.errno)
		case err != nil:
			why = fmt.Sprintf("closed: %v", err)
		}
		slog.Info("VM disconnected; waiting for it to connect again", append(s.logAttrs(), "why", why)...)
	}
}

// streamReader is the state of reads from one stream client: the bytes
// read and not yet cut into frames (a frame split across reads among
// them), and the batch being filled.
type streamReader struct {
	buf  []byte
	have int

	arena    []byte
	headroom int
	pkts     [][]byte
	n, used  int
	send     func([][]byte) error
	sendErr  error
	errno    syscall.Errno
	bad      int64 // a malformed length read, or -1
	fn       func(fd uintptr) bool
}

func newStreamReader() *streamReader {
	r := &streamReader{buf: make([]byte, stageSize), bad: -1}
	r.fn = r.service
	return r
}

// reset forgets a previous client.
func (r *streamReader) reset() {
	r.have, r.n, r.used, r.errno, r.bad = 0, 0, 0, 0, -1
}

// service reads until the socket is drained (false: the poller waits) or
// the client ends (true: EOF, an error, a malformed length, or a failed
// send). Each read takes as much as the buffer holds.
func (r *streamReader) service(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.buf[r.have])), uintptr(len(r.buf)-r.have))
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			return !r.flush()
		}
		if e != 0 || n == 0 {
			r.errno = e
			r.flush()
			return true
		}
		r.have += int(n)
		if !r.parse() {
			r.flush()
			return true
		}
	}
}

// parse cuts the complete frames out of buf into the batch, sending it
// whenever it is full, and keeps a trailing partial frame. It returns
// false on a malformed length or a failed send.
func (r *streamReader) parse() bool {
	off := 0
	for r.have-off >= 4 {
		// Compared as read: on 32-bit, int would make 0xffffffff negative.
		n := binary.BigEndian.Uint32(r.buf[off:])
		if n == 0 || n > MaxFrame {
			r.bad = int64(n)
			return false
		}
		l := int(n)
		if r.have-off-4 < l {
			break
		}
		if r.n == len(r.pkts) || len(r.arena)-r.used < r.headroom+l {
			if !r.flush() {
				return false
			}
		}
		end := r.used + r.headroom + l
		p := r.arena[r.used:end:end]
		copy(p[r.headroom:], r.buf[off+4:off+4+l])
		r.pkts[r.n] = p
		r.n++
		r.used = end
		off += 4 + l
	}
	r.have = copy(r.buf, r.buf[off:r.have])
	return true
}

// flush sends the batch, if any, and reports whether send succeeded.
func (r *streamReader) flush() bool {
	if r.n == 0 {
		return r.sendErr == nil
	}
	err := r.send(r.pkts[:r.n])
	r.n, r.used = 0, 0
	if err != nil {
		r.sendErr = err
		return false
	}
	return true
}

// streamWriter writes frames to the client behind their lengths, many to
// one writev, from iovecs and length words prepared once. A frame the VM
// took only in part when Write gave up waiting is kept in carry, and
// finished first by the next Write: the stream stays in step.
type streamWriter struct {
	lens  [maxIov / 2][4]byte
	iov   [maxIov]unix.Iovec
	niov  int
	next  int // the first iovec not yet written in full
	carry []byte
	cbuf  []byte
	cfor  *client // the client carry belongs to
	errno syscall.Errno
	armed bool // a write deadline is set
	c     *client
	fn    func(fd uintptr) bool
}

func newStreamWriter() *streamWriter {
	w := &streamWriter{cbuf: make([]byte, 4+MaxFrame)}
	w.fn = w.write
	return w
}

// streamWrite writes frames to the client being served.
func (s *Socket) streamWrite(frames [][]byte) (written, bytes int, err error) {
	c := s.cur.Load()
	if c == nil {
		return 0, 0, ErrNoClient
	}
	w := s.sw
	w.c = c
	if w.cfor != c {
		w.carry = nil
	}
	if len(w.carry) > 0 {
		w.iov[0].Base = &w.carry[0]
		w.iov[0].SetLen(len(w.carry))
		w.niov = 1
		if err := w.run(); err != nil {
			w.keep(0)
			return 0, 0, err
		}
		w.carry = nil
	}
	for len(frames) > 0 {
		k := min(len(frames), maxIov/2)
		w.niov = 0
		for i, f := range frames[:k] {
			if len(f) == 0 || len(f) > MaxFrame {
				// The engine hands no such frame; framing could not carry it.
				k = i
				break
			}
			binary.BigEndian.PutUint32(w.lens[i][:], uint32(len(f)))
			w.iov[w.niov].Base = &w.lens[i][0]
			w.iov[w.niov].SetLen(4)
			w.iov[w.niov+1].Base = &f[0]
			w.iov[w.niov+1].SetLen(len(f))
			w.niov += 2
		}
		if k == 0 {
			return written, bytes, fmt.Errorf("frame of %d bytes: beyond the socket framing's %d", len(frames[0]), MaxFrame)
		}
		err := w.run()
		done := w.next / 2
		if err != nil && w.next%2 == 1 || err != nil && w.next < w.niov && w.iov[w.next].Len != 4 {
			done++ // begun: kept in carry, finished by the next Write
		}
		for _, f := range frames[:done] {
			bytes += len(f)
		}
		written += done
		if err != nil {
			w.keep(w.next)
			return written, bytes, err
		}
		frames = frames[k:]
	}
	return written, bytes, nil
}

// run writes iovecs next..niov, waiting up to writeWait for a full
// socket. It returns ErrBusy when the wait ran out, os.ErrClosed-wrapping
// ErrNoClient when the client is gone, and the write's error.
func (w *streamWriter) run() error {
	w.next, w.errno, w.armed = 0, 0, false
	err := w.c.rc.Write(w.fn)
	if w.armed {
		w.c.conn.SetWriteDeadline(time.Time{})
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrBusy
	case err != nil:
		return ErrNoClient
	case w.errno != 0:
		return w.errno
	}
	return nil
}

// write runs inside RawConn.Write: writev until every iovec is written
// (true), the socket is full (false: the poller waits, the first time
// with a deadline), or an error (true, errno set).
func (w *streamWriter) write(fd uintptr) bool {
	for w.next < w.niov {
		n, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[w.next])), uintptr(w.niov-w.next))
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			if !w.armed {
				w.armed = true
				w.c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			}
			return false
		}
		if e != 0 {
			w.errno = e
			return true
		}
		w.advance(int(n))
	}
	return true
}

// advance skips n bytes written.
func (w *streamWriter) advance(n int) {
	for n > 0 && w.next < w.niov {
		l := int(w.iov[w.next].Len)
		if n < l {
			w.iov[w.next].Base = (*byte)(unsafe.Add(unsafe.Pointer(w.iov[w.next].Base), n))
			w.iov[w.next].SetLen(l - n)
			return
		}
		n -= l
		w.next++
	}
}

// keep copies what remains of a frame begun at iovec next into carry.
// With carry itself written (base 0, one iovec) it keeps the rest of it.
func (w *streamWriter) keep(next int) {
	w.carry = nil
	if next >= w.niov {
		return
	}
	var parts []unix.Iovec
	switch {
	case w.niov == 1: // the carry
		parts = w.iov[0:1]
	case next%2 == 1:
		parts = w.iov[next : next+1]
	case w.iov[next].Len != 4:
		parts = w.iov[next : next+2]
	default:
		return // a frame not begun: refused whole
	}
	n := 0
	for _, p := range parts {
		n += copy(w.cbuf[n:], unsafe.Slice(p.Base, p.Len))
	}
	w.carry = w.cbuf[:n]
	w.cfor = w.c
}
