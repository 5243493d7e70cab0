//go:build linux

package vhostuser

import (
	"encoding/binary"

	"github.com/l2tap/l2tap/internal/offload"
)

// maxRunHdr bounds the headers of a frame that starts a run: Ethernet with
// two tags, IPv6 without extension headers, and the longest TCP header.
const maxRunHdr = 14 + 8 + 40 + 60

// rxRun is a run of TCP segments of one flow being coalesced in place: the
// first segment's headers are kept here, and every segment's payload is
// written straight into the guest's receive buffers behind room for the
// virtio-net header and those headers, which finish writes once the run
// ends. It does what offload.Coalescer does (the same conditions to join
// a run, the same superframe), without gathering the run first.
//
// Nothing is read back from guest memory: the headers are compared and
// rewritten in this copy, and the buffers' addresses and lengths come from
// the chains as walk copied them, the first chain kept in the queue's
// first.
type rxRun struct {
	segs    int // segments in the run; 0: none
	hdr     [maxRunHdr]byte
	l3, l4  int
	hdrLen  int
	v6      bool
	mss     int    // payload bytes of the first segment
	nextSeq uint32 // sequence number the next segment must have
	closed  bool   // a short or PSH segment ended the run
	n       int    // frame bytes in the run, headers included

	// The buffers: chains taken (their heads and the bytes written in
	// each, for the used ring), the last one's descriptors in the queue's
	// chain and its writable bytes.
	heads []uint16
	lens  []uint32
	room  uint64
}

// runSeg is what a run needs of a segment ParseSegment accepted.
type runSeg struct {
	l3, l4, hdrLen, end int
	v6                  bool
	seq                 uint32
	flags               uint8
}

func (s *runSeg) parse(frame []byte) {
	var p offload.Packet
	offload.Parse(frame, &p) // ParseSegment accepted it
	*s = runSeg{l3: p.L3, l4: p.L4, hdrLen: p.HdrLen, end: p.End, v6: p.V6,
		seq: binary.BigEndian.Uint32(frame[p.L4+4:]), flags: frame[p.L4+13]}
}

// start begins a run with segment s of frame, taking the next receive
// chain; it reports false, with nothing taken or written, when the first
// chain cannot hold the virtio-net header and the headers or the headers
// are longer than maxRunHdr (the frame then goes on its own), and fails
// for no buffer or a bad one.
func (w *rxWriter) start(frame []byte, s *runSeg) (ok bool, err error) {
	q, hl := w.q, w.b.hdrLen
	r := &w.rr
	idx, err := q.availIdx()
	if err != nil {
		w.fatal = err
		return false, err
	}
	if idx == q.lastAvail {
		return false, ErrNoBuffers
	}
	head := q.head(0)
	if err := q.walk(&w.b.mem, head); err != nil {
		w.fatal = err
		return false, err
	}
	room := writable(q.chain)
	plen := s.end - s.hdrLen
	if s.hdrLen > maxRunHdr || room < uint64(hl+s.hdrLen) || (!w.mrg && room < uint64(hl+s.end)) {
		return false, nil
	}
	q.first = append(q.first[:0], q.chain...)
	r.heads, r.lens = append(r.heads[:0], head), append(r.lens[:0], uint32(hl+s.hdrLen))
	r.room = room - uint64(hl+s.hdrLen)
	copy(r.hdr[:], frame[:s.hdrLen])
	r.segs, r.n = 1, s.end
	r.l3, r.l4, r.hdrLen, r.v6 = s.l3, s.l4, s.hdrLen, s.v6
	r.mss, r.nextSeq = plen, s.seq+uint32(plen)
	r.closed = s.flags&0x08 != 0 // PSH
	if !w.appendPayload(frame[s.hdrLen:s.end]) {
		r.segs = 0
		if w.fatal != nil {
			return false, w.fatal
		}
		return false, nil
	}
	return true, nil
}

// tryAppend adds segment s of frame to the run if it continues it and its
// payload fits in the buffers, and reports whether it did.
func (w *rxWriter) tryAppend(frame []byte, s *runSeg) bool {
	r := &w.rr
	if r.segs == 0 || r.closed || s.v6 != r.v6 || s.l3 != r.l3 || s.l4 != r.l4 || s.hdrLen != r.hdrLen || s.seq != r.nextSeq {
		return false
	}
	plen := s.end - s.hdrLen
	if plen > r.mss || r.n+plen > offload.MaxFrame || r.n-s.l3+plen > 65535 {
		return false
	}
	p := r.hdr[:r.hdrLen]
	l3, l4 := s.l3, s.l4
	// Everything but lengths, IDs, checksums, sequence number and PSH must match.
	if !offload.SameIPHeaders(frame, p, l3, l4, s.v6) || !offload.SameTCPHeader(frame, p, l4, s.hdrLen) {
		return false
	}
	if !w.mrg && r.room < uint64(plen) {
		return false
	}
	if !w.appendPayload(frame[s.hdrLen:s.end]) {
		return false
	}
	r.n += plen
	r.segs++
	r.nextSeq += uint32(plen)
	if s.flags&0x08 != 0 {
		p[l4+13] |= 0x08
		r.closed = true
	}
	if plen < r.mss {
		r.closed = true
	}
	return true
}

// appendPayload writes b at the end of the run's buffers, taking further
// chains (MRG_RXBUF) as it goes, and reports whether it did; when the
// guest has posted too few buffers, or a bad one (then w.fatal is set), it
// takes back the chains it took for b, leaving the run as it was.
func (w *rxWriter) appendPayload(b []byte) bool {
	q, r := w.q, &w.rr
	chains, last := len(r.heads), r.lens[len(r.lens)-1]
	if uint64(len(b)) > r.room && w.mrg {
		// Nothing is written for a payload that needs a chain the guest
		// has not posted.
		idx, err := q.availIdx()
		if err != nil {
			w.fatal = err
			return false
		}
		if uint16(chains) == idx-q.lastAvail {
			r.closed = true
			return false
		}
	}
	for len(b) > 0 {
		if r.room == 0 {
			if !w.mrg || !w.nextChain() {
				w.rollback(chains, last)
				return false
			}
		}
		i := len(r.lens) - 1
		n := min(r.room, uint64(len(b)))
		chain := q.chain
		if i == 0 {
			chain = q.first
		}
		if err := w.copyOut(chain, int(r.lens[i]), b[:n]); err != nil {
			w.rollback(chains, last)
			return false
		}
		r.lens[i] += uint32(n)
		r.room -= n
		b = b[n:]
	}
	return true
}

// rollback takes back the chains taken after the first chains ones and
// the bytes written after last in the chain then last, and closes the
// run: the descriptors of its last chain may be gone from the queue's
// chain, so nothing more is appended before finishRun writes it.
func (w *rxWriter) rollback(chains int, last uint32) {
	r := &w.rr
	r.heads, r.lens = r.heads[:chains], r.lens[:chains]
	r.lens[chains-1] = last
	r.closed = true
}

// nextChain takes the next receive chain into the run and reports whether
// there was one; a bad one sets w.fatal.
func (w *rxWriter) nextChain() bool {
	q, r := w.q, &w.rr
	idx, err := q.availIdx()
	if err != nil {
		w.fatal = err
		return false
	}
	if uint16(len(r.heads)) == idx-q.lastAvail {
		return false
	}
	head := q.head(uint16(len(r.heads)))
	if err := q.walk(&w.b.mem, head); err != nil {
		w.fatal = err
		return false
	}
	room := writable(q.chain)
	if room == 0 {
		w.fatal = frontendError("receive chain without writable room")
		return false
	}
	r.heads, r.lens, r.room = append(r.heads, head), append(r.lens, 0), room
	return true
}

// finishRun completes the run's headers and virtio-net header, writes them
// in front of the payload in the first chain, and fills the used entries
// of its chains, which publish makes visible. A run of one segment goes
// as it came, marked as checksum-verified.
func (w *rxWriter) finishRun() error {
	q, r, hl := w.q, &w.rr, w.b.hdrLen
	segs := r.segs
	r.segs, r.closed = 0, false
	var vh [12]byte
	p := r.hdr[:r.hdrLen]
	if segs > 1 {
		l3, l4 := r.l3, r.l4
		var src, dst []byte
		gso := uint8(offload.VnetGSOTCPv4)
		if r.v6 {
			binary.BigEndian.PutUint16(p[l3+4:], uint16(r.n-l4))
			src, dst = p[l3+8:l3+24], p[l3+24:l3+40]
			gso = offload.VnetGSOTCPv6
		} else {
			ip := p[l3:l4]
			binary.BigEndian.PutUint16(ip[2:], uint16(r.n-l3))
			ip[10], ip[11] = 0, 0
			offload.PutCsum(ip[10:], offload.CsumAdd(0, ip))
			src, dst = ip[12:16], ip[16:20]
		}
		offload.PutPartialCsum(p[l4+16:], offload.PseudoHeaderSum(src, dst, offload.ProtoTCP, r.n-l4))
		vh[0], vh[1] = offload.VnetFlagNeedsCsum, gso
		binary.LittleEndian.PutUint16(vh[2:], uint16(r.hdrLen))
		binary.LittleEndian.PutUint16(vh[4:], uint16(r.mss))
		binary.LittleEndian.PutUint16(vh[6:], uint16(l4))
		binary.LittleEndian.PutUint16(vh[8:], 16)
	} else {
		vh[0] = offload.VnetFlagDataValid
	}
	binary.LittleEndian.PutUint16(vh[10:], uint16(len(r.heads)))
	if err := w.copyOut(q.first, 0, vh[:hl]); err != nil {
		return err
	}
	if err := w.copyOut(q.first, hl, p); err != nil {
		return err
	}
	for i, h := range r.heads {
		q.putUsed(uint16(i), h, r.lens[i])
	}
	q.lastAvail += uint16(len(r.heads))
	q.lastUsed += uint16(len(r.heads))
	return nil
}
