package l2tpv3

import "encoding/binary"

// Sublayer selects the L2-Specific Sublayer word that follows the cookie.
type Sublayer uint8

const (
	// SublayerNone carries no sublayer (ip l2tp "l2spec_type none").
	SublayerNone Sublayer = iota
	// SublayerPinned carries the default sublayer with every bit zero
	// (QEMU pincounter=on, ip l2tp "l2spec_type default seq none").
	SublayerPinned
	// SublayerCounter carries the RFC 3931 default sublayer with the S bit
	// and a 24-bit wrapping sequence number (ip l2tp "seq both").
	SublayerCounter
)

func (s Sublayer) String() string {
	switch s {
	case SublayerNone:
		return "none"
	case SublayerPinned:
		return "pinned"
	case SublayerCounter:
		return "counter"
	}
	return "invalid"
}

const (
	// tverData is the UDP-only first word of an L2TPv3 data packet: T=0, Ver=3.
	tverData = 0x00030000
	// seqBit is the S bit of the default sublayer: a sequence number is present.
	seqBit = 0x40000000
	// SeqMask selects the 24-bit sequence number of the default sublayer.
	SeqMask = 0x00ffffff
	// sublayerReserved covers the sublayer bits RFC 3931 requires to be zero.
	sublayerReserved = 0xbf000000

	// EthHeaderLen is the shortest frame accepted: an Ethernet header.
	EthHeaderLen = 14
	// MaxOffset bounds the offset padding.
	MaxOffset = 255
	// MaxHeaderLen bounds Header.Len: T/Ver, session, 64-bit cookie and
	// sublayer, plus the largest offset.
	MaxHeaderLen = 20 + MaxOffset
)

// Header describes one Ethernet pseudowire's L2TPv3 data header in both
// directions. The zero value is not valid: TxSession and RxSession are never 0.
// The cookie may differ in each direction, in value and in length (RFC 3931
// §4.1 lets each end choose the cookie it expects; Linux's "cookie" and
// "peer_cookie" are set apart): a session may send a cookie and expect none,
// or the reverse, or send 4 bytes and expect 8.
type Header struct {
	UDP         bool     // UDP encapsulation: a T/Ver word precedes the session
	TxSession   uint32   // session ID written on transmit
	RxSession   uint32   // session ID required on receive
	TxCookieLen int      // 0, 4 or 8 bytes of TxCookie written on transmit
	RxCookieLen int      // 0, 4 or 8 bytes of RxCookie required on receive
	TxCookie    uint64   // cookie written on transmit
	RxCookie    uint64   // cookie required on receive
	Sublayer    Sublayer // L2-Specific Sublayer in both directions
	Offset      int      // zero bytes between the header and the frame
}

// TxLen returns the number of bytes Encode writes before the Ethernet frame.
func (h *Header) TxLen() int { return h.lenWith(h.TxCookieLen) }

// RxLen returns the number of bytes before the Ethernet frame of a packet
// Decode accepts.
func (h *Header) RxLen() int { return h.lenWith(h.RxCookieLen) }

// Len returns the larger of TxLen and RxLen: the overhead an MTU must leave
// room for so that a frame of that size fits the path in both directions.
func (h *Header) Len() int { return max(h.TxLen(), h.RxLen()) }

func (h *Header) lenWith(cookieLen int) int {
	n := 4 + cookieLen + h.Offset
	if h.UDP {
		n += 4
	}
	if h.Sublayer != SublayerNone {
		n += 4
	}
	return n
}

// Encode writes the header into b, which must hold at least TxLen bytes, and
// returns TxLen. seq is the sequence number sent when Sublayer is
// SublayerCounter; only its low 24 bits are used.
func (h *Header) Encode(b []byte, seq uint32) int {
	n := 0
	if h.UDP {
		binary.BigEndian.PutUint32(b[n:], tverData)
		n += 4
	}
	binary.BigEndian.PutUint32(b[n:], h.TxSession)
	n += 4
	switch h.TxCookieLen {
	case 4:
		binary.BigEndian.PutUint32(b[n:], uint32(h.TxCookie))
		n += 4
	case 8:
		binary.BigEndian.PutUint64(b[n:], h.TxCookie)
		n += 8
	}
	switch h.Sublayer {
	case SublayerPinned:
		binary.BigEndian.PutUint32(b[n:], 0)
		n += 4
	case SublayerCounter:
		binary.BigEndian.PutUint32(b[n:], seqBit|seq&SeqMask)
		n += 4
	}
	clear(b[n : n+h.Offset])
	return n + h.Offset
}

// Decoded is what Decode learns from a valid data packet.
type Decoded struct {
	Frame  []byte // the Ethernet frame, aliasing the packet
	Seq    uint32 // sequence number, valid when HasSeq
	HasSeq bool   // the sublayer's S bit was set
	// Reserved is set when the sublayer's reserved bits were not zero. As
	// Linux does, the packet is accepted and only the S bit is read. The
	// likely causes are a peer that sends no sublayer (the bits are then
	// the start of the Ethernet frame) or QEMU's counter=on, which writes
	// a plain 32-bit count that sets them after 2^24 packets.
	Reserved bool
}

// Decode verifies an L2TPv3 data packet (the UDP payload, or the IP payload
// after the IP header) against h's receive side. On success it returns
// DropNone and fills d, whose Frame aliases pkt; otherwise the reason to
// drop the packet. Decode never panics, whatever pkt holds.
func (h *Header) Decode(pkt []byte, d *Decoded) Reason {
	n := 0
	if h.UDP {
		if len(pkt) < 8 {
			return DropShort
		}
		tver := binary.BigEndian.Uint32(pkt)
		if tver&0x80000000 != 0 {
			return DropControl
		}
		if tver>>16&0x000f != 3 {
			return DropVersion
		}
		n = 4
	} else if len(pkt) < 4 {
		return DropShort
	}
	session := binary.BigEndian.Uint32(pkt[n:])
	n += 4
	if session == 0 {
		// Over IP, session 0 marks a control message; over UDP it is never valid.
		return DropControl
	}
	if session != h.RxSession {
		return DropSession
	}
	if len(pkt) < h.RxLen()+EthHeaderLen {
		return DropShort
	}
	switch h.RxCookieLen {
	case 4:
		if binary.BigEndian.Uint32(pkt[n:]) != uint32(h.RxCookie) {
			return DropCookie
		}
		n += 4
	case 8:
		if binary.BigEndian.Uint64(pkt[n:]) != h.RxCookie {
			return DropCookie
		}
		n += 8
	}
	*d = Decoded{}
	if h.Sublayer != SublayerNone {
		w := binary.BigEndian.Uint32(pkt[n:])
		d.Reserved = w&sublayerReserved != 0
		if w&seqBit != 0 {
			d.HasSeq = true
			d.Seq = w & SeqMask
		}
		n += 4
	}
	d.Frame = pkt[n+h.Offset:]
	return DropNone
}

// SessionID returns the session ID of a data packet (the UDP payload, or
// the IP payload after the IP header), to find the session that decodes it,
// or the reason to drop the packet when it is too short or not a data
// packet. It never panics, whatever pkt holds.
func SessionID(pkt []byte, udp bool) (uint32, Reason) {
	n := 0
	if udp {
		if len(pkt) < 8 {
			return 0, DropShort
		}
		tver := binary.BigEndian.Uint32(pkt)
		if tver&0x80000000 != 0 {
			return 0, DropControl
		}
		if tver>>16&0x000f != 3 {
			return 0, DropVersion
		}
		n = 4
	} else if len(pkt) < 4 {
		return 0, DropShort
	}
	id := binary.BigEndian.Uint32(pkt[n:])
	if id == 0 {
		// Over IP, session 0 marks a control message; over UDP it is never valid.
		return 0, DropControl
	}
	return id, DropNone
}
