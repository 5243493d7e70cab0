package offload

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// ipFrame builds an Ethernet frame with the given VLAN tag count (of
// alternating 802.1ad and 802.1Q types), the IP header ip, and then rest.
func ipFrame(tags int, etherType uint16, ip, rest []byte) []byte {
	fr := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}
	for i := 0; i < tags; i++ {
		t := uint16(EtherTypeQinQ)
		if i%2 == 1 {
			t = EtherTypeVLAN
		}
		fr = binary.BigEndian.AppendUint16(fr, t)
		fr = append(fr, 0, byte(i+1))
	}
	fr = binary.BigEndian.AppendUint16(fr, etherType)
	return append(append(fr, ip...), rest...)
}

// ipv4 returns an IPv4 header of ihl 32-bit words with total length total,
// protocol proto and the flags/fragment offset field frag.
func ipv4(ihl int, total int, proto uint8, frag uint16) []byte {
	ip := make([]byte, max(ihl*4, 20))
	ip[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	binary.BigEndian.PutUint16(ip[6:], frag)
	ip[8], ip[9] = 64, proto
	copy(ip[12:], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	return ip[: ihl*4 : ihl*4]
}

// ipv6 returns an IPv6 header with payload length plen and next header nh.
func ipv6(plen int, nh uint8) []byte {
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(plen))
	ip[6], ip[7] = nh, 64
	ip[8], ip[9], ip[23] = 0x20, 0x01, 1
	ip[24], ip[25], ip[39] = 0x20, 0x01, 2
	return ip
}

// tcpHdr returns a TCP header with data offset doff bytes, options zero.
func tcpHdr(doff int) []byte {
	h := make([]byte, max(doff, 20))
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], 5201)
	h[12] = byte(doff/4) << 4
	h[13] = tcpFlagACK
	return h[:max(doff, 20)]
}

var udpHdr = []byte{0x9c, 0x40, 0x14, 0x51, 0, 12, 0, 0}

func TestParse(t *testing.T) {
	payload := []byte{1, 2, 3, 4}
	withTCP := func(h []byte, doff int) []byte { return append(append(h, tcpHdr(doff)...), payload...) }
	cases := []struct {
		name  string
		frame []byte
		ok    bool
		want  Packet // compared when ok
	}{
		{"tcp4", ipFrame(0, EtherTypeIPv4, ipv4(5, 20+20+4, ProtoTCP, 0x4000), withTCP(nil, 20)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 58, HdrLen: 54, Proto: ProtoTCP}},
		{"tcp4-options", ipFrame(0, EtherTypeIPv4, ipv4(6, 24+32+4, ProtoTCP, 0), withTCP(nil, 32)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 38, End: 74, HdrLen: 70, Proto: ProtoTCP}},
		{"udp4-vlan", ipFrame(1, EtherTypeIPv4, ipv4(5, 32, ProtoUDP, 0), append(udpHdr, payload...)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 18, L4: 38, End: 50, HdrLen: 46, Proto: ProtoUDP}},
		{"udp6-qinq", ipFrame(2, EtherTypeIPv6, ipv6(12, ProtoUDP), append(udpHdr, payload...)), true,
			Packet{EtherType: EtherTypeIPv6, L3: 22, L4: 62, End: 74, HdrLen: 70, Proto: ProtoUDP, V6: true}},
		{"tcp6", ipFrame(0, EtherTypeIPv6, ipv6(24, ProtoTCP), withTCP(nil, 20)), true,
			Packet{EtherType: EtherTypeIPv6, L3: 14, L4: 54, End: 78, HdrLen: 74, Proto: ProtoTCP, V6: true}},
		// Extension headers are not walked: the hop-by-hop header is the L4.
		{"ipv6-hop-by-hop", ipFrame(0, EtherTypeIPv6, ipv6(8+24, 0), append([]byte{ProtoTCP, 0, 0, 0, 0, 0, 0, 0}, withTCP(nil, 20)...)), true,
			Packet{EtherType: EtherTypeIPv6, L3: 14, L4: 54, End: 86, Proto: 0, V6: true}},
		{"icmp4", ipFrame(0, EtherTypeIPv4, ipv4(5, 28, 1, 0), make([]byte, 8)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 42, Proto: 1}},
		{"first-fragment", ipFrame(0, EtherTypeIPv4, ipv4(5, 44, ProtoTCP, 0x2000), withTCP(nil, 20)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 58, HdrLen: 54, Proto: ProtoTCP, MoreFragments: true}},
		// A later fragment has no L4 header, though its bytes might pass for one.
		{"later-fragment", ipFrame(0, EtherTypeIPv4, ipv4(5, 44, ProtoTCP, 0x0003), withTCP(nil, 20)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 58, Proto: ProtoTCP, FragOffset: 24}},
		// End follows the length field, past the frame or short of it.
		{"truncated", ipFrame(0, EtherTypeIPv4, ipv4(5, 1500, ProtoTCP, 0), withTCP(nil, 20)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 1514, HdrLen: 54, Proto: ProtoTCP}},
		{"padded", ipFrame(0, EtherTypeIPv4, ipv4(5, 28, ProtoUDP, 0), append(udpHdr, make([]byte, 18)...)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 42, HdrLen: 42, Proto: ProtoUDP}},
		{"bogus-total-length", ipFrame(0, EtherTypeIPv4, ipv4(5, 4, ProtoUDP, 0), udpHdr), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 18, HdrLen: 42, Proto: ProtoUDP}},
		// The L4 header must fit in the frame for HdrLen to be set.
		{"tcp-cut", ipFrame(0, EtherTypeIPv4, ipv4(5, 40, ProtoTCP, 0), tcpHdr(20)[:19]), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 54, Proto: ProtoTCP}},
		{"tcp-options-cut", ipFrame(0, EtherTypeIPv4, ipv4(5, 60, ProtoTCP, 0), append(tcpHdr(40)[:20], 1, 1)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 74, Proto: ProtoTCP}},
		{"tcp-doff-short", ipFrame(0, EtherTypeIPv4, ipv4(5, 44, ProtoTCP, 0), withTCP(nil, 16)), true,
			Packet{EtherType: EtherTypeIPv4, L3: 14, L4: 34, End: 58, Proto: ProtoTCP}},
		{"udp-cut", ipFrame(0, EtherTypeIPv6, ipv6(8, ProtoUDP), udpHdr[:7]), true,
			Packet{EtherType: EtherTypeIPv6, L3: 14, L4: 54, End: 62, Proto: ProtoUDP, V6: true}},

		{"empty", nil, false, Packet{}},
		{"short-ethernet", make([]byte, 13), false, Packet{}},
		{"arp", ipFrame(0, 0x0806, make([]byte, 28), nil), false, Packet{}},
		{"three-tags", ipFrame(3, EtherTypeIPv4, ipv4(5, 20, ProtoTCP, 0), nil), false, Packet{}},
		{"vlan-cut", ipFrame(1, EtherTypeIPv4, nil, nil)[:17], false, Packet{}},
		{"ipv4-short", ipFrame(0, EtherTypeIPv4, ipv4(5, 20, ProtoTCP, 0)[:19], nil), false, Packet{}},
		{"ipv4-version-6", ipFrame(0, EtherTypeIPv4, ipv6(0, ProtoTCP), nil), false, Packet{}},
		{"ipv4-ihl-4", ipFrame(0, EtherTypeIPv4, append(ipv4(4, 20, ProtoTCP, 0), make([]byte, 8)...), nil), false, Packet{}},
		{"ipv4-options-cut", ipFrame(0, EtherTypeIPv4, ipv4(15, 60, ProtoTCP, 0)[:40], nil), false, Packet{}},
		{"ipv6-short", ipFrame(0, EtherTypeIPv6, ipv6(0, ProtoTCP)[:39], nil), false, Packet{}},
		{"ipv6-version-4", ipFrame(0, EtherTypeIPv6, append(ipv4(5, 40, ProtoTCP, 0), make([]byte, 20)...), nil), false, Packet{}},
	}
	for _, c := range cases {
		var p Packet
		ok := Parse(c.frame, &p)
		if ok != c.ok {
			t.Errorf("%s: Parse %v, want %v (%+v)", c.name, ok, c.ok, p)
			continue
		}
		if ok && p != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, p, c.want)
		}
	}
}

func TestParseAddrs(t *testing.T) {
	for _, c := range []struct {
		frame    []byte
		src, dst string
	}{
		{ipFrame(1, EtherTypeIPv4, ipv4(5, 20, ProtoTCP, 0), nil), "c0000201", "c0000202"},
		{ipFrame(0, EtherTypeIPv6, ipv6(0, ProtoTCP), nil), "20010000000000000000000000000001", "20010000000000000000000000000002"},
	} {
		var p Packet
		if !Parse(c.frame, &p) {
			t.Fatalf("%x: not parsed", c.frame)
		}
		src, dst := p.Addrs(c.frame)
		if hex.EncodeToString(src) != c.src || hex.EncodeToString(dst) != c.dst {
			t.Errorf("addresses %s > %s, want %s > %s", hex.EncodeToString(src), hex.EncodeToString(dst), c.src, c.dst)
		}
	}
}

// TestTransport checks that a caller may place the L4 header itself, as
// the splitter does from the virtio-net header.
func TestTransport(t *testing.T) {
	fr := ipFrame(0, EtherTypeIPv6, ipv6(8+24, 0), append([]byte{ProtoTCP, 0, 0, 0, 0, 0, 0, 0}, tcpHdr(20)...))
	var p Packet
	if !Parse(fr, &p) || p.HdrLen != 0 {
		t.Fatalf("Parse: %+v", p)
	}
	if !p.Transport(fr, p.L4+8, ProtoTCP) || p.L4 != 62 || p.HdrLen != 82 || p.Proto != ProtoTCP {
		t.Errorf("TCP past the hop-by-hop header: %+v", p)
	}
	for _, c := range []struct {
		l4    int
		proto uint8
	}{{-1, ProtoTCP}, {len(fr) - 19, ProtoTCP}, {len(fr) - 7, ProtoUDP}, {len(fr) + 100, ProtoUDP}, {p.L4, 1}} {
		if p.Transport(fr, c.l4, c.proto) || p.HdrLen != 0 {
			t.Errorf("proto %d at %d in %d bytes accepted: %+v", c.proto, c.l4, len(fr), p)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	fr := ipFrame(1, EtherTypeIPv6, ipv6(24, ProtoTCP), append(tcpHdr(20), 1, 2, 3, 4))
	var p Packet
	if n := testing.AllocsPerRun(100, func() { Parse(fr, &p) }); n != 0 {
		t.Errorf("%v allocations per Parse", n)
	}
}

// FuzzParse checks that Parse never panics and that every offset it
// reports is one its users may slice the frame with: the IP header, the L4
// header when HdrLen is set, and the addresses.
func FuzzParse(f *testing.F) {
	f.Add(ipFrame(0, EtherTypeIPv4, ipv4(5, 44, ProtoTCP, 0), append(tcpHdr(20), 1, 2, 3, 4)))
	f.Add(ipFrame(2, EtherTypeIPv6, ipv6(12, ProtoUDP), append(udpHdr, 1, 2, 3, 4)))
	f.Add(ipFrame(1, EtherTypeIPv4, ipv4(6, 44, ProtoUDP, 0x2001), udpHdr))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, fr []byte) {
		var p Packet
		if !Parse(fr, &p) {
			return
		}
		if p.EtherType != EtherTypeIPv4 && p.EtherType != EtherTypeIPv6 || p.V6 != (p.EtherType == EtherTypeIPv6) {
			t.Fatalf("EtherType %#04x with V6 %v", p.EtherType, p.V6)
		}
		if p.L3 < 14 || p.L3 > 22 || p.L4 < p.L3+20 || p.L4 > len(fr) || (p.V6 && p.L4 != p.L3+40) {
			t.Fatalf("L3 %d L4 %d in %d bytes", p.L3, p.L4, len(fr))
		}
		src, dst := p.Addrs(fr)
		if len(src) != len(dst) || (len(src) == 16) != p.V6 {
			t.Fatalf("addresses of %d and %d bytes", len(src), len(dst))
		}
		if p.HdrLen != 0 {
			if p.Proto != ProtoTCP && p.Proto != ProtoUDP || p.FragOffset != 0 || p.HdrLen > len(fr) ||
				p.HdrLen < p.L4+8 || (p.Proto == ProtoTCP && p.HdrLen != p.L4+int(fr[p.L4+12]>>4)*4) {
				t.Fatalf("HdrLen %d for protocol %d at %d in %d bytes", p.HdrLen, p.Proto, p.L4, len(fr))
			}
		} else if p.FragOffset == 0 && (p.Proto == ProtoUDP && p.L4+8 <= len(fr)) {
			t.Fatalf("UDP header at %d in %d bytes missed", p.L4, len(fr))
		}
	})
}
