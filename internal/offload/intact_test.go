package offload

import "testing"

// TestParseIntactSegment: ParseIntactSegment takes what ParseSegment takes,
// the same Segment filled, and a segment whose checksum does not match
// only because it skips the sum; every other condition stays, the
// non-zero UDP checksum included. ParseSegment, which frames of single
// datagrams (zero UDP checksum, IP encapsulation) go through, still
// refuses the corrupted segment, so it is never coalesced.
func TestParseIntactSegment(t *testing.T) {
	for _, f := range []flow{
		{payload: 3000, mss: 1000, flags: tcpFlagACK},
		{v6: true, payload: 3000, mss: 1000, flags: tcpFlagACK},
		{udp: true, payload: 3000, mss: 1000},
		{udp: true, v6: true, payload: 3000, mss: 1000},
	} {
		t.Run(f.String(), func(t *testing.T) {
			fr, h := superframe(f)
			segs := split(t, fr, h)
			var a, b Segment
			for i, s := range segs {
				if !ParseSegment(s, &a, true) || !ParseIntactSegment(s, &b, true) || a != b {
					t.Fatalf("segment %d: checked %+v, intact %+v", i, a, b)
				}
			}
			bad := append([]byte{}, segs[1]...)
			bad[len(bad)-1] ^= 1
			if ParseSegment(bad, &a, true) {
				t.Error("ParseSegment took a corrupted segment")
			}
			if !ParseIntactSegment(bad, &b, true) {
				t.Error("ParseIntactSegment refused a segment for its checksum")
			}
			if got := len(coalesce([][]byte{segs[0], bad, segs[2]})); got != 3 {
				t.Errorf("checked: corrupted middle segment gave %d writes, want 3 (never merged)", got)
			}
			if f.udp {
				l4 := l3Of(bad) + 20
				if f.v6 {
					l4 = l3Of(bad) + 40
				}
				zero := append([]byte{}, segs[1]...)
				zero[l4+6], zero[l4+7] = 0, 0
				if ParseIntactSegment(zero, &b, true) {
					t.Error("ParseIntactSegment took a UDP datagram without checksum")
				}
			} else {
				syn := append([]byte{}, segs[1]...)
				syn[tcpAt(f, syn)+13] |= 0x02
				if ParseIntactSegment(syn, &b, true) {
					t.Error("ParseIntactSegment took a SYN")
				}
			}
		})
	}
}

// tcpAt returns where the TCP header of a frame of f starts.
func tcpAt(f flow, frame []byte) int {
	if f.v6 {
		return l3Of(frame) + 40
	}
	return l3Of(frame) + 20
}
