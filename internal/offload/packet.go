package offload

import "encoding/binary"

// Packet locates the headers of an IP packet inside an Ethernet frame. Parse
// fills it; the splitter, the coalescer and the flow hash each add the
// checks of their own on top.
type Packet struct {
	// EtherType is the type found past the VLAN tags: EtherTypeIPv4 or
	// EtherTypeIPv6 when Parse succeeds; whatever was there when the link
	// layer was whole but the rest was not IP; 0 when the frame ends
	// inside its link-layer headers.
	EtherType uint16
	// L3 is the offset of the IP header.
	L3 int
	// L4 is the offset of the header that follows the IP header: past the
	// IPv4 options, or past the 40-byte IPv6 header. IPv6 extension headers
	// are not walked: with one present, Proto names it and L4 is its start.
	L4 int
	// End is where the IP packet ends by its own length field (IPv4 total
	// length, IPv6 payload length). It is not checked against the frame:
	// it may lie past the frame's end (truncated) or short of it
	// (Ethernet padding), and for a bogus IPv4 total length even before L4.
	End int
	// HdrLen is the offset of the L4 payload when Proto is TCP or UDP, the
	// packet is no later fragment, and the whole L4 header (TCP: its data
	// offset, at least 20 bytes; UDP: 8 bytes) lies inside the frame;
	// otherwise 0. It is checked against the frame, not against End.
	HdrLen int
	// FragOffset is the IPv4 fragment offset in bytes; MoreFragments the
	// IPv4 MF flag. Both stay zero for IPv6, whose fragment header is an
	// extension header.
	FragOffset    int
	MoreFragments bool
	// Proto is the IPv4 protocol or the IPv6 next header.
	Proto uint8
	V6    bool
}

// Parse fills p from frame: an Ethernet header with up to two VLAN (802.1Q
// or 802.1ad) tags, then an IPv4 header (version 4, IHL of at least 5,
// options included inside the frame) or an IPv6 fixed header (version 6, 40
// bytes inside the frame). It reports whether it found one; the rest of
// frame is described by p but not checked beyond what the fields' comments
// say. When it finds none, only p.EtherType and p.L3 are meaningful. It never panics and
// never allocates, whatever frame holds.
func Parse(frame []byte, p *Packet) bool {
	// Up to two tags; a third is not looked into, and the frame is not IP.
	off := 14
	if len(frame) < off {
		p.EtherType = 0
		return false
	}
	et := binary.BigEndian.Uint16(frame[12:])
	for tags := 0; tags < 2 && (et == EtherTypeVLAN || et == EtherTypeQinQ); tags++ {
		if len(frame) < off+4 {
			p.EtherType = 0
			return false
		}
		et = binary.BigEndian.Uint16(frame[off+2:])
		off += 4
	}
	p.EtherType, p.L3 = et, off
	switch et {
	case EtherTypeIPv4:
		if len(frame) < off+20 || frame[off]>>4 != 4 {
			return false
		}
		ip := (*[20]byte)(frame[off : off+20])
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || off+ihl > len(frame) {
			return false
		}
		frag := binary.BigEndian.Uint16(ip[6:8])
		p.L4 = off + ihl
		p.End = off + int(binary.BigEndian.Uint16(ip[2:4]))
		p.Proto = ip[9]
		p.MoreFragments = frag&0x2000 != 0
		p.FragOffset = int(frag&0x1fff) * 8
		p.V6 = false
	case EtherTypeIPv6:
		if len(frame) < off+40 || frame[off]>>4 != 6 {
			return false
		}
		ip := (*[40]byte)(frame[off : off+40])
		p.L4 = off + 40
		p.End = off + 40 + int(binary.BigEndian.Uint16(ip[4:6]))
		p.Proto = ip[6]
		p.MoreFragments, p.FragOffset = false, 0
		p.V6 = true
	default:
		return false
	}
	p.HdrLen = 0
	if p.FragOffset == 0 {
		p.HdrLen = transportEnd(frame, p.L4, p.Proto)
	}
	return true
}

// Transport takes the L4 header of p to be a proto header at l4, whatever
// the IP header says, and sets L4, Proto and HdrLen to match. Parse calls
// it with what the IP header says; a caller that knows better (from a
// virtio-net header, say) may call it again. It reports whether proto is
// TCP or UDP and its whole header lies inside frame; if not, HdrLen is 0.
// It never panics.
func (p *Packet) Transport(frame []byte, l4 int, proto uint8) bool {
	p.L4, p.Proto, p.HdrLen = l4, proto, transportEnd(frame, l4, proto)
	return p.HdrLen != 0
}

// transportEnd returns the end of the proto header at l4 in frame, or 0 if
// proto is neither TCP nor UDP or its header is not inside frame.
func transportEnd(frame []byte, l4 int, proto uint8) int {
	if proto == ProtoUDP && l4 >= 0 && l4+8 <= len(frame) {
		return l4 + 8
	}
	if proto != ProtoTCP || l4 < 0 || l4+20 > len(frame) {
		return 0
	}
	if end := l4 + int(frame[l4+12]>>4)*4; end >= l4+20 && end <= len(frame) {
		return end
	}
	return 0
}

// Addrs returns the source and destination addresses of the packet Parse
// found in frame: 4 bytes each for IPv4, 16 for IPv6.
func (p *Packet) Addrs(frame []byte) (src, dst []byte) {
	if p.V6 {
		return frame[p.L3+8 : p.L3+24], frame[p.L3+24 : p.L3+40]
	}
	return frame[p.L3+12 : p.L3+16], frame[p.L3+16 : p.L3+20]
}
