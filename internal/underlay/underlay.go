package underlay

import (
	"net/netip"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// This file holds what every system shares: the configuration of a
// socket, the messages Receive fills and how addresses are written. The
// batched Socket (recvmmsg, sendmmsg, UDP GSO and GRO) is Linux's
// (socket.go, receive.go, send.go, gso.go); Conn (conn.go) is a plain UDP
// socket for every system.

// IPProtoL2TP is the IP protocol number of L2TPv3 over IP (RFC 3931 §4.1.1.2).
const IPProtoL2TP = 115

// Config says which socket to open.
type Config struct {
	UDP   bool       // UDP encapsulation; otherwise IP protocol 115
	Local netip.Addr // the address to bind; its family is the socket's
	Port  uint16     // the local UDP port (UDP only)
	// Offload turns on UDP GRO and, where the kernel has it, UDP GSO.
	Offload bool
	// PacketPath sends IP encapsulation over IPv4 through an AF_PACKET
	// socket with headers built here (Linux; see packet.go), falling back
	// to the raw socket; receiving stays on the raw socket.
	PacketPath bool
}

// AddrPortString writes an underlay address as users give it: with the
// port for UDP, bare for IP encapsulation.
func AddrPortString(a netip.Addr, port uint16, udp bool) string {
	if !udp {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// Message is one packet of a Receive: its L2TPv3 bytes, which are one
// datagram or, with UDP GRO, a run of datagrams of Seg bytes each (the last
// may be shorter), and where it came from. Buf aliases the socket's receive
// buffers until the next Receive.
type Message struct {
	Buf  []byte
	Seg  int            // datagram size of a GRO run; 0 for a single datagram
	Src  netip.AddrPort // the sender; port 0 for IP encapsulation
	Drop l2tpv3.Reason  // why the packet cannot be used (truncated, no IP header), or DropNone
}

// Datagram returns the first datagram of m.Buf and the rest of it: the
// whole of a single datagram, or one segment of a GRO run. A caller takes
// the datagrams of a message by calling it until rest is empty.
func (m *Message) Datagram(buf []byte) (one, rest []byte) {
	n := len(buf)
	if m.Seg > 0 {
		n = min(m.Seg, n)
	}
	return buf[:n], buf[n:]
}
