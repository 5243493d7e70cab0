package l2tpv3

// IETF attribute types used by L2TPv3 (RFC 3931 §5.4, IANA "L2TP Control
// Message Attribute Value Pairs"). Vendor ID is 0 for all of them.
const (
	AttrMessageType        uint16 = 0
	AttrResultCode         uint16 = 1
	AttrTieBreaker         uint16 = 5
	AttrFirmwareRevision   uint16 = 6
	AttrHostName           uint16 = 7
	AttrVendorName         uint16 = 8
	AttrReceiveWindowSize  uint16 = 10
	AttrSerialNumber       uint16 = 15
	AttrPhysicalChannelID  uint16 = 25
	AttrRandomVector       uint16 = 36
	AttrMessageDigest      uint16 = 59
	AttrRouterID           uint16 = 60
	AttrAssignedConnID     uint16 = 61
	AttrPWCapabilities     uint16 = 62
	AttrLocalSessionID     uint16 = 63
	AttrRemoteSessionID    uint16 = 64
	AttrAssignedCookie     uint16 = 65
	AttrRemoteEndID        uint16 = 66
	AttrPWType             uint16 = 68
	AttrL2SpecificSublayer uint16 = 69
	AttrDataSequencing     uint16 = 70
	AttrCircuitStatus      uint16 = 71
	AttrPreferredLanguage  uint16 = 72
	AttrCtlMsgAuthNonce    uint16 = 73
	AttrTxConnectSpeed     uint16 = 74
	AttrRxConnectSpeed     uint16 = 75
)
