package offload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// Options as they appear in SYNs.
var (
	optMSS1460 = []byte{2, 4, 0x05, 0xb4}
	optMSS1440 = []byte{2, 4, 0x05, 0xa0}
	optSACKOK  = []byte{4, 2}
	optTS      = []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 0}
	optWS7     = []byte{3, 3, 7}
	optNOP     = []byte{1}
)

// opts concatenates options and pads them with zeros (end of list) to a
// multiple of 4, as a TCP header needs.
func opts(parts ...[]byte) []byte {
	var o []byte
	for _, p := range parts {
		o = append(o, p...)
	}
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	return o
}

// tcpSegment returns a TCP/IP packet inside an Ethernet frame with tags
// VLAN tags: the given flags and options (whose length must be a multiple
// of 4), payload behind them, and right IPv4 header and TCP checksums.
func tcpSegment(v6 bool, tags int, flags uint8, options, payload []byte) []byte {
	tcp := tcpHdr(20 + len(options))
	tcp[13] = flags
	copy(tcp[20:], options)
	seg := append(tcp, payload...)
	var fr []byte
	if v6 {
		fr = ipFrame(tags, EtherTypeIPv6, ipv6(len(seg), ProtoTCP), seg)
	} else {
		ip := ipv4(5, 20+len(seg), ProtoTCP, 0x4000)
		binary.BigEndian.PutUint16(ip[10:], refCsum(ip))
		fr = ipFrame(tags, EtherTypeIPv4, ip, seg)
	}
	setTCPCsum(fr)
	return fr
}

// tcpLayout returns the offsets of the IP and TCP headers of a frame
// tcpSegment built, and the end of the IP packet.
func tcpLayout(fr []byte) (l3, l4, end int, v6 bool) {
	l3 = 14
	for binary.BigEndian.Uint16(fr[l3-2:]) != EtherTypeIPv4 && binary.BigEndian.Uint16(fr[l3-2:]) != EtherTypeIPv6 {
		l3 += 4
	}
	if fr[l3]>>4 == 6 {
		return l3, l3 + 40, l3 + 40 + int(binary.BigEndian.Uint16(fr[l3+4:])), true
	}
	return l3, l3 + int(fr[l3]&15)*4, l3 + int(binary.BigEndian.Uint16(fr[l3+2:])), false
}

// tcpSum returns the reference checksum of fr's TCP segment with its
// checksum field as it is: 0 when the field is right.
func tcpSum(fr []byte) uint16 {
	l3, l4, end, v6 := tcpLayout(fr)
	src, dst := fr[l3+12:l3+16], fr[l3+16:l3+20]
	if v6 {
		src, dst = fr[l3+8:l3+24], fr[l3+24:l3+40]
	}
	return refCsum(refPseudo(src, dst, ProtoTCP, end-l4), fr[l4:end])
}

func setTCPCsum(fr []byte) {
	_, l4, _, _ := tcpLayout(fr)
	fr[l4+16], fr[l4+17] = 0, 0
	binary.BigEndian.PutUint16(fr[l4+16:], tcpSum(fr))
}

// mssOf returns the value of the first well-formed MSS option of fr's TCP
// header, or -1.
func mssOf(fr []byte) int {
	_, l4, _, _ := tcpLayout(fr)
	o := fr[l4+20 : l4+int(fr[l4+12]>>4)*4]
	for i := 0; i < len(o); {
		if o[i] == 0 {
			return -1
		}
		if o[i] == 1 {
			i++
			continue
		}
		if i+1 >= len(o) || o[i+1] < 2 || i+int(o[i+1]) > len(o) {
			return -1
		}
		if o[i] == 2 && o[i+1] == 4 {
			return int(binary.BigEndian.Uint16(o[i+2:]))
		}
		i += int(o[i+1])
	}
	return -1
}

// pathFrame is a 1500-byte underlay less UDP/IPv4 and L2TPv3 encapsulation:
// a payload MTU of 1450, frames of 1464 bytes.
const pathFrame = 1450 + 14

func TestClampMSS(t *testing.T) {
	type tc struct {
		name    string
		fr      []byte
		clamp   MSSClamp
		want    int // the MSS afterwards; -1 none
		changed bool
	}
	var cases []tc
	auto := MSSClamp{Frame: pathFrame}
	// Every family, tag count and kind of segment.
	for _, v6 := range []bool{false, true} {
		for tags := 0; tags <= 2; tags++ {
			for _, k := range []struct {
				name  string
				flags uint8
				clamp bool
			}{{"SYN", tcpFlagSYN, true}, {"SYN-ACK", tcpFlagSYN | tcpFlagACK, true}, {"ACK", tcpFlagACK, false},
				{"SYN-ACK-ECE", tcpFlagSYN | tcpFlagACK | tcpFlagECE, true}, {"RST-ACK", tcpFlagRST | tcpFlagACK, false}} {
				mss, fits := 1460, 1450-40-4*tags
				if v6 {
					mss, fits = 1440, 1450-60-4*tags
				}
				o := opts(binary.BigEndian.AppendUint16([]byte{2, 4}, uint16(mss)), optSACKOK, optTS, optNOP, optWS7)
				c := tc{name: fmt.Sprintf("v6=%v/tags=%d/%s", v6, tags, k.name), fr: tcpSegment(v6, tags, k.flags, o, nil),
					clamp: auto, want: mss}
				if k.clamp {
					c.want, c.changed = fits, true
				}
				cases = append(cases, c)
			}
		}
	}
	syn := func(v6 bool, o []byte, payload []byte) []byte { return tcpSegment(v6, 0, tcpFlagSYN, o, payload) }
	cases = append(cases,
		tc{"already lower", syn(false, opts([]byte{2, 4, 0x04, 0xb0}), nil), auto, 1200, false},
		tc{"exactly the limit", syn(true, opts([]byte{2, 4, 0x05, 0x6e}), nil), auto, 1390, false},
		tc{"no MSS option", syn(false, opts(optNOP, optWS7, optSACKOK, optTS), nil), auto, -1, false},
		tc{"no options", syn(false, nil, nil), auto, -1, false},
		// The value at an odd offset from the TCP header: its bytes fall
		// into two checksum words.
		tc{"after one NOP", syn(false, opts(optNOP, optMSS1460, optWS7), nil), auto, 1410, true},
		tc{"after three NOPs", syn(true, opts(optNOP, optNOP, optNOP, optMSS1440), nil), auto, 1390, true},
		tc{"after window scale", syn(false, opts(optWS7, optMSS1460), nil), auto, 1410, true},
		tc{"last of 40 option bytes", syn(false, opts(optTS, optTS, optSACKOK, bytes.Repeat(optNOP, 14), optMSS1460), nil), auto, 1410, true},
		tc{"SYN with odd payload", syn(false, opts(optMSS1460), []byte{1, 2, 3, 4, 5}), auto, 1410, true},
		tc{"SYN with odd payload, odd offset", syn(true, opts(optNOP, optMSS1440, optNOP, optNOP, optNOP), []byte{9, 8, 7}), auto, 1390, true},
		tc{"fixed MSS", syn(false, opts(optMSS1460), nil), MSSClamp{MSS: 1300}, 1300, true},
		tc{"fixed MSS above the path's", syn(false, opts(optMSS1460), nil), MSSClamp{Frame: pathFrame, MSS: 1420}, 1410, true},
		tc{"fixed MSS below the path's", syn(true, opts(optMSS1440), nil), MSSClamp{Frame: pathFrame, MSS: 1220}, 1220, true},
		tc{"fixed MSS above the option", syn(false, opts(optMSS1460), nil), MSSClamp{MSS: 9000}, 1460, false},
		tc{"clamping off", syn(false, opts(optMSS1460), nil), MSSClamp{}, 1460, false},
		tc{"path too small for any MSS", syn(false, opts(optMSS1460), nil), MSSClamp{Frame: 40}, 1460, false},
	)
	// Malformed or cut-short options: left alone, whatever follows.
	for _, m := range []struct {
		name string
		o    []byte
	}{
		{"MSS after end of list", opts([]byte{0}, optNOP, optNOP, optNOP, optMSS1460)},
		{"option of length 0 before MSS", opts([]byte{8, 0}, optNOP, optNOP, optMSS1460)},
		{"option of length 1 before MSS", opts([]byte{8, 1}, optNOP, optNOP, optMSS1460)},
		{"option past the header before MSS", opts([]byte{8, 10, 0, 0}, optMSS1460)},
		{"MSS of length 3", opts([]byte{2, 3, 0x05, 0xb4})},
		{"MSS cut by the header's end", append(opts(optNOP, optNOP, optNOP, optNOP), 1, 2, 4, 0x05)},
		{"kind without a length at the end", opts(optNOP, optNOP, optNOP, []byte{8})},
	} {
		cases = append(cases, tc{m.name, syn(false, m.o, nil), auto, mssOf(syn(false, m.o, nil)), false})
	}
	// Frames whose TCP header is not whole or not first.
	cut := syn(false, opts(optMSS1460, optTS, optNOP, optNOP), nil)
	cut = cut[:len(cut)-4]
	short := syn(false, opts(optMSS1460), nil)
	binary.BigEndian.PutUint16(short[14+2:], 20+20) // IP total length ends inside the options
	frag := syn(false, opts(optMSS1460), nil)
	frag[14+6] = 0x20 // MF, the first fragment: the header is whole
	later := syn(false, opts(optMSS1460), nil)
	later[14+7] = 1 // offset 8: TCP bytes not a header
	ext := tcpSegment(true, 0, tcpFlagSYN, opts(optMSS1440), nil)
	ext[14+6] = 0 // hop-by-hop options: the header behind is not looked into
	udp := syn(false, opts(optMSS1460), nil)
	udp[14+9] = ProtoUDP
	cases = append(cases,
		tc{"TCP header cut by the frame's end", cut, auto, -2, false},
		tc{"TCP header past the IP packet", short, auto, -2, false},
		tc{"IPv4 first fragment", frag, auto, 1410, true},
		tc{"IPv4 later fragment", later, auto, -2, false},
		tc{"IPv6 extension header", ext, auto, -2, false},
		tc{"UDP", udp, auto, -2, false},
		tc{"not IP", append(ipFrame(1, 0x0806, nil, nil), make([]byte, 60)...), auto, -2, false},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := append([]byte{}, c.fr...)
			okBefore := c.want != -2 && tcpSum(c.fr) == 0
			if got := c.clamp.Clamp(c.fr); got != c.changed {
				t.Fatalf("Clamp reported %v, want %v", got, c.changed)
			}
			if !c.changed {
				if !bytes.Equal(before, c.fr) {
					t.Fatalf("frame changed:\n%x\n%x", before, c.fr)
				}
				return
			}
			if got := mssOf(c.fr); got != c.want {
				t.Errorf("MSS %d, want %d", got, c.want)
			}
			// The checksum recomputed from scratch over the changed frame.
			if okBefore && tcpSum(c.fr) != 0 {
				t.Errorf("TCP checksum wrong after clamping: %#04x", tcpSum(c.fr))
			}
			// Only the MSS value and the checksum changed.
			_, l4, _, _ := tcpLayout(c.fr)
			var diff []int
			for i := range c.fr {
				if c.fr[i] != before[i] && i != l4+16 && i != l4+17 {
					diff = append(diff, i-l4)
				}
			}
			if len(diff) == 0 || len(diff) > 2 || diff[len(diff)-1]-diff[0] > 1 {
				t.Errorf("bytes changed at TCP offsets %v", diff)
			}
		})
	}
}

// TestClampMSSChecksumWords checks the incremental update against a
// checksum computed anew for many MSS values at both alignments, the
// checksum field's carry cases included.
func TestClampMSSChecksumWords(t *testing.T) {
	for _, o := range [][]byte{opts(optMSS1460), opts(optNOP, optMSS1460)} {
		for from := 600; from < 65535; from += 997 {
			for _, pay := range [][]byte{nil, {0xff}, {0xff, 0xff, 0x00}, {0x12, 0x34}} {
				oo := append([]byte{}, o...)
				at := bytes.IndexByte(oo, 2)
				binary.BigEndian.PutUint16(oo[at+2:], uint16(from))
				fr := tcpSegment(false, 0, tcpFlagSYN, oo, pay)
				c := MSSClamp{MSS: from / 2}
				if !c.Clamp(fr) {
					t.Fatalf("MSS %d not clamped to %d", from, from/2)
				}
				if s := tcpSum(fr); s != 0 {
					t.Fatalf("MSS %d to %d, options %x payload %x: checksum off by %#04x", from, from/2, o, pay, s)
				}
			}
		}
	}
}

// TestClampMSSSuperframe clamps the segments a SYN superframe from an
// offloading TAP is cut into, as the send loop sees them.
func TestClampMSSSuperframe(t *testing.T) {
	for _, f := range []flow{
		{payload: 3000, mss: 1448, flags: tcpFlagSYN},
		{v6: true, vlan: true, payload: 3000, mss: 1400, flags: tcpFlagSYN | tcpFlagACK},
	} {
		fr, h := superframe(f)
		// The superframe's 12 option bytes: NOP NOP timestamp made MSS 1460,
		// window scale, NOP, NOPs.
		l4 := int(h.csumStart)
		copy(fr[l4+20:], []byte{2, 4, 0x05, 0xb4, 3, 3, 7, 1, 1, 1, 1, 1})
		segs := split(t, fr, h)
		c := MSSClamp{Frame: pathFrame}
		want := 1410
		if f.v6 {
			want = 1450 - 60 - 4
		}
		for i, seg := range segs {
			syn := seg[l4+13]&tcpFlagSYN != 0
			if got := c.Clamp(seg); got != syn {
				t.Fatalf("%v segment %d: clamped %v with SYN %v", f, i, got, syn)
			}
			checkSegment(t, seg, f)
			if got := int(binary.BigEndian.Uint16(seg[l4+22:])); syn && got != want {
				t.Errorf("%v segment %d: MSS %d, want %d", f, i, got, want)
			}
		}
	}
}

func TestClampMSSAllocs(t *testing.T) {
	syn := tcpSegment(true, 2, tcpFlagSYN, opts(optMSS1440, optSACKOK, optTS, optNOP, optWS7), nil)
	ack := tcpSegment(false, 1, tcpFlagACK, opts(optNOP, optNOP, optTS), make([]byte, 1400))
	c := MSSClamp{Frame: pathFrame}
	if n := testing.AllocsPerRun(100, func() {
		binary.BigEndian.PutUint16(syn[14+8+40+22:], 1440)
		c.Clamp(syn)
		c.Clamp(ack)
	}); n != 0 {
		t.Errorf("%v allocations per Clamp", n)
	}
}

// BenchmarkClampMSS is the cost of the check on the frames that make up
// bulk traffic (full-size ACKs, pure ACKs, UDP) and on a SYN.
func BenchmarkClampMSS(b *testing.B) {
	c := MSSClamp{Frame: pathFrame}
	for _, f := range []struct {
		name string
		fr   []byte
	}{
		{"data4", tcpSegment(false, 0, tcpFlagACK, opts(optNOP, optNOP, optTS), make([]byte, 1398))},
		{"data6-vlan", tcpSegment(true, 1, tcpFlagACK, opts(optNOP, optNOP, optTS), make([]byte, 1374))},
		{"ack4", tcpSegment(false, 0, tcpFlagACK, opts(optNOP, optNOP, optTS), nil)},
		{"udp4", ipFrame(0, EtherTypeIPv4, ipv4(5, 1428, ProtoUDP, 0), append(udpHdr, make([]byte, 1400)...))},
		{"syn4", tcpSegment(false, 0, tcpFlagSYN, opts(optMSS1460, optSACKOK, optTS, optNOP, optWS7), nil)},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if f.name == "syn4" {
					binary.BigEndian.PutUint16(f.fr[14+20+22:], 1460)
				}
				c.Clamp(f.fr)
			}
		})
	}
}

// FuzzClampMSS checks that Clamp never panics on any frame, changes at
// most the MSS value and the TCP checksum, never raises the MSS, and keeps
// a right checksum right.
func FuzzClampMSS(f *testing.F) {
	f.Add(tcpSegment(false, 0, tcpFlagSYN, opts(optMSS1460, optSACKOK, optTS, optNOP, optWS7), nil), 1464, 0)
	f.Add(tcpSegment(true, 2, tcpFlagSYN|tcpFlagACK, opts(optNOP, optMSS1440), []byte{1, 2, 3}), 1464, 1300)
	f.Add(tcpSegment(false, 1, tcpFlagSYN, opts([]byte{8, 0}, optMSS1460), nil), 0, 536)
	f.Add(tcpSegment(false, 0, tcpFlagSYN, opts([]byte{8, 1}, optMSS1460), nil), 1464, 0)
	f.Add(tcpSegment(false, 0, tcpFlagSYN, append(opts(optNOP, optNOP, optNOP), 2), nil), 1464, 0)
	f.Fuzz(func(t *testing.T, fr []byte, frame, mss int) {
		c := MSSClamp{Frame: frame, MSS: mss}
		var p Packet
		whole := Parse(fr, &p) && p.Proto == ProtoTCP && p.HdrLen != 0 && p.HdrLen <= p.End && p.End <= len(fr)
		sumOK := whole && tcpSum(fr) == 0
		before := append([]byte{}, fr...)
		if !c.Clamp(fr) {
			if !bytes.Equal(before, fr) {
				t.Fatal("frame changed without a clamp reported")
			}
			return
		}
		if !Parse(fr, &p) || p.Proto != ProtoTCP || p.HdrLen == 0 || fr[p.L4+13]&tcpFlagSYN == 0 {
			t.Fatal("clamped a frame that is no TCP SYN")
		}
		var diff []int
		for i := range fr {
			if fr[i] != before[i] && i != p.L4+16 && i != p.L4+17 {
				diff = append(diff, i)
			}
		}
		if len(diff) == 0 || diff[len(diff)-1]-diff[0] > 1 || diff[0] < p.L4+20 || diff[len(diff)-1] >= p.HdrLen {
			t.Fatalf("bytes changed at %v, TCP header at %d..%d", diff, p.L4, p.HdrLen)
		}
		if old, now := mssOf(before), mssOf(fr); old < 0 || now >= old {
			t.Fatalf("MSS %d made %d", old, now)
		}
		if sumOK && tcpSum(fr) != 0 {
			t.Fatal("right checksum made wrong")
		}
	})
}
