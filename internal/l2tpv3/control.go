package l2tpv3

import "encoding/binary"

// The control message header (RFC 3931 §3.2.1):
//
//	|T|L|x|x|S|x|x|x|x|x|x|x|  Ver  |             Length            |
//	|                     Control Connection ID                     |
//	|               Ns              |               Nr              |
//
// T, L and S are always set and Ver is 3; Length counts the whole message,
// header included. Over UDP the header starts the UDP payload; over IP
// (protocol 115) it follows a 32-bit session ID of zero.
const (
	// ControlHeaderLen is the size of the control message header.
	ControlHeaderLen = 12
	// ControlFlags is the first 16-bit word of every control message we
	// send: T=1, L=1, S=1, Ver=3, reserved bits zero.
	ControlFlags = 0xc803
	// MaxControlLen is the largest message the 16-bit Length field allows.
	MaxControlLen = 0xffff
	// IPControlPrefixLen is the zero session ID that precedes a control
	// message over IP.
	IPControlPrefixLen = 4

	ctlT   = 0x8000
	ctlL   = 0x4000
	ctlS   = 0x0800
	ctlVer = 0x000f
)

// ControlError says why a control message was rejected. Its values are
// comparable, so errors.Is and == both work; Counter names a counter.
type ControlError uint8

const (
	ErrCtlShort       ControlError = iota + 1 // shorter than the control header
	ErrCtlNotControl                          // T bit clear: a data packet
	ErrCtlNoLength                            // L bit clear
	ErrCtlNoSequence                          // S bit clear
	ErrCtlVersion                             // Ver is not 3
	ErrCtlLength                              // Length below 12 or beyond the packet
	ErrCtlPrefix                              // over IP, the session ID is not zero
	ErrAVPLength                              // an AVP length below 6 or beyond the message
	ErrNoMessageType                          // first AVP is not a valid Message Type AVP
	ErrAVPTooLong                             // a value longer than MaxAVPValue (on append)
	ErrMessageTooLong                         // a message longer than MaxControlLen (on append)
	ErrAVPVendor                              // a vendor ID wider than 16 bits (on append)
	ErrNoDigest                               // no Message Digest AVP after the Message Type (on signing)
	numControlErrors
)

var controlErrorText = [numControlErrors]string{
	ErrCtlShort:       "control message shorter than its header",
	ErrCtlNotControl:  "not a control message (T bit clear)",
	ErrCtlNoLength:    "control message without the L bit",
	ErrCtlNoSequence:  "control message without the S bit",
	ErrCtlVersion:     "control message version is not 3",
	ErrCtlLength:      "control message length field out of range",
	ErrCtlPrefix:      "control message over IP without a zero session ID",
	ErrAVPLength:      "AVP length out of range",
	ErrNoMessageType:  "first AVP is not a valid Message Type",
	ErrAVPTooLong:     "AVP value too long",
	ErrMessageTooLong: "control message too long",
	ErrAVPVendor:      "AVP vendor ID wider than 16 bits",
	ErrNoDigest:       "no Message Digest AVP after the Message Type",
}

var controlErrorCounters = [numControlErrors]string{
	ErrCtlShort:       "rx_control_invalid",
	ErrCtlNotControl:  "rx_control_invalid",
	ErrCtlNoLength:    "rx_control_invalid",
	ErrCtlNoSequence:  "rx_control_invalid",
	ErrCtlVersion:     "rx_control_invalid",
	ErrCtlLength:      "rx_control_invalid",
	ErrCtlPrefix:      "rx_control_invalid",
	ErrAVPLength:      "rx_control_invalid",
	ErrNoMessageType:  "rx_control_invalid",
	ErrAVPTooLong:     "tx_control_invalid",
	ErrMessageTooLong: "tx_control_invalid",
	ErrAVPVendor:      "tx_control_invalid",
	ErrNoDigest:       "tx_control_invalid",
}

func (e ControlError) Error() string {
	if e == 0 || e >= numControlErrors {
		return "invalid control error"
	}
	return controlErrorText[e]
}

// Counter returns the name of the counter a message rejected for e raises.
func (e ControlError) Counter() string {
	if e == 0 || e >= numControlErrors {
		return ""
	}
	return controlErrorCounters[e]
}

// ControlHeader is the part of a control message header that varies; T, L,
// S and Ver are implied and Length is computed.
type ControlHeader struct {
	ConnID uint32 // the receiver's control connection ID (0 before it is known)
	Ns     uint16 // sequence number of this message (not advanced by a ZLB)
	Nr     uint16 // next sequence number expected from the peer
}

// AppendControlHeader appends h with a Length field of ControlHeaderLen:
// a ZLB as it stands. Whoever appends AVPs after it calls SetControlLength
// on the message once it is complete.
func AppendControlHeader(b []byte, h ControlHeader) []byte {
	b = binary.BigEndian.AppendUint16(b, ControlFlags)
	b = binary.BigEndian.AppendUint16(b, ControlHeaderLen)
	b = binary.BigEndian.AppendUint32(b, h.ConnID)
	b = binary.BigEndian.AppendUint16(b, h.Ns)
	return binary.BigEndian.AppendUint16(b, h.Nr)
}

// SetControlLength writes len(msg) into the Length field of msg, a message
// starting with its control header (no IP prefix). It fails with
// ErrMessageTooLong or ErrCtlShort, leaving msg unchanged.
func SetControlLength(msg []byte) error {
	if len(msg) < ControlHeaderLen {
		return ErrCtlShort
	}
	if len(msg) > MaxControlLen {
		return ErrMessageTooLong
	}
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	return nil
}

// ParseControlHeader decodes the header at the start of b (no IP prefix)
// and returns it with the message length from its Length field. Reserved
// bits are ignored as RFC 3931 asks; bytes after Length are not part of the
// message. It never panics, whatever b holds.
func ParseControlHeader(b []byte) (ControlHeader, int, error) {
	if len(b) < ControlHeaderLen {
		return ControlHeader{}, 0, ErrCtlShort
	}
	flags := binary.BigEndian.Uint16(b)
	switch {
	case flags&ctlT == 0:
		return ControlHeader{}, 0, ErrCtlNotControl
	case flags&ctlL == 0:
		return ControlHeader{}, 0, ErrCtlNoLength
	case flags&ctlS == 0:
		return ControlHeader{}, 0, ErrCtlNoSequence
	case flags&ctlVer != 3:
		return ControlHeader{}, 0, ErrCtlVersion
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < ControlHeaderLen || n > len(b) {
		return ControlHeader{}, 0, ErrCtlLength
	}
	return ControlHeader{
		ConnID: binary.BigEndian.Uint32(b[4:]),
		Ns:     binary.BigEndian.Uint16(b[8:]),
		Nr:     binary.BigEndian.Uint16(b[10:]),
	}, n, nil
}

// IsControl reports whether pkt, a UDP payload (udp) or an IP payload after
// the IP header, is a control message rather than data: over UDP the T bit
// is set, over IP the session ID is zero.
func IsControl(pkt []byte, udp bool) bool {
	if udp {
		return len(pkt) >= 1 && pkt[0]&0x80 != 0
	}
	return len(pkt) >= IPControlPrefixLen && binary.BigEndian.Uint32(pkt) == 0
}

// ControlPayload strips the framing of a control packet: over IP the zero
// session ID, over UDP nothing. The result starts with the control header.
func ControlPayload(pkt []byte, udp bool) ([]byte, error) {
	if udp {
		return pkt, nil
	}
	if len(pkt) < IPControlPrefixLen {
		return nil, ErrCtlShort
	}
	if binary.BigEndian.Uint32(pkt) != 0 {
		return nil, ErrCtlPrefix
	}
	return pkt[IPControlPrefixLen:], nil
}

// AppendControlFraming appends what precedes a control message on the
// wire: over IP a zero session ID, over UDP nothing.
func AppendControlFraming(b []byte, udp bool) []byte {
	if udp {
		return b
	}
	return append(b, 0, 0, 0, 0)
}
