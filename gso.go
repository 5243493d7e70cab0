package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header fields used by segmentation and coalescing.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
	etherTypeQinQ = 0x88a8

	protoTCP = 6
	protoUDP = 17

	tcpFlagFIN = 0x01
	tcpFlagSYN = 0x02
	tcpFlagRST = 0x04
	tcpFlagPSH = 0x08
	tcpFlagACK = 0x10
	tcpFlagURG = 0x20
	tcpFlagECE = 0x40
	tcpFlagCWR = 0x80
)

// l3Offset returns where the IP header of an Ethernet frame starts, past up
// to two VLAN tags, and the EtherType found there. ok is false if the frame
// ends inside its link-layer headers.
func l3Offset(frame []byte) (off int, etherType uint16, ok bool) {
	off = 12
	for tags := 0; ; tags++ {
		if len(frame) < off+2 {
			return 0, 0, false
		}
		etherType = binary.BigEndian.Uint16(frame[off:])
		off += 2
		if (etherType != etherTypeVLAN && etherType != etherTypeQinQ) || tags == 2 {
			return off, etherType, true
		}
		off += 2
	}
}

var errBadGSO = errors.New("malformed offload frame")

// completeCsum finishes the checksum a frame with VIRTIO_NET_HDR_F_NEEDS_CSUM
// leaves partial: the field at csumStart+csumOffset holds the pseudo-header
// sum, and the checksum covers everything from csumStart to the frame's end.
func completeCsum(frame []byte, h *vnetHdr) error {
	start, field := int(h.csumStart), int(h.csumStart)+int(h.csumOffset)
	if field+2 > len(frame) || start > len(frame) {
		return fmt.Errorf("%w: checksum at %d+%d beyond %d bytes", errBadGSO, start, h.csumOffset, len(frame))
	}
	putCsum(frame[field:], csumAdd(0, frame[start:]))
	return nil
}

// gsoSplitter cuts a superframe read from a TAP with offloads enabled (TCP
// or UDP segmentation) into the MTU-sized frames it stands for, each with
// its own IP and L4 headers and correct checksums, the way the kernel's
// software GSO does. It is reused from frame to frame and never allocates.
type gsoSplitter struct {
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

// init prepares to split frame, described by h, whose GSO type is TCPv4,
// TCPv6 or UDP L4. It checks every offset the splitter will use.
func (s *gsoSplitter) init(frame []byte, h *vnetHdr) error {
	*s = gsoSplitter{frame: frame, mss: int(h.gsoSize), ecn: h.gsoType&vnetGSOECN != 0}
	l3, et, ok := l3Offset(frame)
	if !ok {
		return fmt.Errorf("%w: short link-layer header", errBadGSO)
	}
	s.l3, s.l4 = l3, int(h.csumStart)
	if h.flags&vnetFlagNeedsCsum == 0 || s.mss == 0 {
		return fmt.Errorf("%w: GSO without partial checksum or segment size", errBadGSO)
	}
	var proto uint8
	switch et {
	case etherTypeIPv4:
		if len(frame) < l3+20 || frame[l3]>>4 != 4 {
			return fmt.Errorf("%w: bad IPv4 header", errBadGSO)
		}
		if ihl := int(frame[l3]&0x0f) * 4; ihl < 20 || l3+ihl > s.l4 {
			return fmt.Errorf("%w: IPv4 header of %d bytes overlaps L4 at %d", errBadGSO, ihl, s.l4)
		}
		proto = frame[l3+9]
		s.ipID = binary.BigEndian.Uint16(frame[l3+4:])
	case etherTypeIPv6:
		if len(frame) < l3+40 || frame[l3]>>4 != 6 || l3+40 > s.l4 {
			return fmt.Errorf("%w: bad IPv6 header", errBadGSO)
		}
		s.v6 = true
		proto = protoTCP // extension headers may sit between; trust the GSO type
	default:
		return fmt.Errorf("%w: EtherType %#04x", errBadGSO, et)
	}
	switch h.gsoType &^ vnetGSOECN {
	case vnetGSOTCPv4, vnetGSOTCPv6:
		if (h.gsoType&^vnetGSOECN == vnetGSOTCPv6) != s.v6 || proto != protoTCP || h.csumOffset != 16 {
			return fmt.Errorf("%w: GSO type %d does not match the headers", errBadGSO, h.gsoType)
		}
		if len(frame) < s.l4+20 {
			return fmt.Errorf("%w: short TCP header", errBadGSO)
		}
		doff := int(frame[s.l4+12]>>4) * 4
		if doff < 20 {
			return fmt.Errorf("%w: TCP data offset %d", errBadGSO, doff)
		}
		s.hdrLen = s.l4 + doff
		s.seq = binary.BigEndian.Uint32(frame[s.l4+4:])
		s.flags = frame[s.l4+13]
	case vnetGSOUDPL4:
		if (!s.v6 && proto != protoUDP) || h.csumOffset != 6 {
			return fmt.Errorf("%w: GSO type %d does not match the headers", errBadGSO, h.gsoType)
		}
		s.udp = true
		s.hdrLen = s.l4 + 8
	default:
		return fmt.Errorf("%w: unsupported GSO type %d", errBadGSO, h.gsoType)
	}
	if s.hdrLen > len(frame) {
		return fmt.Errorf("%w: headers of %d bytes in a frame of %d", errBadGSO, s.hdrLen, len(frame))
	}
	s.pos = s.hdrLen
	return nil
}

// maxSegment is the size of the largest frame next writes.
func (s *gsoSplitter) maxSegment() int { return s.hdrLen + s.mss }

// more reports whether segments remain. A superframe without payload still
// yields one frame.
func (s *gsoSplitter) more() bool { return s.pos < len(s.frame) || s.i == 0 }

// next writes the next segment into dst, which must hold maxSegment bytes,
// and returns its length.
func (s *gsoSplitter) next(dst []byte) int {
	end := min(s.pos+s.mss, len(s.frame))
	last := end == len(s.frame)
	plen := end - s.pos
	n := s.hdrLen + plen
	copy(dst[:s.hdrLen], s.frame[:s.hdrLen])
	copy(dst[s.hdrLen:n], s.frame[s.pos:end])
	l3, l4 := s.l3, s.l4
	var src, dstAddr []byte
	if s.v6 {
		binary.BigEndian.PutUint16(dst[l3+4:], uint16(n-l3-40))
		src, dstAddr = dst[l3+8:l3+24], dst[l3+24:l3+40]
	} else {
		ip := dst[l3:l4]
		binary.BigEndian.PutUint16(ip[2:], uint16(n-l3))
		binary.BigEndian.PutUint16(ip[4:], s.ipID+uint16(s.i))
		ip[10], ip[11] = 0, 0
		putCsum(ip[10:], csumAdd(0, ip))
		src, dstAddr = ip[12:16], ip[16:20]
	}
	l4b := dst[l4:n]
	if s.udp {
		binary.BigEndian.PutUint16(l4b[4:], uint16(len(l4b)))
		l4b[6], l4b[7] = 0, 0
		acc := csumAdd(pseudoHeaderSum(src, dstAddr, protoUDP, len(l4b)), l4b)
		if putCsum(l4b[6:], acc); l4b[6] == 0 && l4b[7] == 0 {
			l4b[6], l4b[7] = 0xff, 0xff // zero means "no checksum" in UDP
		}
	} else {
		binary.BigEndian.PutUint32(l4b[4:], s.seq+uint32(s.pos-s.hdrLen))
		f := s.flags
		if !last {
			f &^= tcpFlagFIN | tcpFlagPSH
		}
		if s.i > 0 {
			f &^= tcpFlagCWR
		}
		l4b[13] = f
		l4b[16], l4b[17] = 0, 0
		putCsum(l4b[16:], csumAdd(pseudoHeaderSum(src, dstAddr, protoTCP, len(l4b)), l4b))
	}
	s.pos = end
	s.i++
	return n
}
