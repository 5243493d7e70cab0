package l2tpv3

// Reason says why a received packet, or a frame from a session's
// endpoint, was dropped. Each reason raises one named counter; several
// reasons may share a name, as Linux's rx_invalid covers both a short
// packet and a wrong version. A Reason is also an error, so that an
// endpoint can report a drop by wrapping one.
type Reason uint8

const (
	DropNone         Reason = iota
	DropShort               // shorter than its headers plus an Ethernet header
	DropVersion             // UDP T/Ver word is not L2TPv3 data
	DropControl             // a control message (T bit, or session 0 over IP)
	DropSession             // session ID is not the receive session
	DropCookie              // cookie differs from the receive cookie
	DropSequence            // out of order with -seqcheck
	DropTruncated           // larger than the receive buffer
	DropSource              // not from the configured peer address and port
	DropSocketFrame         // a VM socket's frame length is 0 or beyond 65535 (endpoint side)
	DropSocketClient        // a datagram from a second VM while the first one lives (endpoint side)
	NumReasons
)

var reasonCounters = [NumReasons]string{
	DropShort:        "rx_invalid",
	DropVersion:      "rx_invalid",
	DropControl:      "rx_control",
	DropSession:      "rx_session_mismatch",
	DropCookie:       "rx_cookie_discards",
	DropSequence:     "rx_seq_discards",
	DropTruncated:    "rx_truncated",
	DropSource:       "rx_wrong_source",
	DropSocketFrame:  "socket_bad_frames",
	DropSocketClient: "socket_refused",
}

var reasonText = [NumReasons]string{
	DropShort:        "packet too short",
	DropVersion:      "not an L2TPv3 data packet (T/Ver word)",
	DropControl:      "L2TP control message ignored (static pseudowire)",
	DropSession:      "session ID mismatch: check -rxsession against the peer's transmit session",
	DropCookie:       "cookie mismatch: check -rxcookie and its length (-rxcookie64, -cookie64) against the peer's transmit cookie",
	DropSequence:     "out-of-order packet dropped (-seqcheck)",
	DropTruncated:    "packet larger than the receive buffer",
	DropSource:       "packet from an address other than -dst/-dstport",
	DropSocketFrame:  "VM socket frame of length 0 or above 65535 (the client is closed)",
	DropSocketClient: "datagram from a second VM refused: one VM per -socket",
}

// String explains the reason, with the option to check where one applies.
func (r Reason) String() string {
	if r >= NumReasons {
		return "invalid reason"
	}
	return reasonText[r]
}

// Error returns String, so that a Reason can be wrapped in an error.
func (r Reason) Error() string { return r.String() }

// Counter returns the name of the counter r raises ("" for DropNone).
func (r Reason) Counter() string {
	if r >= NumReasons {
		return ""
	}
	return reasonCounters[r]
}

// DropCounters returns the name of every drop counter once, in the order
// of the reasons that raise them.
func DropCounters() []string {
	var names []string
	seen := map[string]bool{}
	for r := DropNone + 1; r < NumReasons; r++ {
		if name := r.Counter(); !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}
