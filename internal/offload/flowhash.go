package offload

import "encoding/binary"

// With several TAP queues the kernel sends each flow to the queue on which
// frames of that flow were last written (its automatic steering), and
// spreads flows it has not seen by their hash. l2tap reads every queue in a
// loop of its own, and writes each received frame to the queue that
// FlowQueue picks, so both directions of a flow stay on one queue and
// different flows spread over the loops.

// FlowQueue returns the queue, 0..n-1, for frame: the same for both
// directions of a TCP or UDP flow over IPv4 or IPv6 (VLAN tags allowed),
// queue 0 for anything else. It never panics, whatever frame holds.
func FlowQueue(frame []byte, n int) int {
	if n <= 1 {
		return 0
	}
	l3, et, ok := L3Offset(frame)
	if !ok {
		return 0
	}
	var h uint32
	var l4 int
	var proto byte
	switch et {
	case EtherTypeIPv4:
		if len(frame) < l3+20 || frame[l3]>>4 != 4 {
			return 0
		}
		ip := frame[l3:]
		h = binary.BigEndian.Uint32(ip[12:]) ^ binary.BigEndian.Uint32(ip[16:])
		proto, l4 = ip[9], l3+int(ip[0]&0x0f)*4
		if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 {
			proto = 0 // a later fragment has no ports
		}
	case EtherTypeIPv6:
		if len(frame) < l3+40 || frame[l3]>>4 != 6 {
			return 0
		}
		ip := frame[l3:]
		for i := 8; i < 24; i += 4 {
			h ^= binary.BigEndian.Uint32(ip[i:]) ^ binary.BigEndian.Uint32(ip[i+16:])
		}
		proto, l4 = ip[6], l3+40
	default:
		return 0
	}
	if (proto == ProtoTCP || proto == ProtoUDP) && len(frame) >= l4+4 {
		h ^= uint32(binary.BigEndian.Uint16(frame[l4:])^binary.BigEndian.Uint16(frame[l4+2:])) * 0x9e3779b1
	}
	h ^= uint32(proto)
	// Fold the high bits in so that addresses differing only there spread.
	h ^= h >> 16
	h *= 0x45d9f3b
	h ^= h >> 16
	return int(h % uint32(n))
}
