package l2tpv3

import "encoding/binary"

// An AVP (RFC 3931 §5.1):
//
//	|M|H| rsvd  |      Length       |           Vendor ID           |
//	|         Attribute Type        |        Attribute Value ...
//
// Length (10 bits) counts the 6-byte AVP header and the value.
const (
	// AVPHeaderLen is the size of an AVP header.
	AVPHeaderLen = 6
	// MaxAVPLen is the largest AVP the 10-bit Length field allows.
	MaxAVPLen = 0x3ff
	// MaxAVPValue is the longest value an AVP carries.
	MaxAVPValue = MaxAVPLen - AVPHeaderLen

	avpM   = 0x8000
	avpH   = 0x4000
	avpLen = 0x03ff
)

// AVP is one attribute-value pair. Parsed AVPs' Value aliases the message
// buffer; a Hidden value is carried as it is on the wire (still hidden).
type AVP struct {
	Mandatory bool   // M bit: a receiver that does not know the AVP must fail
	Hidden    bool   // H bit: the value is hidden with the shared secret
	Vendor    uint32 // 0 for IETF AVPs; only 16 bits go on the wire
	Type      uint16
	Value     []byte
}

// Len returns the AVP's length on the wire.
func (a *AVP) Len() int { return AVPHeaderLen + len(a.Value) }

// AppendAVP appends a to b. It fails with ErrAVPTooLong or ErrAVPVendor,
// returning b unchanged, when a does not fit the AVP format.
func AppendAVP(b []byte, a AVP) ([]byte, error) {
	if len(a.Value) > MaxAVPValue {
		return b, ErrAVPTooLong
	}
	if a.Vendor > 0xffff {
		return b, ErrAVPVendor
	}
	b = appendAVPHeader(b, a.Mandatory, a.Hidden, uint16(a.Vendor), a.Type, len(a.Value))
	return append(b, a.Value...), nil
}

func appendAVPHeader(b []byte, m, h bool, vendor, typ uint16, valueLen int) []byte {
	w := uint16(AVPHeaderLen + valueLen)
	if m {
		w |= avpM
	}
	if h {
		w |= avpH
	}
	b = binary.BigEndian.AppendUint16(b, w)
	b = binary.BigEndian.AppendUint16(b, vendor)
	return binary.BigEndian.AppendUint16(b, typ)
}

// AppendAVPUint16 appends an IETF AVP whose value is one 16-bit integer.
func AppendAVPUint16(b []byte, mandatory bool, typ uint16, v uint16) []byte {
	b = appendAVPHeader(b, mandatory, false, 0, typ, 2)
	return binary.BigEndian.AppendUint16(b, v)
}

// AppendAVPUint32 appends an IETF AVP whose value is one 32-bit integer.
func AppendAVPUint32(b []byte, mandatory bool, typ uint16, v uint32) []byte {
	b = appendAVPHeader(b, mandatory, false, 0, typ, 4)
	return binary.BigEndian.AppendUint32(b, v)
}

// AppendAVPUint64 appends an IETF AVP whose value is one 64-bit integer.
func AppendAVPUint64(b []byte, mandatory bool, typ uint16, v uint64) []byte {
	b = appendAVPHeader(b, mandatory, false, 0, typ, 8)
	return binary.BigEndian.AppendUint64(b, v)
}

// ParseAVP decodes the AVP at the start of b and returns it with its length
// on the wire. Reserved bits are ignored. It fails with ErrAVPLength when
// the Length field is below 6 or runs past b; it never panics.
func ParseAVP(b []byte) (AVP, int, error) {
	if len(b) < AVPHeaderLen {
		return AVP{}, 0, ErrAVPLength
	}
	w := binary.BigEndian.Uint16(b)
	n := int(w & avpLen)
	if n < AVPHeaderLen || n > len(b) {
		return AVP{}, 0, ErrAVPLength
	}
	return AVP{
		Mandatory: w&avpM != 0,
		Hidden:    w&avpH != 0,
		Vendor:    uint32(binary.BigEndian.Uint16(b[2:])),
		Type:      binary.BigEndian.Uint16(b[4:]),
		Value:     b[AVPHeaderLen:n:n],
	}, n, nil
}

// AVPIter walks a run of AVPs without allocating:
//
//	it := NewAVPIter(b)
//	for it.Next() { use(it.AVP()) }
//	if err := it.Err(); err != nil { ... }
type AVPIter struct {
	rest []byte
	cur  AVP
	err  error
}

// NewAVPIter returns an iterator over the AVPs packed in b.
func NewAVPIter(b []byte) AVPIter { return AVPIter{rest: b} }

// Next advances to the next AVP; it returns false at the end of the run or
// at the first malformed AVP (then Err says why).
func (it *AVPIter) Next() bool {
	if it.err != nil || len(it.rest) == 0 {
		return false
	}
	a, n, err := ParseAVP(it.rest)
	if err != nil {
		it.err = err
		it.rest = nil
		return false
	}
	it.cur = a
	it.rest = it.rest[n:]
	return true
}

// AVP returns the AVP Next stopped at.
func (it *AVPIter) AVP() AVP { return it.cur }

// Err returns the reason the walk stopped early, or nil.
func (it *AVPIter) Err() error { return it.err }

// CheckAVPs validates the lengths of every AVP in b.
func CheckAVPs(b []byte) error {
	it := NewAVPIter(b)
	for it.Next() {
	}
	return it.Err()
}
