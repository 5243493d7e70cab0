//go:build linux

package tap

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/l2tap/l2tap/internal/offload"
	"golang.org/x/sys/unix"
)

// reader is the state of one queue's reads: the virtio-net header and the
// superframe being cut into frames, which may span several Reads.
type reader struct {
	vnet  bool
	stage []byte // one TAP read, virtio-net header included (vnet only)
	hdr   offload.VnetHdr
	split offload.Splitter
	inGSO bool // split holds segments not yet returned

	// The arguments of the ReadLoop and the batch being filled.
	d        *Device
	arena    []byte
	used     int
	headroom int
	pkts     [][]byte
	n        int
	send     func([][]byte) error
	dropped  func(error)
	errno    syscall.Errno // a read failed: the loop ends
	sendErr  error         // send failed: the loop ends
	fn       func(fd uintptr) bool
}

func newReader(vnet bool) *reader {
	r := &reader{vnet: vnet}
	if vnet {
		r.stage = make([]byte, offload.VnetHdrLen+offload.MaxFrame)
	}
	r.fn = r.service
	return r
}

// ReadLoop reads queue q until the device is closed, and hands the frames
// it reads to send in batches: as many as the queue holds, up to
// len(pkts) and as far as arena allows, each packed into arena after
// headroom bytes for the caller's headers (at most
// headroom+offload.MaxFrame bytes in all), pkts[i] being frame i with its
// headroom in front. A batch ends when the queue is drained or the space
// is full; its slices are valid until send returns. A superframe from an
// offloading TAP is cut into frames; what does not fit continues in the
// next batch. Malformed offloaded reads are dropped, counted (see
// ReadStats) and passed to dropped, if not nil.
//
// ReadLoop returns nil once the device is closed, send's error if send
// fails, and the read error otherwise (the TAP was deleted, say). The
// reads and the sends alternate within one wait for the queue, so a busy
// queue costs no system call beyond the reads themselves. One goroutine
// reads each queue.
func (t *Device) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	r := t.queues[q].rd
	r.d, r.arena, r.headroom, r.pkts, r.send, r.dropped = t, arena, headroom, pkts, send, dropped
	err := t.queues[q].rc.Read(r.fn)
	switch {
	case r.sendErr != nil:
		return r.sendErr
	case err != nil:
		return nil // the poller fails only once the file is closed
	case r.errno != 0:
		return fmt.Errorf("read TAP %q: %w", t.Name, r.errno)
	}
	return nil
}

// service reads and sends until the queue is drained (it returns false:
// the caller waits) or the loop must stop (true, with errno or sendErr).
func (r *reader) service(fd uintptr) bool {
	for {
		full := r.fill(fd)
		if r.n > 0 {
			err := r.send(r.pkts[:r.n])
			r.n, r.used = 0, 0
			if err != nil {
				r.sendErr = err
				return true
			}
		}
		if r.errno != 0 {
			return true
		}
		if !full {
			return false
		}
	}
}

// room returns the free part of the arena if a packet of up to max bytes
// (headroom included) fits there and in pkts, or nil.
func (r *reader) room(max int) []byte {
	if r.n == len(r.pkts) || len(r.arena)-r.used < max {
		return nil
	}
	return r.arena[r.used:]
}

// add records a packet of n bytes (headroom included) at the start of room.
func (r *reader) add(n int) {
	r.pkts[r.n] = r.arena[r.used : r.used+n : r.used+n]
	r.n++
	r.used += n
}

// queueSegments moves split's remaining segments into the arena; it stops
// early, leaving inGSO set, when the arena or pkts is full.
func (r *reader) queueSegments() bool {
	for r.split.More() {
		room := r.room(r.headroom + r.split.MaxSegment())
		if room == nil {
			return false
		}
		r.add(r.headroom + r.split.Next(room[r.headroom:]))
	}
	r.inGSO = false
	return true
}

// fill reads frames until the TAP has no more (it returns false), or the
// arena or pkts is full or a read fails (true, errno set on failure).
func (r *reader) fill(fd uintptr) bool {
	for {
		if r.inGSO && !r.queueSegments() {
			return true
		}
		room := r.room(r.headroom + offload.MaxFrame)
		if room == nil {
			return true
		}
		buf := room[r.headroom : r.headroom+offload.MaxFrame]
		if r.vnet {
			buf = r.stage
		}
		// The descriptor is non-blocking: a raw system call never blocks and
		// spares the scheduler's bookkeeping.
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e != 0 {
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			r.errno = e
			return true
		}
		if !r.vnet {
			r.add(r.headroom + int(n))
			continue
		}
		frame := buf[offload.VnetHdrLen:n]
		if err := r.hdr.Decode(buf[:n]); err != nil {
			r.offloadError(err)
			continue
		}
		if !r.hdr.IsGSO() {
			if r.hdr.NeedsCsum() {
				if err := offload.CompleteCsum(frame, &r.hdr); err != nil {
					r.offloadError(err)
					continue
				}
			}
			r.add(r.headroom + copy(room[r.headroom:], frame))
			continue
		}
		if err := r.split.Init(frame, &r.hdr); err != nil {
			r.offloadError(err)
			continue
		}
		r.d.superframes.Add(1)
		r.inGSO = true
	}
}

func (r *reader) offloadError(err error) {
	r.d.offloadErrors.Add(1)
	if r.dropped != nil {
		r.dropped(err)
	}
}

// ReadStats returns how many offloaded reads were cut into frames and how
// many were dropped as malformed, over all queues.
func (t *Device) ReadStats() (superframes, offloadErrors uint64) {
	return t.superframes.Load(), t.offloadErrors.Load()
}
