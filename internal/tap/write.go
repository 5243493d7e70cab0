//go:build linux

package tap

import (
	"errors"
	"os"
	"syscall"
	"unsafe"

	"github.com/l2tap/l2tap/internal/offload"
	"golang.org/x/sys/unix"
)

// writer writes frames to the TAP: straight, behind a virtio-net header,
// or coalesced into superframes. It never allocates per frame.
type writer struct {
	t     *Device
	gro   *offload.Coalescer // nil: no coalescing
	udp   bool               // coalesce UDP datagrams too (the TAP takes USO)
	seg   offload.Segment
	iov   [2]unix.Iovec
	niov  int
	zero  [offload.VnetHdrLen]byte
	errno syscall.Errno
	fn    func(fd uintptr) bool
	// pendFrames and pendBytes are the frames held in the pending
	// superframe, counted only once it is written.
	pendFrames, pendBytes int
	// The outcome of the Write under way.
	written, merged, bytes int
	err                    error
}

// newWriter prepares writes to t; gro coalesces TCP segments, and udp also
// equal-size UDP datagrams where the TAP takes USO.
func newWriter(t *Device, gro, udp bool) *writer {
	w := &writer{t: t}
	if t.VnetHdr && gro && t.Offloads&(offload.TunTSO4|offload.TunTSO6) != 0 {
		w.gro = offload.NewCoalescer()
		w.udp = udp && t.Offloads&(offload.TunUSO4|offload.TunUSO6) == offload.TunUSO4|offload.TunUSO6
	}
	w.fn = w.write
	return w
}

// Write delivers frames to the TAP in order, merging runs of one TCP flow
// (and of UDP, where configured) into superframes when the TAP takes
// them, and with several queues writing each frame to its flow's queue
// (offload.FlowQueue), the queue its replies are read from. It returns the
// frames the TAP took and their bytes, how many of them were merged into
// an earlier one, and the first error of the frames it refused, which are
// the rest. It returns os.ErrClosed at once when the device is closed.
// One goroutine writes to a device at a time.
func (t *Device) Write(frames [][]byte) (written, merged, bytes int, err error) {
	return t.WriteIntact(frames, nil)
}

// WriteIntact is Write for frames of which those with intact[i] set arrived
// with their bytes vouched for (an outer UDP checksum the kernel verified):
// they are coalesced without summing their TCP or UDP checksums again, and
// marked valid like the others. The rest are checked as Write checks them;
// intact may be nil or shorter than frames (then the rest are checked).
func (t *Device) WriteIntact(frames [][]byte, intact []bool) (written, merged, bytes int, err error) {
	w := t.w
	w.written, w.merged, w.bytes, w.err = 0, 0, 0, nil
	for i, f := range frames {
		if w.frame(f, i < len(intact) && intact[i]) {
			return w.written, w.merged, w.bytes, os.ErrClosed
		}
	}
	if w.flush() {
		return w.written, w.merged, w.bytes, os.ErrClosed
	}
	return w.written, w.merged, w.bytes, w.err
}

// frame delivers one frame, or holds it back in the pending superframe. A
// frame that continues no superframe flushes the pending one first, so
// frames keep their order. An intact frame's checksum is not summed again
// (see WriteIntact). It reports whether the device is closed.
func (w *writer) frame(frame []byte, intact bool) (closed bool) {
	if w.gro == nil {
		var hdr []byte
		if w.t.VnetHdr {
			hdr = w.zero[:]
		}
		return w.count(1, len(frame), w.writeRaw(hdr, frame))
	}
	g := w.gro
	parse := offload.ParseSegment
	if intact {
		parse = offload.ParseIntactSegment
	}
	if !parse(frame, &w.seg, w.udp) {
		if w.flush() {
			return true
		}
		return w.count(1, len(frame), w.writeRaw(w.zero[:], frame))
	}
	if g.TryAppend(frame, &w.seg) {
		w.pendFrames++
		w.pendBytes += len(frame)
		return false
	}
	if w.flush() {
		return true
	}
	g.Start(frame, &w.seg)
	w.pendFrames, w.pendBytes = 1, len(frame)
	return false
}

// flush writes the pending superframe, if any, and reports whether the
// device is closed.
func (w *writer) flush() (closed bool) {
	if w.gro == nil || !w.gro.Pending() {
		return false
	}
	frames, bytes := w.pendFrames, w.pendBytes
	w.pendFrames, w.pendBytes = 0, 0
	err := w.writeRaw(nil, w.gro.Finish())
	if err == nil {
		w.merged += frames - 1
	}
	return w.count(frames, bytes, err)
}

// count records the fate of a write of frames frames of bytes bytes in all
// and reports whether the device is closed.
func (w *writer) count(frames, bytes int, err error) (closed bool) {
	if err == nil {
		w.written += frames
		w.bytes += bytes
		return false
	}
	if errors.Is(err, os.ErrClosed) {
		return true
	}
	if w.err == nil {
		w.err = err
	}
	return false
}

// write runs inside RawConn.Write. The descriptor is non-blocking, so a raw
// system call cannot stall the scheduler; here and in the other loops this
// spares the scheduler's bookkeeping around each call.
func (w *writer) write(fd uintptr) bool {
	_, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(w.niov))
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	w.errno = e
	return true
}

// writeRaw hands b (virtio-net header included if the TAP has one) to the
// kernel, with hdr first if it is not nil.
func (w *writer) writeRaw(hdr, b []byte) error {
	w.niov = 0
	if hdr != nil {
		w.iov[0].Base = &hdr[0]
		w.iov[0].SetLen(len(hdr))
		w.niov++
	}
	w.iov[w.niov].Base = &b[0]
	w.iov[w.niov].SetLen(len(b))
	w.niov++
	w.errno = 0
	q := 0
	if n := len(w.t.queues); n > 1 {
		frame := b
		if w.t.VnetHdr && hdr == nil {
			frame = b[offload.VnetHdrLen:]
		}
		q = offload.FlowQueue(frame, n)
	}
	if err := w.t.queues[q].rc.Write(w.fn); err != nil {
		return os.ErrClosed // the poller fails only once the file is closed
	}
	if w.errno != 0 {
		return w.errno
	}
	return nil
}
