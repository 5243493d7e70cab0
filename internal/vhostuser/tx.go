//go:build linux

package vhostuser

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"syscall"

	"github.com/l2tap/l2tap/internal/offload"
)

// txReader is the state of the transmit queue's reads: the superframe
// being cut into frames, which may span several batches, and the batch
// being filled.
type txReader struct {
	b     *Backend
	hdr   offload.VnetHdr
	hbuf  [12]byte
	stage []byte // a guest superframe's headers, copied to be checked and cut
	split offload.Splitter
	cut   chainSplitter
	// inGSO: the superframe in cut is being cut; its chain, at gsoHead,
	// goes back to the guest with its last frame, while the queue's
	// generation is still gen.
	inGSO   bool
	gsoHead uint16
	gen     uint32

	arena    []byte
	used     int
	headroom int
	pkts     [][]byte
	n        int
	dropped  func(error)
	kickBuf  [8]byte
	kickFn   func(fd uintptr) bool
}

func newTxReader(b *Backend) *txReader {
	r := &txReader{b: b, stage: make([]byte, offload.MaxFrame)}
	r.kickFn = r.drainKick
	return r
}

func (r *txReader) drainKick(fd uintptr) bool {
	_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptrOf(r.kickBuf[:]), 8)
	return e != syscall.EAGAIN
}

// ReadLoop reads the guest's transmit queue until the backend is closed
// (it then returns nil) and hands the frames to send in batches, each
// packed into arena after headroom bytes (at most headroom+offload.MaxFrame
// per frame), pkts[i] being frame i with its headroom in front; a batch's
// slices are valid until send returns. A batch is what the queue holds, up
// to len(pkts) frames and as far as arena allows; the descriptors are
// returned to the guest before send is called, with one call for the
// batch. A guest superframe (TSO) is cut into frames as the TAP's are,
// straight from the guest's buffers; what does not fit continues in the
// next batch, and the superframe's descriptors go back to the guest with
// its last frame. Every frame is copied once. A frame with a partial
// checksum has it completed. Frames the guest sends malformed are
// dropped, counted (see ReadStats) and passed to dropped, if not nil;
// while no frontend runs the queue ReadLoop waits. A bad descriptor ends
// the frontend's connection; ReadLoop goes on with the next frontend. It
// returns send's error if send fails. q must be 0; one goroutine reads.
func (b *Backend) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	if q != 0 {
		return fmt.Errorf("vhost-user: queue %d of 1", q)
	}
	r := b.tx
	r.arena, r.headroom, r.pkts, r.dropped = arena, headroom, pkts, dropped
	// The guest's memory is a file it may shrink under the mapping: a
	// fault there must end its connection, not the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	tq := &b.q[txQueue]
	for {
		tq.mu.Lock()
		if b.closed() {
			tq.mu.Unlock()
			return nil
		}
		if !tq.ready() {
			r.inGSO = false
			wake := b.wake
			tq.mu.Unlock()
			select {
			case <-wake:
			case <-b.done:
			}
			continue
		}
		wait, err := r.step(tq)
		if wait {
			rc := tq.kickRC
			tq.mu.Unlock()
			rc.Read(r.kickFn)
			tq.mu.Lock()
			if tq.ready() {
				tq.quiet()
			}
			tq.mu.Unlock()
			continue
		}
		if err != nil {
			tq.broken = true
			b.fail(err)
		}
		tq.mu.Unlock()
		if r.n > 0 {
			err := send(r.pkts[:r.n])
			r.n, r.used = 0, 0
			if err != nil {
				return err
			}
		}
	}
}

// step fills the batch from the queue until it is full or the queue
// holds no more, returns the descriptors to the guest, and reports whether
// the queue is empty and a kick armed: then the caller waits for it. tq.mu
// is held. A fault in the guest's memory is returned as the frontend's
// error.
func (r *txReader) step(tq *queue) (wait bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(interface{ Addr() uintptr }); !ok {
				panic(p)
			}
			wait, err = false, frontendError("fault in guest memory: %v", p)
		}
	}()
	if err := r.batch(tq); err != nil {
		return false, err
	}
	tq.publish()
	if r.n > 0 {
		return false, nil
	}
	more, err := tq.armKick()
	return err == nil && !more, err
}

// batch fills the batch from the queue until it is full or the queue
// holds no more; tq.mu is held.
func (r *txReader) batch(tq *queue) error {
	b := r.b
	for {
		if r.inGSO && r.gen != tq.gen {
			// The queue was stopped since: the frontend took the
			// superframe back with the ring's state (GET_VRING_BASE
			// counts it as not taken).
			r.inGSO = false
		}
		if r.inGSO {
			if done, err := r.queueSegments(tq); !done || err != nil {
				return err
			}
		}
		if r.room(r.headroom+offload.MaxFrame) == nil {
			return nil
		}
		idx, err := tq.availIdx()
		if err != nil {
			return err
		}
		if idx == tq.lastAvail {
			return nil
		}
		head := tq.head(0)
		if err := tq.walk(&b.mem, head); err != nil {
			return err
		}
		if !tq.enabled {
			giveBack(tq, head) // a disabled ring's frames are discarded
			continue
		}
		gso, err := r.frame(tq)
		if err != nil {
			return err
		}
		if gso {
			r.inGSO, r.gsoHead, r.gen = true, head, tq.gen
			continue
		}
		giveBack(tq, head)
	}
}

// giveBack returns the chain at head, the next available entry, to the
// guest as used, with nothing written; publish makes it visible.
func giveBack(tq *queue, head uint16) {
	tq.putUsed(0, head, 0)
	tq.lastAvail++
	tq.lastUsed++
}

// frame takes the chain just walked as one guest frame, behind its
// virtio-net header, and reports whether it is a superframe to cut from
// the chain (see queueSegments), which keeps the chain until its last
// frame; the chain of any other frame, added or dropped, may go back.
func (r *txReader) frame(tq *queue) (gso bool, err error) {
	b := r.b
	total, anyWrite := readable(tq.chain)
	if anyWrite {
		return false, frontendError("writable descriptor in a transmit chain")
	}
	hl := b.hdrLen
	if total < uint64(hl) || total-uint64(hl) > offload.MaxFrame {
		r.offloadError(fmt.Errorf("%w: guest frame of %d bytes with its %d-byte header", offload.ErrBadGSO, total, hl))
		return false, nil
	}
	flen := int(total) - hl
	// The header is read once, into hbuf, and decoded from there.
	if _, err := readChain(&b.mem, tq.chain, 0, r.hbuf[:hl]); err != nil {
		return false, err
	}
	r.hdr.Decode(r.hbuf[:hl])
	room := r.room(r.headroom + offload.MaxFrame)
	if !r.hdr.IsGSO() {
		dst := room[r.headroom : r.headroom+flen]
		if _, err := readChain(&b.mem, tq.chain, hl, dst); err != nil {
			return false, err
		}
		if r.hdr.NeedsCsum() {
			if err := offload.CompleteCsum(dst, &r.hdr); err != nil {
				r.offloadError(err)
				return false, nil
			}
		}
		r.add(r.headroom + flen)
		return false, nil
	}
	// Only the headers are read here, once, into stage: the L4 header
	// starts at the checksum start and holds at most 60 bytes. They are
	// checked and every frame's headers built from this copy; the payload
	// is read by cut, once, into each frame.
	csumStart := int(binary.LittleEndian.Uint16(r.hbuf[6:]))
	head := r.stage[:min(flen, csumStart+60)]
	if _, err := readChain(&b.mem, tq.chain, hl, head); err != nil {
		return false, err
	}
	if err := r.cut.init(&r.split, head, flen, &r.hdr, r.hbuf[:hl], tq.chain, hl); err != nil {
		r.offloadError(err)
		return false, nil
	}
	b.superframes.Add(1)
	return true, nil
}

func (r *txReader) offloadError(err error) {
	r.b.offloadErrors.Add(1)
	if r.dropped != nil {
		r.dropped(err)
	}
}

// room returns the free part of the arena if a packet of up to max bytes
// (headroom included) fits there and in pkts, or nil.
func (r *txReader) room(max int) []byte {
	if r.n == len(r.pkts) || len(r.arena)-r.used < max {
		return nil
	}
	return r.arena[r.used:]
}

// add records a packet of n bytes (headroom included) at the start of room.
func (r *txReader) add(n int) {
	r.pkts[r.n] = r.arena[r.used : r.used+n : r.used+n]
	r.n++
	r.used += n
}

// queueSegments cuts the superframe's remaining segments into the arena
// and, with the last one, gives its chain back to the guest; it reports
// false, the superframe still pending, when the arena or pkts is full.
func (r *txReader) queueSegments(tq *queue) (done bool, err error) {
	for r.cut.more() {
		room := r.room(r.headroom + r.cut.maxSegment())
		if room == nil {
			return false, nil
		}
		n, err := r.cut.next(&r.b.mem, room[r.headroom:])
		if err != nil {
			return false, err
		}
		r.add(r.headroom + n)
	}
	r.inGSO = false
	giveBack(tq, r.gsoHead)
	return true, nil
}
