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
// candidate for coalescing; UDP datagrams only if udp is set. It never
// panics, whatever frame holds.
func ParseSegment(frame []byte, s *Segment, udp bool) bool {
	l3, et, ok := L3Offset(frame)
	if !ok {
		return false
	}
	var l4, end int
	var src, dst []byte
	switch et {
	case EtherTypeIPv4:
		if len(frame) < l3+20 {
			return false
		}
		ip := frame[l3:]
		if ip[0] != 0x45 || (ip[9] != ProtoTCP && (!udp || ip[9] != ProtoUDP)) || binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			return false
		}
		s.udp = ip[9] == ProtoUDP
		l4, end = l3+20, l3+int(binary.BigEndian.Uint16(ip[2:]))
		src, dst = ip[12:16], ip[16:20]
		s.v6 = false
	case EtherTypeIPv6:
		if len(frame) < l3+40 {
			return false
		}
		ip := frame[l3:]
		if ip[0]>>4 != 6 || (ip[6] != ProtoTCP && (!udp || ip[6] != ProtoUDP)) {
			return false
		}
		s.udp = ip[6] == ProtoUDP
		l4, end = l3+40, l3+40+int(binary.BigEndian.Uint16(ip[4:]))
		src, dst = ip[8:24], ip[24:40]
		s.v6 = true
	default:
		return false
	}
	if s.udp {
		if end > len(frame) || end <= l4+8 {
			return false // no payload
		}
		u := frame[l4:end]
		if int(binary.BigEndian.Uint16(u[4:])) != len(u) || u[6]|u[7] == 0 {
			return false // odd length, or no checksum to vouch for the data
		}
		if CsumFold(CsumAdd(PseudoHeaderSum(src, dst, ProtoUDP, len(u)), u)) != 0xffff {
			return false
		}
		s.l3, s.l4, s.hdrLen, s.end = l3, l4, l4+8, end
		return true
	}
	if end > len(frame) || end < l4+20 {
		return false
	}
	tcp := frame[l4:end]
	doff := int(tcp[12]>>4) * 4
	flags := tcp[13]
	if doff < 20 || doff >= len(tcp) || flags&^tcpFlagPSH != tcpFlagACK {
		return false // a header with no data, or SYN, FIN, RST, URG, ECE, CWR
	}
	if CsumFold(CsumAdd(PseudoHeaderSum(src, dst, ProtoTCP, len(tcp)), tcp)) != 0xffff {
		return false // leave bad checksums to the kernel, which drops them
	}
	s.l3, s.l4, s.hdrLen, s.end = l3, l4, l4+doff, end
	s.seq = binary.BigEndian.Uint32(tcp[4:])
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
	if !bytes.Equal(frame[:l3], p[:l3]) {
		return false
	}
	if s.v6 {
		if !bytes.Equal(frame[l3:l3+4], p[l3:l3+4]) || !bytes.Equal(frame[l3+6:l4], p[l3+6:l4]) {
			return false
		}
	} else if !bytes.Equal(frame[l3:l3+2], p[l3:l3+2]) || !bytes.Equal(frame[l3+6:l3+10], p[l3+6:l3+10]) ||
		!bytes.Equal(frame[l3+12:l4], p[l3+12:l4]) {
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
	if !bytes.Equal(frame[l4:l4+4], p[l4:l4+4]) || !bytes.Equal(frame[l4+8:l4+13], p[l4+8:l4+13]) ||
		!bytes.Equal(frame[l4+14:l4+16], p[l4+14:l4+16]) || !bytes.Equal(frame[l4+18:s.hdrLen], p[l4+18:s.hdrLen]) {
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
