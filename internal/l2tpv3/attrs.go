package l2tpv3

import (
	"encoding/binary"
	"fmt"
)

// Pseudowire types (IANA "L2TPv3 Pseudowire Types", RFC 4719).
const (
	PWEthernetVLAN uint16 = 4
	PWEthernet     uint16 = 5
)

// L2-Specific Sublayer types of the L2-Specific Sublayer AVP.
const (
	L2SublayerNone    uint16 = 0
	L2SublayerDefault uint16 = 1
)

// Data Sequencing levels.
const (
	SequencingNone  uint16 = 0
	SequencingNonIP uint16 = 1
	SequencingAll   uint16 = 2
)

// Circuit Status bits.
const (
	CircuitActive uint16 = 0x0001 // A: the circuit is up
	CircuitNew    uint16 = 0x0002 // N: a new circuit
)

// Attrs holds the AVPs of one control message that the control plane
// understands, decoded by ParseAttrs. Byte slices alias the message.
type Attrs struct {
	seen [2]uint64 // bit t set when attribute type t (< 128) was present

	Result          ResultCode
	TieBreaker      uint64
	HostName        []byte
	VendorName      []byte
	RouterID        uint32
	AssignedConnID  uint32
	RecvWindow      uint16
	PWCapabilities  []byte // raw list of 16-bit PW types; see HasPWCapability
	LocalSessionID  uint32
	RemoteSessionID uint32
	SerialNumber    uint32
	Cookie          []byte // 0, 4 or 8 bytes
	RemoteEndID     []byte
	PWType          uint16
	L2Sublayer      uint16
	DataSequencing  uint16
	CircuitStatus   uint16
	Nonce           []byte
	// Digests holds the Message Digest AVPs that directly follow the
	// Message Type AVP (at most two, RFC 3931 §5.4.1).
	Digests [2]Digest
	// NumDigests counts the Digests found in that position.
	NumDigests int
}

// Digest is one Message Digest AVP: its type, its value, and where the
// value sits in the message, so it can be zeroed for verification.
type Digest struct {
	Type   DigestType
	Value  []byte
	Offset int // offset of Value in Message.Raw
}

// Has reports whether attribute type t was present and valid.
func (a *Attrs) Has(t uint16) bool {
	return t < 128 && a.seen[t/64]&(1<<(t%64)) != 0
}

func (a *Attrs) set(t uint16) { a.seen[t/64] |= 1 << (t % 64) }

// HasPWCapability reports whether the PW Capabilities List holds t.
func (a *Attrs) HasPWCapability(t uint16) bool {
	for i := 0; i+1 < len(a.PWCapabilities); i += 2 {
		if binary.BigEndian.Uint16(a.PWCapabilities[i:]) == t {
			return true
		}
	}
	return false
}

// AttrError is a message whose AVPs the control plane cannot accept: an
// unknown or undecodable AVP with the M bit set (RFC 3931 §5.2, §7.1). Code
// is the general error code for the Result Code AVP of the StopCCN or CDN
// that must answer it.
type AttrError struct {
	Vendor uint32
	Type   uint16
	Code   uint16 // ErrorUnknownMandatory, ErrorLength or ErrorRange
}

func (e *AttrError) Error() string {
	switch e.Code {
	case ErrorUnknownMandatory:
		return fmt.Sprintf("unknown mandatory AVP (vendor %d, type %d)", e.Vendor, e.Type)
	case ErrorLength:
		return fmt.Sprintf("mandatory AVP (vendor %d, type %d) has a wrong length", e.Vendor, e.Type)
	}
	return fmt.Sprintf("mandatory AVP (vendor %d, type %d) out of range", e.Vendor, e.Type)
}

// ResultCode returns the Result Code AVP value that answers e: result 2
// (general error) in a StopCCN or CDN alike, with e's error code.
func (e *AttrError) ResultCode() ResultCode {
	return ResultCode{Result: StopGeneralError, HasError: true, Error: e.Code, Message: e.Error()}
}

// ParseAttrs decodes the AVPs of m into a (reset first). Unknown AVPs and
// malformed ones without the M bit are skipped as RFC 3931 §5.2 and §7.1
// ask; an unknown or malformed AVP with the M bit fails with *AttrError.
// Hidden AVPs are not supported and count as unknown. m's lengths were
// checked by ParseMessage.
func ParseAttrs(m *Message, a *Attrs) error {
	*a = Attrs{}
	it := m.AVPs()
	off := ControlHeaderLen + messageTypeAVPLen
	digestZone := true // Message Digest AVPs only count right after the Message Type
	for it.Next() {
		avp := it.AVP()
		start := off
		off += avp.Len()
		if avp.Vendor == 0 && !avp.Hidden && avp.Type == AttrMessageDigest && digestZone && a.NumDigests < 2 {
			if d, ok := parseDigest(avp.Value); ok {
				d.Offset = start + AVPHeaderLen + 1
				a.Digests[a.NumDigests] = d
				a.NumDigests++
				continue
			}
		}
		digestZone = false
		if avp.Vendor != 0 || avp.Hidden {
			if avp.Mandatory {
				return &AttrError{Vendor: avp.Vendor, Type: avp.Type, Code: ErrorUnknownMandatory}
			}
			continue
		}
		known, ok := a.decode(avp.Type, avp.Value)
		switch {
		case !known && avp.Mandatory:
			return &AttrError{Type: avp.Type, Code: ErrorUnknownMandatory}
		case known && !ok && avp.Mandatory:
			return &AttrError{Type: avp.Type, Code: ErrorLength}
		case known && ok:
			a.set(avp.Type)
		}
	}
	return it.Err()
}

// decode stores one IETF AVP: known reports whether the type is one the
// control plane understands, ok whether its value was well formed.
func (a *Attrs) decode(t uint16, v []byte) (known, ok bool) {
	u16 := func(p *uint16) bool {
		if len(v) != 2 {
			return false
		}
		*p = binary.BigEndian.Uint16(v)
		return true
	}
	u32 := func(p *uint32) bool {
		if len(v) != 4 {
			return false
		}
		*p = binary.BigEndian.Uint32(v)
		return true
	}
	switch t {
	case AttrResultCode:
		a.Result, ok = parseResultCode(v)
	case AttrTieBreaker:
		if ok = len(v) == 8; ok {
			a.TieBreaker = binary.BigEndian.Uint64(v)
		}
	case AttrHostName:
		a.HostName, ok = v, len(v) > 0
	case AttrVendorName:
		a.VendorName, ok = v, true
	case AttrFirmwareRevision, AttrPreferredLanguage, AttrTxConnectSpeed, AttrRxConnectSpeed,
		AttrRandomVector, AttrPhysicalChannelID:
		// Understood and of no use here: accepted and ignored.
		ok = true
	case AttrRouterID:
		ok = u32(&a.RouterID)
	case AttrAssignedConnID:
		ok = u32(&a.AssignedConnID) && a.AssignedConnID != 0
	case AttrReceiveWindowSize:
		ok = u16(&a.RecvWindow) && a.RecvWindow != 0
	case AttrPWCapabilities:
		a.PWCapabilities, ok = v, len(v) >= 2 && len(v)%2 == 0
	case AttrLocalSessionID:
		ok = u32(&a.LocalSessionID)
	case AttrRemoteSessionID:
		ok = u32(&a.RemoteSessionID)
	case AttrSerialNumber:
		ok = u32(&a.SerialNumber)
	case AttrAssignedCookie:
		a.Cookie, ok = v, len(v) == 0 || len(v) == 4 || len(v) == 8
	case AttrRemoteEndID:
		a.RemoteEndID, ok = v, true
	case AttrPWType:
		ok = u16(&a.PWType)
	case AttrL2SpecificSublayer:
		ok = u16(&a.L2Sublayer)
	case AttrDataSequencing:
		ok = u16(&a.DataSequencing)
	case AttrCircuitStatus:
		ok = u16(&a.CircuitStatus)
	case AttrCtlMsgAuthNonce:
		a.Nonce, ok = v, len(v) > 0
	case AttrMessageDigest:
		// A digest anywhere but right after the Message Type, or a
		// third one, is malformed.
		return true, false
	default:
		return false, false
	}
	return true, ok
}

// AppendAVPBytes appends an IETF AVP holding v (a host name, a remote end
// ID, a nonce, a cookie); v longer than MaxAVPValue is cut short.
func AppendAVPBytes(b []byte, mandatory bool, typ uint16, v []byte) []byte {
	if len(v) > MaxAVPValue {
		v = v[:MaxAVPValue]
	}
	b = appendAVPHeader(b, mandatory, false, 0, typ, len(v))
	return append(b, v...)
}

// AppendPWCapabilities appends a PW Capabilities List AVP.
func AppendPWCapabilities(b []byte, types ...uint16) []byte {
	b = appendAVPHeader(b, true, false, 0, AttrPWCapabilities, 2*len(types))
	for _, t := range types {
		b = binary.BigEndian.AppendUint16(b, t)
	}
	return b
}

// AppendCookie appends an Assigned Cookie AVP of n bytes (0, 4 or 8) from
// the low-order bytes of c.
func AppendCookie(b []byte, c uint64, n int) []byte {
	switch n {
	case 4:
		return AppendAVPUint32(b, true, AttrAssignedCookie, uint32(c))
	case 8:
		return AppendAVPUint64(b, true, AttrAssignedCookie, c)
	}
	return appendAVPHeader(b, true, false, 0, AttrAssignedCookie, 0)
}

// CookieValue returns a cookie AVP value as an integer and its length.
func CookieValue(v []byte) (uint64, int) {
	switch len(v) {
	case 4:
		return uint64(binary.BigEndian.Uint32(v)), 4
	case 8:
		return binary.BigEndian.Uint64(v), 8
	}
	return 0, 0
}
