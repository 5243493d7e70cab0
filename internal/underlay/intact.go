package underlay

// Intact reports whether the kernel vouches for every byte of m.Buf: it is
// true for a run of datagrams that UDP GRO handed over as one message (Seg
// set), false for everything else, which must be checked as before.
//
// A run exists only if every datagram in it carried a non-zero UDP
// checksum: the kernel's GRO merges no datagram with a zero checksum
// (udp_gro_receive_segment: "requires non zero csum, for symmetry with
// GSO"), and verifies each one's checksum before merging it; and a sender's
// UDP_SEGMENT message, which reaches a local or veth peer as one run, is
// refused on a socket that sends zero checksums (SO_NO_CHECK: EINVAL), and
// its checksums are computed by the sending host, not taken from a wire.
// A UDP checksum covers the whole L2TPv3 packet, so an Ethernet frame in a
// run is byte for byte what its sender's checksum covered.
//
// Single datagrams carry no such promise: over IPv4 a zero UDP checksum
// (Linux's default for its own L2TP tunnels) means nothing was verified,
// and recvmmsg does not say which checksum a datagram had. IP
// encapsulation has no checksum at all.
func (m *Message) Intact() bool { return m.Seg > 0 }
