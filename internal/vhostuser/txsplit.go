//go:build linux

package vhostuser

import (
	"encoding/binary"

	"github.com/l2tap/l2tap/internal/offload"
)

// chainSplitter cuts a guest superframe (TSO or USO) into the frames it
// stands for straight from the guest's buffers: each frame is the
// superframe's headers, rewritten for that segment, and its payload,
// copied once from the descriptor chain into the frame. It does what
// offload.Splitter does to a superframe gathered into one buffer, and
// leaves the checking of the headers to it (see init).
//
// The guest may change its memory while it is read. Nothing validated is
// read from it twice: the virtio-net header and the superframe's headers
// are copied out once (hdr) and checked there, every segment's headers
// are built from that copy, the descriptors' addresses and lengths come
// from the chain as walk copied it (kept here, so that the queue's chain
// may be walked again), and every payload byte is copied once into the
// output frame, its checksum summed from that copy. A guest that changes
// a payload meanwhile sends what it changed it to, with a checksum that
// matches what was sent; every address is translated through the memory
// table again when it is read, so a table changed between two batches
// is obeyed, never bypassed.
type chainSplitter struct {
	hdr     []byte // the superframe's headers (hdrLen bytes), copied from the guest
	chain   []buf  // the superframe's descriptors
	ci      int    // the descriptor holding the next payload byte
	coff    uint64 // that byte's offset in it
	l3, l4  int    // offsets of the IP and the TCP/UDP header
	hdrLen  int    // all headers
	mss     int    // payload bytes per segment
	plen    int    // payload bytes in all
	pos     int    // payload bytes cut so far
	i       int    // index of the next segment
	v6, udp bool
	ipID    uint16 // IPv4 ID of the first segment
	seq     uint32 // TCP sequence number of the first segment
	flags   uint8  // TCP flags of the superframe
}

// init prepares to cut a superframe of flen bytes that follows skip bytes
// (its virtio-net header) in chain. head holds the first bytes of the
// superframe, at least all of its headers if it is well formed (the L4
// header starts at the header's checksum start and is at most 60 bytes),
// vh its virtio-net header and raw that header's bytes. split checks the
// headers as it checks a TAP's superframe; an error of its is the
// superframe's, to be dropped and counted.
func (s *chainSplitter) init(split *offload.Splitter, head []byte, flen int, vh *offload.VnetHdr, raw []byte, chain []buf, skip int) error {
	if err := split.Init(head, vh); err != nil {
		return err
	}
	mss := int(binary.LittleEndian.Uint16(raw[4:]))
	hdrLen := split.MaxSegment() - mss
	var p offload.Packet
	offload.Parse(head, &p) // it succeeded in split.Init
	*s = chainSplitter{
		hdr:    head[:hdrLen],
		chain:  append(s.chain[:0], chain...),
		l3:     p.L3,
		l4:     int(binary.LittleEndian.Uint16(raw[6:])),
		hdrLen: hdrLen,
		mss:    mss,
		plen:   flen - hdrLen,
		v6:     p.V6,
		udp:    raw[1]&^offload.VnetGSOECN == offload.VnetGSOUDPL4,
	}
	if !s.v6 {
		s.ipID = binary.BigEndian.Uint16(head[s.l3+4:])
	}
	if !s.udp {
		s.seq = binary.BigEndian.Uint32(head[s.l4+4:])
		s.flags = head[s.l4+13]
	}
	s.seek(uint64(skip + hdrLen))
	return nil
}

// seek moves the payload cursor n bytes into the chain's readable bytes.
func (s *chainSplitter) seek(n uint64) {
	for s.ci < len(s.chain) && n > 0 {
		if l := uint64(s.chain[s.ci].len); n >= l {
			n -= l
			s.ci++
			continue
		}
		s.coff = n
		return
	}
}

// more reports whether segments remain. A superframe without payload still
// yields one frame.
func (s *chainSplitter) more() bool { return s.pos < s.plen || s.i == 0 }

// maxSegment is the size of the largest frame next writes.
func (s *chainSplitter) maxSegment() int { return s.hdrLen + s.mss }

// next writes the next segment into dst, which must hold maxSegment bytes,
// and returns its length. It fails only for a buffer outside the memory
// table, which ends the frontend's connection.
func (s *chainSplitter) next(mem *memTable, dst []byte) (int, error) {
	end := min(s.pos+s.mss, s.plen)
	last := end == s.plen
	n := s.hdrLen + end - s.pos
	countCopy(copy(dst[:s.hdrLen], s.hdr))
	if err := s.read(mem, dst[s.hdrLen:n]); err != nil {
		return 0, err
	}
	offload.FinishSegment(dst[:n], s.l3, s.l4, s.v6, s.udp, s.ipID, s.i, s.seq+uint32(s.pos), s.flags, last)
	s.pos = end
	s.i++
	return n, nil
}

// read copies the next len(dst) payload bytes from the chain into dst.
func (s *chainSplitter) read(mem *memTable, dst []byte) error {
	n := 0
	for n < len(dst) {
		if s.ci == len(s.chain) || s.chain[s.ci].write {
			return frontendError("transmit chain shorter than it said")
		}
		b := s.chain[s.ci]
		if s.coff == uint64(b.len) { // an empty descriptor, or one used up
			s.ci, s.coff = s.ci+1, 0
			continue
		}
		addr := b.addr + s.coff
		p, ok := mem.guestPart(addr, min(uint64(b.len)-s.coff, uint64(len(dst)-n)))
		if !ok || addr+uint64(len(p)) < addr {
			return frontendError("buffer %#x+%d outside the memory table", b.addr, b.len)
		}
		c := copy(dst[n:], p)
		countCopy(c)
		n += c
		s.coff += uint64(c)
	}
	return nil
}
