package offload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// refCsum is RFC 1071 spelled out: the complement of the one's-complement
// sum of big-endian 16-bit words, odd byte padded with zero.
func refCsum(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	var sum uint32
	for i := 0; i+1 < len(all); i += 2 {
		sum += uint32(all[i])<<8 | uint32(all[i+1])
	}
	if len(all)%2 == 1 {
		sum += uint32(all[len(all)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// refPseudo is the TCP/UDP pseudo-header as bytes.
func refPseudo(src, dst []byte, proto uint8, l4len int) []byte {
	p := append(append([]byte{}, src...), dst...)
	if len(src) == 4 {
		return append(p, 0, proto, byte(l4len>>8), byte(l4len))
	}
	return append(p, 0, 0, byte(l4len>>8), byte(l4len), 0, 0, 0, proto)
}

func TestCsumMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 65535)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 63, 64, 65, 127, 129, 1499, 1500, 2000, 65535} {
		for _, fill := range []byte{0x00, 0xff} {
			b := append([]byte{}, buf[:n]...)
			if fill == 0xff {
				for i := range b {
					b[i] = 0xff // worst case for carries
				}
			}
			var got [2]byte
			PutCsum(got[:], CsumAdd(0, b))
			if want := refCsum(b); binary.BigEndian.Uint16(got[:]) != want {
				t.Errorf("len %d fill %#x: checksum %#04x, want %#04x", n, fill, binary.BigEndian.Uint16(got[:]), want)
			}
		}
	}
}

// flow describes a synthetic superframe for the offload tests.
type flow struct {
	v6, udp bool
	vlan    bool
	payload int
	mss     int
	flags   uint8 // TCP flags of the superframe
}

func (f flow) String() string {
	s := "tcp4"
	switch {
	case f.udp && f.v6:
		s = "udp6"
	case f.udp:
		s = "udp4"
	case f.v6:
		s = "tcp6"
	}
	if f.vlan {
		s += "-vlan"
	}
	return fmt.Sprintf("%s-%d/%d", s, f.payload, f.mss)
}

// superframe builds what a TAP with TSO/USO hands over for f: headers with
// a deterministic payload, the L4 checksum field holding the pseudo-header
// sum, and the matching virtio-net header.
func superframe(f flow) ([]byte, VnetHdr) {
	fr := []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01}
	if f.vlan {
		fr = append(fr, 0x81, 0x00, 0x00, 0x2a)
	}
	l4len := 20 + 12 // TCP with a timestamp option
	proto := uint8(ProtoTCP)
	if f.udp {
		l4len, proto = 8, ProtoUDP
	}
	l4len += f.payload
	var src, dst []byte
	if f.v6 {
		fr = append(fr, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0], ip[1] = 0x60, 0x01
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len))
		ip[6], ip[7] = proto, 64
		ip[8], ip[23] = 0xfd, 1
		ip[24], ip[39] = 0xfd, 2
		fr = append(fr, ip...)
		src, dst = ip[8:24], ip[24:40]
	} else {
		fr = append(fr, 0x08, 0x00)
		ip := []byte{0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0, 10, 1, 0, 1, 10, 1, 0, 2}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len))
		binary.BigEndian.PutUint16(ip[10:], refCsum(ip))
		fr = append(fr, ip...)
		src, dst = ip[12:16], ip[16:20]
	}
	l4 := len(fr)
	h := VnetHdr{flags: VnetFlagNeedsCsum, csumStart: uint16(l4), gsoSize: uint16(f.mss)}
	if f.udp {
		fr = append(fr, 0x13, 0x88, 0x13, 0x89, byte(l4len>>8), byte(l4len), 0, 0)
		h.gsoType, h.csumOffset = VnetGSOUDPL4, 6
	} else {
		fr = append(fr, 0xc0, 0x01, 0x00, 0x50, 0x10, 0x20, 0x30, 0x40, 0xa0, 0xb0, 0xc0, 0xd0,
			0x80, f.flags, 0x01, 0xf5, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9)
		h.gsoType, h.csumOffset = VnetGSOTCPv4, 16
		if f.v6 {
			h.gsoType = VnetGSOTCPv6
		}
	}
	h.hdrLen = uint16(len(fr))
	for i := 0; i < f.payload; i++ {
		fr = append(fr, byte(i*7+i>>8))
	}
	PutPartialCsum(fr[l4+int(h.csumOffset):], PseudoHeaderSum(src, dst, proto, l4len))
	return fr, h
}

// split cuts a superframe with the splitter and returns the segments.
func split(t testing.TB, fr []byte, h VnetHdr) [][]byte {
	t.Helper()
	var s Splitter
	if err := s.Init(fr, &h); err != nil {
		t.Fatal(err)
	}
	var segs [][]byte
	for s.More() {
		b := make([]byte, s.MaxSegment())
		segs = append(segs, b[:s.Next(b)])
	}
	return segs
}

// checkSegment verifies a frame's lengths and checksums against the
// reference implementation and returns its L4 payload.
func checkSegment(t *testing.T, seg []byte, f flow) []byte {
	t.Helper()
	l3 := l3Of(seg)
	var l4 int
	var src, dst []byte
	proto := uint8(ProtoTCP)
	if f.udp {
		proto = ProtoUDP
	}
	if f.v6 {
		l4 = l3 + 40
		if got := int(binary.BigEndian.Uint16(seg[l3+4:])); got != len(seg)-l4 {
			t.Fatalf("IPv6 payload length %d, want %d", got, len(seg)-l4)
		}
		src, dst = seg[l3+8:l3+24], seg[l3+24:l3+40]
	} else {
		l4 = l3 + 20
		if got := int(binary.BigEndian.Uint16(seg[l3+2:])); got != len(seg)-l3 {
			t.Fatalf("IPv4 total length %d, want %d", got, len(seg)-l3)
		}
		if refCsum(seg[l3:l4]) != 0 {
			t.Fatal("bad IPv4 header checksum")
		}
		src, dst = seg[l3+12:l3+16], seg[l3+16:l3+20]
	}
	if refCsum(refPseudo(src, dst, proto, len(seg)-l4), seg[l4:]) != 0 {
		t.Fatalf("bad L4 checksum in %x", seg[l4:min(len(seg), l4+40)])
	}
	if f.udp {
		if got := int(binary.BigEndian.Uint16(seg[l4+4:])); got != len(seg)-l4 {
			t.Fatalf("UDP length %d, want %d", got, len(seg)-l4)
		}
		return seg[l4+8:]
	}
	return seg[l4+32:]
}

var splitCases = []flow{
	{payload: 4000, mss: 1448, flags: tcpFlagACK | tcpFlagPSH},
	{payload: 2896, mss: 1448, flags: tcpFlagACK},
	{v6: true, payload: 65000, mss: 1428, flags: tcpFlagACK | tcpFlagPSH | tcpFlagFIN},
	{vlan: true, payload: 3001, mss: 1000, flags: tcpFlagACK | tcpFlagCWR},
	{v6: true, vlan: true, payload: 5000, mss: 1400, flags: tcpFlagACK},
	{udp: true, payload: 3000, mss: 1200},
	{udp: true, v6: true, vlan: true, payload: 1201, mss: 1200},
	{payload: 0, mss: 1448, flags: tcpFlagACK | tcpFlagFIN},
}

// TestGSOSplit checks that every segment has right lengths, checksums,
// sequence numbers, IDs and flags, and that the payloads add up.
func TestGSOSplit(t *testing.T) {
	for _, f := range splitCases {
		t.Run(f.String(), func(t *testing.T) {
			fr, h := superframe(f)
			segs := split(t, fr, h)
			want := max(1, (f.payload+f.mss-1)/f.mss)
			if len(segs) != want {
				t.Fatalf("%d segments, want %d", len(segs), want)
			}
			var payload []byte
			l3 := l3Of(fr)
			for i, seg := range segs {
				p := checkSegment(t, seg, f)
				if i < len(segs)-1 && len(p) != f.mss {
					t.Errorf("segment %d: %d payload bytes, want %d", i, len(p), f.mss)
				}
				if !f.v6 {
					if id := binary.BigEndian.Uint16(seg[l3+4:]); id != 0x1234+uint16(i) {
						t.Errorf("segment %d: IPv4 ID %#x", i, id)
					}
				}
				if !f.udp {
					tcp := seg[len(seg)-len(p)-32:]
					if seq := binary.BigEndian.Uint32(tcp[4:]); seq != 0x10203040+uint32(i*f.mss) {
						t.Errorf("segment %d: seq %#x", i, seq)
					}
					wantFlags := f.flags
					if i < len(segs)-1 {
						wantFlags &^= tcpFlagPSH | tcpFlagFIN
					}
					if i > 0 {
						wantFlags &^= tcpFlagCWR
					}
					if tcp[13] != wantFlags {
						t.Errorf("segment %d: flags %#x, want %#x", i, tcp[13], wantFlags)
					}
				}
				payload = append(payload, p...)
			}
			if !bytes.Equal(payload, fr[int(h.hdrLen):]) {
				t.Error("segment payloads do not add up to the superframe's")
			}
		})
	}
}

// TestGSOSplitGolden pins the checksums of one IPv4 TCP split, computed
// once with the reference implementation.
func TestGSOSplitGolden(t *testing.T) {
	fr, h := superframe(flow{payload: 4000, mss: 1448, flags: tcpFlagACK | tcpFlagPSH})
	var got []string
	for _, seg := range split(t, fr, h) {
		got = append(got, fmt.Sprintf("ip %04x tcp %04x", binary.BigEndian.Uint16(seg[24:]), binary.BigEndian.Uint16(seg[50:])))
	}
	want := []string{"ip 0ee4 tcp c8dd", "ip 0ee3 tcp f061", "ip 103a tcp bb8c"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checksums %q, want %q", got, want)
	}
}

func TestGSOSplitRejects(t *testing.T) {
	good, gh := superframe(flow{payload: 3000, mss: 1000, flags: tcpFlagACK})
	cases := []struct {
		name string
		edit func(fr []byte, h *VnetHdr) []byte
	}{
		{"no-needs-csum", func(fr []byte, h *VnetHdr) []byte { h.flags = 0; return fr }},
		{"zero-mss", func(fr []byte, h *VnetHdr) []byte { h.gsoSize = 0; return fr }},
		{"csum-start-past-end", func(fr []byte, h *VnetHdr) []byte { h.csumStart = 9999; return fr }},
		{"csum-start-inside-ip", func(fr []byte, h *VnetHdr) []byte { h.csumStart = 20; return fr }},
		{"v6-type-on-v4", func(fr []byte, h *VnetHdr) []byte { h.gsoType = VnetGSOTCPv6; return fr }},
		{"ufo", func(fr []byte, h *VnetHdr) []byte { h.gsoType = VnetGSOUDP; return fr }},
		{"arp", func(fr []byte, h *VnetHdr) []byte { fr[12], fr[13] = 0x08, 0x06; return fr }},
		{"truncated", func(fr []byte, h *VnetHdr) []byte { return fr[:40] }},
		{"tcp-doff-short", func(fr []byte, h *VnetHdr) []byte { fr[34+12] = 0x40; return fr }},
	}
	for _, c := range cases {
		fr, h := append([]byte{}, good...), gh
		fr = c.edit(fr, &h)
		var s Splitter
		if err := s.Init(fr, &h); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestCompleteCsum(t *testing.T) {
	f := flow{payload: 999, mss: 1448, flags: tcpFlagACK}
	fr, h := superframe(f)
	h.gsoType = VnetGSONone
	if err := CompleteCsum(fr, &h); err != nil {
		t.Fatal(err)
	}
	checkSegment(t, fr, f)
	h.csumStart = uint16(len(fr))
	if err := CompleteCsum(fr, &h); err == nil {
		t.Error("checksum field past the end accepted")
	}
}

// coalesce feeds frames to a Coalescer the way tapOut does and returns the
// writes it would make, each with its virtio-net header.
func coalesce(frames [][]byte) [][]byte {
	g := NewCoalescer()
	var out [][]byte
	var s Segment
	for _, fr := range frames {
		if !ParseSegment(fr, &s, true) {
			if g.Pending() {
				out = append(out, append([]byte{}, g.Finish()...))
			}
			out = append(out, append(make([]byte, VnetHdrLen), fr...))
			continue
		}
		if g.TryAppend(fr, &s) {
			continue
		}
		if g.Pending() {
			out = append(out, append([]byte{}, g.Finish()...))
		}
		g.Start(fr, &s)
	}
	if g.Pending() {
		out = append(out, append([]byte{}, g.Finish()...))
	}
	return out
}

// TestGROUndoesGSO checks that coalescing the segments (TCP) or datagrams
// (UDP) of a split gives the superframe back, with a virtio-net header
// asking for the same split.
func TestGROUndoesGSO(t *testing.T) {
	for _, f := range splitCases {
		if f.payload == 0 || (!f.udp && (f.flags&tcpFlagACK == 0 || f.flags&^(tcpFlagACK|tcpFlagPSH) != 0)) {
			continue
		}
		t.Run(f.String(), func(t *testing.T) {
			fr, h := superframe(f)
			writes := coalesce(split(t, fr, h))
			if len(writes) != 1 {
				t.Fatalf("%d writes, want 1", len(writes))
			}
			var got VnetHdr
			got.Decode(writes[0])
			want := VnetHdr{flags: VnetFlagNeedsCsum, gsoType: h.gsoType, hdrLen: h.hdrLen, gsoSize: h.gsoSize, csumStart: h.csumStart, csumOffset: h.csumOffset}
			if got != want {
				t.Errorf("virtio-net header %+v, want %+v", got, want)
			}
			sf := writes[0][VnetHdrLen:]
			l3 := l3Of(sf)
			if !f.v6 && refCsum(sf[l3:l3+20]) != 0 {
				t.Error("bad IPv4 header checksum")
			}
			// The TCP checksum field holds the pseudo-header sum, as in the
			// original; the IPv4 checksum was recomputed. The rest is equal.
			norm := func(b []byte) []byte {
				b = append([]byte{}, b...)
				if !f.v6 {
					b[l3+10], b[l3+11] = 0, 0
				}
				return b
			}
			if !bytes.Equal(norm(sf), norm(fr)) {
				t.Errorf("coalesced frame differs from the superframe:\n got %x\nwant %x", sf[:80], fr[:80])
			}
			// And splitting the result again gives valid frames.
			got.gsoType = h.gsoType
			for _, seg := range split(t, sf, got) {
				checkSegment(t, seg, f)
			}
		})
	}
}

// TestGROKeepsApart checks what must not be merged.
func TestGROKeepsApart(t *testing.T) {
	f := flow{payload: 3000, mss: 1000, flags: tcpFlagACK}
	fr, h := superframe(f)
	segs := split(t, fr, h)
	other, oh := superframe(flow{v6: true, payload: 2000, mss: 1000, flags: tcpFlagACK})
	v6 := split(t, other, oh)
	badCsum := append([]byte{}, segs[1]...)
	badCsum[len(badCsum)-1] ^= 1
	push := append([]byte{}, segs[0]...)
	push[34+13] |= tcpFlagPSH
	PutCsum(push[34+16:], 0) // recomputed below
	push[34+16], push[34+17] = 0, 0
	PutCsum(push[34+16:], CsumAdd(PseudoHeaderSum(push[26:30], push[30:34], ProtoTCP, len(push)-34), push[34:]))
	cases := []struct {
		name   string
		frames [][]byte
		writes int
	}{
		{"in-order", segs, 1},
		{"gap", [][]byte{segs[0], segs[2]}, 2},
		{"reordered", [][]byte{segs[1], segs[0], segs[2]}, 3},
		{"bad-checksum", [][]byte{segs[0], badCsum, segs[2]}, 3},
		{"push-ends-run", [][]byte{push, segs[1], segs[2]}, 2},
		{"short-ends-run", [][]byte{segs[2], segs[0]}, 2},
		{"other-flow", [][]byte{segs[0], v6[0], segs[1], v6[1]}, 4},
		{"arp-between", [][]byte{segs[0], testFrame, segs[1]}, 3},
	}
	for _, c := range cases {
		if got := len(coalesce(c.frames)); got != c.writes {
			t.Errorf("%s: %d writes, want %d", c.name, got, c.writes)
		}
	}
}

// FuzzGSOSplit checks that no virtio-net header and frame make the splitter
// panic, and that every segment it accepts to make has a valid IPv4 header.
func FuzzGSOSplit(f *testing.F) {
	for _, c := range splitCases {
		if c.payload > 5000 {
			continue // large seeds only slow the fuzzer down
		}
		fr, h := superframe(c)
		var hb [VnetHdrLen]byte
		h.Encode(hb[:])
		f.Add(hb[:], fr)
	}
	f.Fuzz(func(t *testing.T, hb, fr []byte) {
		var h VnetHdr
		if h.Decode(hb) != nil {
			return
		}
		if h.gsoType == VnetGSONone {
			CompleteCsum(fr, &h)
			return
		}
		var s Splitter
		if s.Init(fr, &h) != nil {
			return
		}
		buf := make([]byte, s.MaxSegment())
		for i := 0; s.More() && i < 70000; i++ {
			n := s.Next(buf)
			if !s.v6 && refCsum(buf[s.l3:s.l4]) != 0 {
				t.Fatalf("segment %d: bad IPv4 header checksum", i)
			}
			if n < s.hdrLen || n > len(buf) {
				t.Fatalf("segment %d: length %d", i, n)
			}
		}
	})
}

// FuzzGRO checks that no sequence of frames makes coalescing panic, and that
// a coalesced superframe splits back into frames with valid checksums.
func FuzzGRO(f *testing.F) {
	fr, h := superframe(flow{payload: 3000, mss: 1000, flags: tcpFlagACK})
	segs := split(f, fr, h)
	f.Add(segs[0], segs[1], segs[2])
	f.Add(segs[0], testFrame, segs[1])
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		for _, w := range coalesce([][]byte{a, b, c}) {
			var vh VnetHdr
			vh.Decode(w)
			if vh.gsoType == VnetGSONone {
				continue
			}
			var s Splitter
			if err := s.Init(w[VnetHdrLen:], &vh); err != nil {
				t.Fatalf("coalesced superframe does not split: %v", err)
			}
			buf := make([]byte, s.MaxSegment())
			for s.More() {
				n := s.Next(buf)
				var seg Segment
				if !ParseSegment(buf[:n], &seg, true) {
					t.Fatalf("re-split segment is not a valid TCP segment: %x", buf[:n])
				}
			}
		}
	})
}

// testFrame is a 60-byte Ethernet frame that no flow owns: broadcast ARP.
var testFrame = func() []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06})
	for i := 14; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}()

// l3Of returns where the IP header of frame starts, or -1 if Parse finds
// none.
func l3Of(frame []byte) int {
	var p Packet
	if !Parse(frame, &p) {
		return -1
	}
	return p.L3
}
