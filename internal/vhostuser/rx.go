//go:build linux

package vhostuser

import (
	"encoding/binary"
	"errors"
	"runtime/debug"

	"github.com/l2tap/l2tap/internal/offload"
)

// rxWriter fills the guest's receive queue: frames straight behind a
// virtio-net header, or coalesced into superframes where the guest takes
// them (GUEST_CSUM, and GUEST_TSO4 or GUEST_TSO6 for the IP version).
type rxWriter struct {
	b    *Backend
	rr   rxRun // the run being coalesced in place
	mrg  bool  // MRG_RXBUF: a frame may take several buffers
	seg  offload.Segment
	rs   runSeg
	zero [12]byte
	hdr  [12]byte
	nb   [2]byte
	// pendFrames and pendBytes are the frames held in the pending
	// superframe, counted only once it is written.
	pendFrames, pendBytes int
	// The outcome of the Write under way.
	written, merged, bytes int
	err                    error
	fatal                  error // a bad value from the frontend
	q                      *queue
}

func newRxWriter(b *Backend) *rxWriter {
	return &rxWriter{b: b, q: &b.q[rxQueue]}
}

// configure applies the negotiated features; both queue locks are held.
func (w *rxWriter) configure(f uint64) {
	w.mrg = f&FeatNetMrgRxbuf != 0
}

// coalesce reports whether the guest takes TCP superframes with partial
// checksums, of IPv4, IPv6 or both.
func (w *rxWriter) coalesce() bool {
	f := w.b.features
	return f&FeatNetGuestCsum != 0 && f&(FeatNetGuestTSO4|FeatNetGuestTSO6) != 0
}

// takes reports whether the guest takes a superframe of frame's IP
// version, when it took TSO for one version only.
func (w *rxWriter) takes(frame []byte) bool {
	const both = FeatNetGuestTSO4 | FeatNetGuestTSO6
	f := w.b.features
	if f&both == both {
		return true
	}
	var p offload.Packet
	if !offload.Parse(frame, &p) {
		return false
	}
	return p.V6 == (f&FeatNetGuestTSO6 != 0)
}

// Write delivers frames to the guest's receive queue in order, merging
// runs of one TCP flow into superframes when the guest takes them, with
// one call for the batch. Every frame is copied once: a run's payloads
// straight into the guest's buffers, its headers written once it ends. It returns the frames the guest took and their
// bytes, how many of them were merged into an earlier one, and the first
// error of the frames refused, which are the rest: ErrNoFrontend while no
// frontend runs the queue, ErrNoBuffers when the guest posted too few
// buffers; Stats counts the frames refused under each. A bad descriptor
// ends the frontend's connection. One goroutine writes at a time.
func (b *Backend) Write(frames [][]byte) (written, merged, bytes int, err error) {
	return b.WriteIntact(frames, nil)
}

// WriteIntact is Write for frames of which those with intact[i] set
// arrived with their bytes vouched for: they are coalesced without summing
// their TCP checksums again (see engine.IntactWriter).
func (b *Backend) WriteIntact(frames [][]byte, intact []bool) (written, merged, bytes int, err error) {
	q := &b.q[rxQueue]
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.ready() || !q.enabled {
		b.noFrontend.Add(uint64(len(frames)))
		return 0, 0, 0, ErrNoFrontend
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	w := b.rx
	w.written, w.merged, w.bytes, w.err, w.fatal = 0, 0, 0, nil, nil
	w.run(frames, intact)
	if w.fatal != nil {
		q.broken = true
		b.fail(w.fatal)
		if w.err == nil {
			w.err = ErrNoFrontend
		}
	}
	if w.err != nil {
		b.countRefused(len(frames)-w.written, w.err)
	}
	return w.written, w.merged, w.bytes, w.err
}

// countRefused counts n frames Write refused for err under its reason.
func (b *Backend) countRefused(n int, err error) {
	switch {
	case errors.Is(err, ErrNoBuffers):
		b.noBuffers.Add(uint64(n))
	case errors.Is(err, ErrNoFrontend):
		b.noFrontend.Add(uint64(n))
	}
}

// run writes frames and publishes the used entries; a fault in the
// guest's memory becomes the frontend's error.
func (w *rxWriter) run(frames [][]byte, intact []bool) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(interface{ Addr() uintptr }); !ok {
				panic(p)
			}
			w.fatal = frontendError("fault in guest memory: %v", p)
		}
	}()
	gro := w.coalesce()
	for i, f := range frames {
		if w.frame(f, gro, i < len(intact) && intact[i]) {
			break
		}
	}
	if w.fatal == nil && w.err == nil {
		w.flush()
	}
	if w.rr.segs > 0 { // refused with the rest: its chains are not taken
		w.rr.segs, w.rr.closed = 0, false
		w.pendFrames, w.pendBytes = 0, 0
	}
	if w.fatal == nil {
		w.q.publish()
	}
}

// frame delivers one frame, or holds it back in the pending superframe,
// and reports whether writing must stop.
func (w *rxWriter) frame(frame []byte, gro, intact bool) (stop bool) {
	if !gro {
		return w.count(1, len(frame), w.put(w.zero[:offload.VnetHdrLen], frame))
	}
	parse := offload.ParseSegment
	if intact {
		parse = offload.ParseIntactSegment
	}
	if !parse(frame, &w.seg, false) || !w.takes(frame) {
		if w.flush() {
			return true
		}
		return w.count(1, len(frame), w.put(w.zero[:offload.VnetHdrLen], frame))
	}
	w.rs.parse(frame)
	if w.tryAppend(frame, &w.rs) {
		w.pendFrames++
		w.pendBytes += len(frame)
		return false
	}
	if w.fatal != nil {
		return w.count(1, len(frame), w.fatal)
	}
	if w.flush() {
		return true
	}
	ok, err := w.start(frame, &w.rs)
	if err != nil {
		return w.count(1, len(frame), err)
	}
	if !ok {
		return w.count(1, len(frame), w.put(w.zero[:offload.VnetHdrLen], frame))
	}
	w.pendFrames, w.pendBytes = 1, len(frame)
	return false
}

// flush writes the pending run's headers, if there is a run, and reports
// whether writing must stop.
func (w *rxWriter) flush() (stop bool) {
	if w.rr.segs == 0 {
		return false
	}
	frames, bytes := w.pendFrames, w.pendBytes
	w.pendFrames, w.pendBytes = 0, 0
	err := w.finishRun()
	if err == nil {
		w.merged += frames - 1
	}
	return w.count(frames, bytes, err)
}

// count records the fate of frames frames of bytes bytes and reports
// whether writing must stop.
func (w *rxWriter) count(frames, bytes int, err error) (stop bool) {
	if err == nil {
		w.written += frames
		w.bytes += bytes
		return false
	}
	if w.err == nil && w.fatal == nil {
		w.err = err
	}
	return true
}

// put copies a virtio-net header (its first 10 bytes in vh) and frame into
// the guest's receive buffers: one chain, or with MRG_RXBUF as many as it
// takes, num_buffers saying how many. The used entries wait for publish.
// Nothing is taken from the queue for a frame that does not fit.
func (w *rxWriter) put(vh, frame []byte) error {
	q, b := w.q, w.b
	hl := b.hdrLen
	copy(w.hdr[:], vh)
	w.hdr[10], w.hdr[11] = 1, 0
	need := uint64(hl + len(frame))
	idx, err := q.availIdx()
	if err != nil {
		w.fatal = err
		return err
	}
	avail := idx - q.lastAvail
	var used uint16 // chains taken, their used entries filled
	var done uint64 // bytes written
	for done < need {
		if used == avail || (!w.mrg && used == 1) {
			return ErrNoBuffers // nothing of this frame is published
		}
		head := q.head(used)
		if err := q.walk(&b.mem, head); err != nil {
			w.fatal = err
			return err
		}
		room := writable(q.chain)
		if room == 0 || (!w.mrg && room < need) {
			if !w.mrg {
				return ErrNoBuffers
			}
			w.fatal = frontendError("receive chain without writable room")
			return w.fatal
		}
		if done == 0 && room < uint64(hl) {
			// Every receive buffer holds at least the header (virtio 5.1.6.3.1).
			w.fatal = frontendError("receive buffer of %d bytes for a %d-byte header", room, hl)
			return w.fatal
		}
		n := min(room, need-done)
		if done == 0 {
			// The header first, in the first chain; kept for num_buffers.
			q.first = append(q.first[:0], q.chain...)
			if err := w.copyOut(q.chain, 0, w.hdr[:hl]); err != nil {
				return err
			}
			if err := w.copyOut(q.chain, hl, frame[:n-uint64(hl)]); err != nil {
				return err
			}
		} else if err := w.copyOut(q.chain, 0, frame[done-uint64(hl):done-uint64(hl)+n]); err != nil {
			return err
		}
		q.putUsed(used, head, uint32(n))
		used++
		done += n
	}
	if w.mrg && used > 1 {
		binary.LittleEndian.PutUint16(w.nb[:], used)
		if err := w.copyOut(q.first, 10, w.nb[:]); err != nil {
			return err
		}
	}
	q.lastAvail += used
	q.lastUsed += used
	return nil
}

// copyOut writes src into chain's writable descriptors from offset skip.
func (w *rxWriter) copyOut(chain []buf, skip int, src []byte) error {
	n, err := writeChain(&w.b.mem, chain, skip, src)
	if err == nil && n < len(src) {
		err = frontendError("receive chain shorter than it said")
	}
	if err != nil {
		w.fatal = err
	}
	return err
}
