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
// queue 0 for anything else, including whatever Parse rejects. It never
// panics, whatever frame holds.
func FlowQueue(frame []byte, n int) int {
	if n <= 1 {
		return 0
	}
	var p Packet
	if !Parse(frame, &p) {
		return 0
	}
	var h uint32
	if p.V6 {
		ip := (*[40]byte)(frame[p.L3 : p.L3+40])
		for i := 8; i < 24; i += 4 {
			h ^= binary.BigEndian.Uint32(ip[i:]) ^ binary.BigEndian.Uint32(ip[i+16:])
		}
	} else {
		ip := (*[20]byte)(frame[p.L3 : p.L3+20])
		h = binary.BigEndian.Uint32(ip[12:16]) ^ binary.BigEndian.Uint32(ip[16:20])
	}
	proto, l4 := p.Proto, p.L4
	if p.FragOffset != 0 {
		proto = 0 // a later fragment has no ports
	}
	// The ports are hashed whenever they are there, whole TCP header or not.
	if (proto == ProtoTCP || proto == ProtoUDP) && len(frame) >= l4+4 {
		ports := (*[4]byte)(frame[l4 : l4+4])
		h ^= uint32(binary.BigEndian.Uint16(ports[0:2])^binary.BigEndian.Uint16(ports[2:4])) * 0x9e3779b1
	}
	h ^= uint32(proto)
	// Fold the high bits in so that addresses differing only there spread.
	h ^= h >> 16
	h *= 0x45d9f3b
	h ^= h >> 16
	return int(h % uint32(n))
}
