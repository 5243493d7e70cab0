package l2tpv3

import "encoding/binary"

// Result codes of a StopCCN (RFC 3931 §5.4.2).
const (
	StopClear         uint16 = 1 // general request to clear the control connection
	StopGeneralError  uint16 = 2 // general error, the Error Code says which
	StopExists        uint16 = 3 // control connection already exists
	StopNotAuthorized uint16 = 4 // requester is not authorized
	StopVersion       uint16 = 5 // protocol version not supported
	StopShutdown      uint16 = 6 // requester is being shut down
	StopFSMError      uint16 = 7 // finite state machine error or timeout
)

// Result codes of a CDN (RFC 3931 §5.4.2).
const (
	CDNCarrierLost      uint16 = 1  // loss of carrier or circuit disconnect
	CDNGeneralError     uint16 = 2  // the Error Code says why
	CDNAdministrative   uint16 = 3  // administrative reasons
	CDNNoFacilitiesTemp uint16 = 4  // no facilities (temporary)
	CDNNoFacilitiesPerm uint16 = 5  // no facilities (permanent)
	CDNLostTie          uint16 = 13 // lost the session tie breaker
	CDNUnsupportedPW    uint16 = 14 // pseudowire type not supported
	CDNSeqNoSublayer    uint16 = 15 // sequencing required without a sublayer
	CDNFSMError         uint16 = 16 // finite state machine error or timeout
)

// General error codes carried with result code 2 (RFC 3931 §5.4.2).
const (
	ErrorNone             uint16 = 0
	ErrorNoConnection     uint16 = 1 // no control connection yet
	ErrorLength           uint16 = 2 // length is wrong
	ErrorRange            uint16 = 3 // a field value out of range
	ErrorResources        uint16 = 4 // insufficient resources
	ErrorInvalidSession   uint16 = 5 // invalid session ID
	ErrorVendor           uint16 = 6 // vendor-specific error
	ErrorTryAnother       uint16 = 7 // try another
	ErrorUnknownMandatory uint16 = 8 // unknown AVP with the M bit set
)

// ResultCode is the value of a Result Code AVP: a result, an optional error
// code and an optional human-readable message.
type ResultCode struct {
	Result   uint16
	HasError bool   // Error (and Message) present
	Error    uint16 // general error code, with HasError
	Message  string // UTF-8 text, with HasError
}

// AppendResultCode appends a mandatory Result Code AVP; a message longer
// than an AVP holds is cut short.
func AppendResultCode(b []byte, rc ResultCode) []byte {
	if !rc.HasError {
		return AppendAVPUint16(b, true, AttrResultCode, rc.Result)
	}
	msg := rc.Message
	if len(msg) > MaxAVPValue-4 {
		msg = msg[:MaxAVPValue-4]
	}
	b = appendAVPHeader(b, true, false, 0, AttrResultCode, 4+len(msg))
	b = binary.BigEndian.AppendUint16(b, rc.Result)
	b = binary.BigEndian.AppendUint16(b, rc.Error)
	return append(b, msg...)
}

// parseResultCode decodes a Result Code value: 2 bytes, 4 bytes, or 4
// bytes and a message.
func parseResultCode(v []byte) (ResultCode, bool) {
	switch {
	case len(v) == 2:
		return ResultCode{Result: binary.BigEndian.Uint16(v)}, true
	case len(v) >= 4:
		return ResultCode{
			Result:   binary.BigEndian.Uint16(v),
			HasError: true,
			Error:    binary.BigEndian.Uint16(v[2:]),
			Message:  string(v[4:]),
		}, true
	}
	return ResultCode{}, false
}
