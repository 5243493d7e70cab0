package offload

import (
	"encoding/binary"
	"math/bits"
)

// Fixed header sizes a full TCP segment is computed with (RFC 879, RFC
// 8200): the MSS excludes IP and TCP options, which the sender takes off
// it itself.
const (
	mssOverhead4 = 20 + 20 // IPv4 and TCP headers
	mssOverhead6 = 40 + 20 // IPv6 and TCP headers
	tcpOptMSS    = 2       // kind of the MSS option (RFC 9293 §3.2)
)

// MSSClamp says how far Clamp lowers the Maximum Segment Size option of
// TCP SYN and SYN-ACK segments, the way routers clamp it for a path whose
// MTU the ends do not see. Its zero value clamps nothing.
type MSSClamp struct {
	// Frame is the largest Ethernet frame, its 14-byte header and VLAN
	// tags included, that crosses the path whole (the pseudowire's
	// payload MTU plus 14). The MSS is lowered so that a full segment,
	// with 20-byte IPv4 (40-byte IPv6) and TCP headers behind the frame's
	// own tags, fits in it: payload MTU − 40 for IPv4, − 60 for IPv6,
	// 4 bytes less per tag. 0: no limit of this kind.
	Frame int
	// MSS is a ceiling for both IPv4 and IPv6, whatever the frame; 0: none.
	MSS int
}

// Enabled reports whether c clamps anything.
func (c *MSSClamp) Enabled() bool { return c.Frame > 0 || c.MSS > 0 }

// Clamp lowers the MSS option of frame, an Ethernet frame with up to two
// VLAN tags, if it is a TCP segment with SYN set (a SYN or a SYN-ACK) over
// IPv4 or IPv6 whose MSS exceeds what c allows, and updates the TCP
// checksum incrementally (RFC 1624), so a checksum that was right stays
// right and one that was wrong stays as wrong. It reports whether it
// changed frame. Segments it cannot see whole are left alone: IPv4
// fragments past the first, an IPv6 packet with extension headers before
// TCP, a TCP header running past the frame or the IP packet, and options
// that end early or run past the header. It never panics, never loops
// beyond the header's 40 option bytes, and never allocates.
func (c *MSSClamp) Clamp(frame []byte) bool {
	var p Packet
	if !Parse(frame, &p) || p.Proto != ProtoTCP || p.HdrLen == 0 || p.HdrLen > p.End {
		return false
	}
	tcp := frame[p.L4:p.HdrLen]
	if tcp[13]&tcpFlagSYN == 0 {
		return false
	}
	limit := c.MSS
	if c.Frame > 0 {
		over := mssOverhead4
		if p.V6 {
			over = mssOverhead6
		}
		if l := c.Frame - p.L3 - over; limit == 0 || l < limit {
			limit = l
		}
	}
	if limit <= 0 {
		return false
	}
	opts := tcp[20:]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of option list
			return false
		case 1: // no-operation
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return false
		}
		if opts[i] == tcpOptMSS && n == 4 {
			old := binary.BigEndian.Uint16(opts[i+2:])
			if int(old) <= limit {
				return false
			}
			binary.BigEndian.PutUint16(opts[i+2:], uint16(limit))
			// The checksum sums 16-bit words from the TCP header's start:
			// at an odd offset the value's bytes fall into two words,
			// each in the other half, which is the byte-swapped value.
			oldW, newW := old, uint16(limit)
			if i%2 == 1 {
				oldW, newW = bits.ReverseBytes16(oldW), bits.ReverseBytes16(newW)
			}
			csumReplace16(tcp[16:18], oldW, newW)
			return true
		}
		i += n
	}
	return false
}

// csumReplace16 updates the big-endian Internet checksum at field for a
// 16-bit word of the summed data changed from old to new: HC' = ~(~HC +
// ~m + m'), RFC 1624 eqn. 3.
func csumReplace16(field []byte, old, new uint16) {
	s := uint32(^binary.BigEndian.Uint16(field)) + uint32(^old) + uint32(new)
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	binary.BigEndian.PutUint16(field, ^uint16(s))
}
