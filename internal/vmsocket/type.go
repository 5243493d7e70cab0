// Package vmsocket owns a session endpoint on a unix socket that a VM's
// QEMU plugs its NIC into, in place of a TAP: no TAP, bridge or root is
// needed for the VM. l2tap listens; QEMU connects with -netdev stream (a
// stream socket, each frame behind its length as 4 bytes big-endian, as
// -netdev stream and -net socket frame them) or sends with -netdev dgram
// (a datagram socket, one frame per datagram, to and from unix addresses
// that both sides bind).
//
// It owns the socket file (a stale one replaced, a live one refused;
// owner, group and mode; removed on Close), one client at a time (a
// second one refused while the first lives, the next one served once it
// is gone, as when the VM reboots or QEMU restarts), and the batched data
// path: each read takes as many frames as the socket holds, frames split
// across reads carried over; writes hand many frames to one writev (stream)
// or sendmmsg (dgram). A malformed length closes that client, counted under
// l2tpv3.DropSocketFrame. Nothing is allocated per frame.
package vmsocket

// MaxFrame is the largest frame either framing carries.
const MaxFrame = 65535

// Type is the kind of socket QEMU's netdev uses.
type Type uint8

const (
	// Stream is QEMU's -netdev stream (and -net socket): a stream
	// connection, each frame behind a 4-byte big-endian length.
	Stream Type = iota
	// Dgram is QEMU's -netdev dgram over unix addresses: one frame per
	// datagram.
	Dgram
)

func (t Type) String() string {
	if t == Dgram {
		return "dgram"
	}
	return "stream"
}
