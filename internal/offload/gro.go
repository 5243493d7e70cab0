package offload

import (
	"bytes"
	"encoding/binary"
)

// Segment describes a frame that may be coalesced: an IPv4 (without
// options or fragmentation) or IPv6 (without extension headers) packet that
// is either a TCP segment carrying data, with only ACK and perhaps PSH set,
// or a UDP datagram; in both cases with a valid, non-zero checksum.
type Segment struct {
	l3, l4, hdrLen int // offsets of IP header, L4 header and payload
	end            int // end of the IP packet; Ethernet padding follows
	v6             bool
	udp            bool
	seq            uint32
	flags          uint8
}

// ParseSegment fills s from frame and reports whether frame is a
// candidate for coalescing; UDP datagrams only if udp is set. On top of
// Parse it asks for no IPv4 options or fragmentation, TCP or UDP right
// after the IP header, a packet wholly inside the frame with an L4 payload,
// the lengths and flags described on Segment, and a valid checksum. It
// never panics, whatever frame holds.
func ParseSegment(frame []byte, s *Segment, udp bool) bool {
	return parseSegment(frame, s, udp, true)
}

// ParseIntactSegment is ParseSegment without summing the TCP or UDP
// checksum, for a frame whose bytes something else has vouched for since
// its sender checksummed them: the kernel verified an outer UDP checksum
// covering the whole frame. Every other condition of ParseSegment holds,
// the non-zero UDP checksum included. It never panics, whatever frame
// holds.
func ParseIntactSegment(frame []byte, s *Segment, udp bool) bool {
	return parseSegment(frame, s, udp, false)
}

func parseSegment(frame []byte, s *Segment, udp, verify bool) bool {
	var p Packet
	if !Parse(frame, &p) || (p.Proto != ProtoTCP && (!udp || p.Proto != ProtoUDP)) {
		return false
	}
	if !p.V6 && (p.L4 != p.L3+20 || p.MoreFragments || p.FragOffset != 0) {
		return false
	}
	// A header within the packet and payload after it.
	if p.End > len(frame) || p.HdrLen == 0 || p.HdrLen >= p.End {
		return false
	}
	src, dst := p.Addrs(frame)
	l4 := frame[p.L4:p.End]
	if p.Proto == ProtoUDP {
		if int(binary.BigEndian.Uint16(l4[4:])) != len(l4) || l4[6]|l4[7] == 0 {
			return false // odd length, or no checksum to vouch for the data
		}
		if verify && CsumFold(CsumAdd(PseudoHeaderSum(src, dst, ProtoUDP, len(l4)), l4)) != 0xffff {
			return false
		}
		s.udp, s.v6 = true, p.V6
		s.l3, s.l4, s.hdrLen, s.end = p.L3, p.L4, p.HdrLen, p.End
		return true
	}
	flags := l4[13]
	if flags&^tcpFlagPSH != tcpFlagACK {
		return false // SYN, FIN, RST, URG, ECE or CWR
	}
	if verify && CsumFold(CsumAdd(PseudoHeaderSum(src, dst, ProtoTCP, len(l4)), l4)) != 0xffff {
		return false // leave bad checksums to the kernel, which drops them
	}
	s.udp, s.v6 = false, p.V6
	s.l3, s.l4, s.hdrLen, s.end = p.L3, p.L4, p.HdrLen, p.End
	s.seq = binary.BigEndian.Uint32(l4[4:])
	s.flags = flags
	return true
}

// Coalescer coalesces consecutive TCP segments (or UDP datagrams of equal
// size) of one flow into a single
// superframe, written to the TAP with a virtio-net header that tells the
// kernel to treat it as what the peer's TCP stack sent before segmentation.
// This saves one TAP write and one trip through the receive stack per frame.
type Coalescer struct {
	buf     []byte // virtio-net header, then the superframe
	n       int    // superframe bytes
	seg     Segment
	segs    int
	mss     int    // payload bytes of the first segment
	nextSeq uint32 // sequence number the next segment must have
	closed  bool   // a short or PSH segment ended the run
}

func NewCoalescer() *Coalescer {
	return &Coalescer{buf: make([]byte, VnetHdrLen+MaxFrame)}
}

// frame returns the pending superframe, or nil.
func (g *Coalescer) Frame() []byte { return g.buf[VnetHdrLen : VnetHdrLen+g.n] }

// pending reports whether a superframe waits to be written.
func (g *Coalescer) Pending() bool { return g.segs > 0 }

// tryAppend adds segment s of frame to the pending superframe if it
// continues it, and reports whether it did.
func (g *Coalescer) TryAppend(frame []byte, s *Segment) bool {
	if g.segs == 0 || g.closed || s.v6 != g.seg.v6 || s.udp != g.seg.udp || s.hdrLen != g.seg.hdrLen || (!s.udp && s.seq != g.nextSeq) {
		return false
	}
	plen := s.end - s.hdrLen
	if plen > g.mss || g.n+plen > MaxFrame || g.n-s.l3+plen > 65535 {
		return false
	}
	p := g.Frame()
	l3, l4 := s.l3, s.l4
	// Everything but lengths, IDs, checksums, sequence number and PSH must match.
	if !SameIPHeaders(frame, p, l3, l4, s.v6) {
		return false
	}
	if s.udp {
		// The kernel takes at most UDP_MAX_SEGMENTS datagrams per superframe.
		if g.segs == MaxSegments || !bytes.Equal(frame[l4:l4+4], p[l4:l4+4]) {
			return false
		}
		copy(g.buf[VnetHdrLen+g.n:], frame[s.hdrLen:s.end])
		g.n += plen
		g.segs++
		g.closed = plen < g.mss
		return true
	}
	if !SameTCPHeader(frame, p, l4, s.hdrLen) {
		return false
	}
	copy(g.buf[VnetHdrLen+g.n:], frame[s.hdrLen:s.end])
	g.n += plen
	g.segs++
	g.nextSeq += uint32(plen)
	if s.flags&tcpFlagPSH != 0 {
		p[l4+13] |= tcpFlagPSH
		g.closed = true
	}
	if plen < g.mss {
		g.closed = true
	}
	return true
}

// start makes segment s of frame the first of a new superframe. The
// previous one must have been taken with finish.
func (g *Coalescer) Start(frame []byte, s *Segment) {
	g.n = copy(g.buf[VnetHdrLen:], frame[:s.end])
	g.seg = *s
	g.segs = 1
	g.mss = s.end - s.hdrLen
	g.nextSeq = s.seq + uint32(g.mss)
	g.closed = !s.udp && s.flags&tcpFlagPSH != 0
}

// finish completes the pending superframe's headers and virtio-net header
// and returns the bytes to write, header included. A single segment goes
// as it came, marked as checksum-verified.
func (g *Coalescer) Finish() []byte {
	out := g.buf[:VnetHdrLen+g.n]
	h := VnetHdr{flags: VnetFlagDataValid}
	if g.segs > 1 {
		p := g.Frame()
		s := &g.seg
		var src, dst []byte
		if s.v6 {
			binary.BigEndian.PutUint16(p[s.l3+4:], uint16(g.n-s.l4))
			src, dst = p[s.l3+8:s.l3+24], p[s.l3+24:s.l3+40]
			h.gsoType = VnetGSOTCPv6
		} else {
			ip := p[s.l3:s.l4]
			binary.BigEndian.PutUint16(ip[2:], uint16(g.n-s.l3))
			ip[10], ip[11] = 0, 0
			PutCsum(ip[10:], CsumAdd(0, ip))
			src, dst = ip[12:16], ip[16:20]
			h.gsoType = VnetGSOTCPv4
		}
		proto, field := uint8(ProtoTCP), 16
		if s.udp {
			proto, field = ProtoUDP, 6
			h.gsoType = VnetGSOUDPL4
			binary.BigEndian.PutUint16(p[s.l4+4:], uint16(g.n-s.l4))
		}
		PutPartialCsum(p[s.l4+field:], PseudoHeaderSum(src, dst, proto, g.n-s.l4))
		h = VnetHdr{
			flags:      VnetFlagNeedsCsum,
			gsoType:    h.gsoType,
			hdrLen:     uint16(s.hdrLen),
			gsoSize:    uint16(g.mss),
			csumStart:  uint16(s.l4),
			csumOffset: uint16(field),
		}
	}
	h.Encode(out)
	g.segs, g.n = 0, 0
	return out
}

// SameIPHeaders reports whether frame's Ethernet and IP headers (the IP
// header at l3, the transport header at l4) are those of p, the first
// segment of a run, but for what differs between segments of one flow: the
// IPv4 total length, ID and header checksum, or the IPv6 payload length.
func SameIPHeaders(frame, p []byte, l3, l4 int, v6 bool) bool {
	if !bytes.Equal(frame[:l3], p[:l3]) {
		return false
	}
	if v6 {
		return bytes.Equal(frame[l3:l3+4], p[l3:l3+4]) && bytes.Equal(frame[l3+6:l4], p[l3+6:l4])
	}
	return bytes.Equal(frame[l3:l3+2], p[l3:l3+2]) && bytes.Equal(frame[l3+6:l3+10], p[l3+6:l3+10]) &&
		bytes.Equal(frame[l3+12:l4], p[l3+12:l4])
}

// SameTCPHeader reports whether frame's TCP header (at l4, the headers
// ending at hdrLen) is that of p but for the sequence number, the flags
// and the checksum: the ports, acknowledgement, data offset, window,
// urgent pointer and options match.
func SameTCPHeader(frame, p []byte, l4, hdrLen int) bool {
	return bytes.Equal(frame[l4:l4+4], p[l4:l4+4]) && bytes.Equal(frame[l4+8:l4+13], p[l4+8:l4+13]) &&
		bytes.Equal(frame[l4+14:l4+16], p[l4+14:l4+16]) && bytes.Equal(frame[l4+18:hdrLen], p[l4+18:hdrLen])
}
