package l2tpv3

import (
	"encoding/binary"
	"strconv"
)

// MessageType is the value of the Message Type AVP (RFC 3931 §3.1, §6).
type MessageType uint16

const (
	MsgSCCRQ   MessageType = 1  // Start-Control-Connection-Request
	MsgSCCRP   MessageType = 2  // Start-Control-Connection-Reply
	MsgSCCCN   MessageType = 3  // Start-Control-Connection-Connected
	MsgStopCCN MessageType = 4  // Stop-Control-Connection-Notification
	MsgHELLO   MessageType = 6  // Hello (keepalive)
	MsgOCRQ    MessageType = 7  // Outgoing-Call-Request
	MsgOCRP    MessageType = 8  // Outgoing-Call-Reply
	MsgOCCN    MessageType = 9  // Outgoing-Call-Connected
	MsgICRQ    MessageType = 10 // Incoming-Call-Request
	MsgICRP    MessageType = 11 // Incoming-Call-Reply
	MsgICCN    MessageType = 12 // Incoming-Call-Connected
	MsgCDN     MessageType = 14 // Call-Disconnect-Notify
	MsgWEN     MessageType = 15 // WAN-Error-Notify
	MsgSLI     MessageType = 16 // Set-Link-Info
	MsgACK     MessageType = 20 // Explicit Acknowledgement
)

var messageNames = map[MessageType]string{
	MsgSCCRQ: "SCCRQ", MsgSCCRP: "SCCRP", MsgSCCCN: "SCCCN", MsgStopCCN: "StopCCN",
	MsgHELLO: "HELLO", MsgOCRQ: "OCRQ", MsgOCRP: "OCRP", MsgOCCN: "OCCN",
	MsgICRQ: "ICRQ", MsgICRP: "ICRP", MsgICCN: "ICCN", MsgCDN: "CDN",
	MsgWEN: "WEN", MsgSLI: "SLI", MsgACK: "ACK",
}

// String returns the RFC's abbreviation, "ZLB" for 0 (no Message Type AVP),
// or the number.
func (m MessageType) String() string {
	if m == 0 {
		return "ZLB"
	}
	if s, ok := messageNames[m]; ok {
		return s
	}
	return "message type " + strconv.Itoa(int(m))
}

// messageTypeAVPLen is the size of the Message Type AVP.
const messageTypeAVPLen = AVPHeaderLen + 2

// Message is a parsed control message. Its slices alias the buffer given
// to ParseMessage.
type Message struct {
	Header ControlHeader
	// Type is the Message Type; 0 for a ZLB (a header without AVPs).
	Type MessageType
	// Raw is the whole message, header included, as the Length field
	// bounds it: what a Message Digest covers.
	Raw []byte
	// Body holds the AVPs after the Message Type AVP, already checked
	// for lengths.
	Body []byte
}

// IsZLB reports whether m is a Zero-Length Body acknowledgement.
func (m *Message) IsZLB() bool { return len(m.Raw) == ControlHeaderLen }

// AVPs iterates over the AVPs after the Message Type AVP.
func (m *Message) AVPs() AVPIter { return NewAVPIter(m.Body) }

// ParseMessage decodes a control message starting with its header (see
// ControlPayload for the framing): the header, then unless it is a ZLB the
// Message Type AVP (vendor 0, type 0, 2-byte value, not hidden) and AVPs
// whose lengths exactly fill the message. It allocates nothing and never
// panics, whatever b holds.
func ParseMessage(b []byte) (Message, error) {
	h, n, err := ParseControlHeader(b)
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: h, Raw: b[:n:n]}
	if n == ControlHeaderLen {
		return m, nil
	}
	a, l, err := ParseAVP(m.Raw[ControlHeaderLen:])
	if err != nil {
		return Message{}, err
	}
	if a.Vendor != 0 || a.Type != AttrMessageType || a.Hidden || l != messageTypeAVPLen {
		return Message{}, ErrNoMessageType
	}
	m.Type = MessageType(binary.BigEndian.Uint16(a.Value))
	m.Body = m.Raw[ControlHeaderLen+messageTypeAVPLen:]
	if err := CheckAVPs(m.Body); err != nil {
		return Message{}, err
	}
	return m, nil
}

// BeginMessage appends a control header and the Message Type AVP (M bit
// set) for t. The caller appends the other AVPs, then calls
// SetControlLength on the message (from the header on).
func BeginMessage(b []byte, h ControlHeader, t MessageType) []byte {
	b = AppendControlHeader(b, h)
	return AppendAVPUint16(b, true, AttrMessageType, uint16(t))
}

// AppendMessage appends a whole control message: header, Message Type AVP
// for t, then avps in order, with the Length field set. It allocates
// nothing when b has room. On error b is returned unchanged.
func AppendMessage(b []byte, h ControlHeader, t MessageType, avps []AVP) ([]byte, error) {
	start := len(b)
	out := BeginMessage(b, h, t)
	for i := range avps {
		var err error
		if out, err = AppendAVP(out, avps[i]); err != nil {
			return b, err
		}
	}
	if err := SetControlLength(out[start:]); err != nil {
		return b, err
	}
	return out, nil
}

// AppendZLB appends a Zero-Length Body message: a control header alone,
// which acknowledges everything before h.Nr.
func AppendZLB(b []byte, h ControlHeader) []byte {
	return AppendControlHeader(b, h)
}
