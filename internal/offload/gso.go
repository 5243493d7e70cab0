package offload

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header fields used by segmentation and coalescing.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86dd
	EtherTypeVLAN = 0x8100
	EtherTypeQinQ = 0x88a8

	ProtoTCP = 6
	ProtoUDP = 17

	tcpFlagFIN = 0x01
	tcpFlagSYN = 0x02
	tcpFlagRST = 0x04
	tcpFlagPSH = 0x08
	tcpFlagACK = 0x10
	tcpFlagURG = 0x20
	tcpFlagECE = 0x40
	tcpFlagCWR = 0x80
)

var ErrBadGSO = errors.New("malformed offload frame")

// CompleteCsum finishes the checksum a frame with VIRTIO_NET_HDR_F_NEEDS_CSUM
// leaves partial: the field at csumStart+csumOffset holds the pseudo-header
// sum, and the checksum covers everything from csumStart to the frame's end.
func CompleteCsum(frame []byte, h *VnetHdr) error {
	start, field := int(h.csumStart), int(h.csumStart)+int(h.csumOffset)
	if field+2 > len(frame) || start > len(frame) {
		return fmt.Errorf("%w: checksum at %d+%d beyond %d bytes", ErrBadGSO, start, h.csumOffset, len(frame))
	}
	PutCsum(frame[field:], CsumAdd(0, frame[start:]))
	return nil
}

// Splitter cuts a superframe read from a TAP with offloads enabled (TCP
// or UDP segmentation) into the MTU-sized frames it stands for, each with
// its own IP and L4 headers and correct checksums, the way the kernel's
// software GSO does. It is reused from frame to frame and never allocates.
type Splitter struct {
	frame   []byte
	l3, l4  int // offsets of the IP and the TCP/UDP header
	hdrLen  int // all headers: l4 plus the L4 header's length
	mss     int // payload bytes per segment
	v6, udp bool
	ecn     bool   // CWR may stay only on the first segment
	pos     int    // payload offset of the next segment
	i       int    // index of the next segment
	ipID    uint16 // IPv4 ID of the first segment
	seq     uint32 // TCP sequence number of the first segment
	flags   uint8  // TCP flags of the superframe
}

// Init prepares to split frame, described by h, whose GSO type is TCPv4,
// TCPv6 or UDP L4. The IP header must be one Parse accepts; the L4 header
// is where h's checksum start says and of the protocol h's GSO type says
// (for IPv6 the next header is not checked: extension headers may sit
// between). It checks every offset the splitter will use.
func (s *Splitter) Init(frame []byte, h *VnetHdr) error {
	*s = Splitter{frame: frame, mss: int(h.gsoSize), ecn: h.gsoType&VnetGSOECN != 0}
	var p Packet
	if !Parse(frame, &p) {
		if p.EtherType == 0 {
			return fmt.Errorf("%w: short link-layer header", ErrBadGSO)
		}
		return fmt.Errorf("%w: EtherType %#04x without a whole IP header", ErrBadGSO, p.EtherType)
	}
	s.l3, s.l4, s.v6 = p.L3, int(h.csumStart), p.V6
	if h.flags&VnetFlagNeedsCsum == 0 || s.mss == 0 {
		return fmt.Errorf("%w: GSO without partial checksum or segment size", ErrBadGSO)
	}
	if p.L4 > s.l4 {
		return fmt.Errorf("%w: IP header of %d bytes overlaps L4 at %d", ErrBadGSO, p.L4-p.L3, s.l4)
	}
	proto := p.Proto
	if s.v6 {
		proto = ProtoTCP // trust the GSO type
	} else {
		s.ipID = binary.BigEndian.Uint16(frame[p.L3+4:])
	}
	switch h.gsoType &^ VnetGSOECN {
	case VnetGSOTCPv4, VnetGSOTCPv6:
		if (h.gsoType&^VnetGSOECN == VnetGSOTCPv6) != s.v6 || proto != ProtoTCP || h.csumOffset != 16 {
			return fmt.Errorf("%w: GSO type %d does not match the headers", ErrBadGSO, h.gsoType)
		}
		if !p.Transport(frame, s.l4, ProtoTCP) {
			return fmt.Errorf("%w: bad TCP header at %d in a frame of %d bytes", ErrBadGSO, s.l4, len(frame))
		}
		s.seq = binary.BigEndian.Uint32(frame[s.l4+4:])
		s.flags = frame[s.l4+13]
	case VnetGSOUDPL4:
		if (!s.v6 && proto != ProtoUDP) || h.csumOffset != 6 {
			return fmt.Errorf("%w: GSO type %d does not match the headers", ErrBadGSO, h.gsoType)
		}
		if !p.Transport(frame, s.l4, ProtoUDP) {
			return fmt.Errorf("%w: UDP header at %d past a frame of %d bytes", ErrBadGSO, s.l4, len(frame))
		}
		s.udp = true
	default:
		return fmt.Errorf("%w: unsupported GSO type %d", ErrBadGSO, h.gsoType)
	}
	s.hdrLen = p.HdrLen
	s.pos = s.hdrLen
	return nil
}

// maxSegment is the size of the largest frame next writes.
func (s *Splitter) MaxSegment() int { return s.hdrLen + s.mss }

// more reports whether segments remain. A superframe without payload still
// yields one frame.
func (s *Splitter) More() bool { return s.pos < len(s.frame) || s.i == 0 }

// next writes the next segment into dst, which must hold maxSegment bytes,
// and returns its length.
func (s *Splitter) Next(dst []byte) int {
	end := min(s.pos+s.mss, len(s.frame))
	last := end == len(s.frame)
	plen := end - s.pos
	n := s.hdrLen + plen
	copy(dst[:s.hdrLen], s.frame[:s.hdrLen])
	copy(dst[s.hdrLen:n], s.frame[s.pos:end])
	FinishSegment(dst[:n], s.l3, s.l4, s.v6, s.udp, s.ipID, s.i, s.seq+uint32(s.pos-s.hdrLen), s.flags, last)
	s.pos = end
	s.i++
	return n
}

// FinishSegment writes the headers of segment i of a TCP or UDP superframe
// into seg, which holds the superframe's headers (its IP header at l3, its
// TCP or UDP header at l4) followed by the segment's payload: the IPv4
// total length, ID (ipID+i) and header checksum, or the IPv6 payload
// length; then the UDP length and checksum, or the TCP sequence number
// (seq, that of the segment's first payload byte), flags (the superframe's,
// FIN and PSH kept on the last segment only, CWR on the first only) and
// checksum. Splitter and the other splitters of superframes share it.
func FinishSegment(seg []byte, l3, l4 int, v6, udp bool, ipID uint16, i int, seq uint32, flags byte, last bool) {
	n := len(seg)
	var src, dst []byte
	if v6 {
		binary.BigEndian.PutUint16(seg[l3+4:], uint16(n-l3-40))
		src, dst = seg[l3+8:l3+24], seg[l3+24:l3+40]
	} else {
		ip := seg[l3:l4]
		binary.BigEndian.PutUint16(ip[2:], uint16(n-l3))
		binary.BigEndian.PutUint16(ip[4:], ipID+uint16(i))
		ip[10], ip[11] = 0, 0
		PutCsum(ip[10:], CsumAdd(0, ip))
		src, dst = ip[12:16], ip[16:20]
	}
	l4b := seg[l4:]
	if udp {
		binary.BigEndian.PutUint16(l4b[4:], uint16(len(l4b)))
		l4b[6], l4b[7] = 0, 0
		acc := CsumAdd(PseudoHeaderSum(src, dst, ProtoUDP, len(l4b)), l4b)
		if PutCsum(l4b[6:], acc); l4b[6] == 0 && l4b[7] == 0 {
			l4b[6], l4b[7] = 0xff, 0xff // zero means "no checksum" in UDP
		}
		return
	}
	binary.BigEndian.PutUint32(l4b[4:], seq)
	if !last {
		flags &^= tcpFlagFIN | tcpFlagPSH
	}
	if i > 0 {
		flags &^= tcpFlagCWR
	}
	l4b[13] = flags
	l4b[16], l4b[17] = 0, 0
	PutCsum(l4b[16:], CsumAdd(PseudoHeaderSum(src, dst, ProtoTCP, len(l4b)), l4b))
}
