package offload

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
)

// endpointFrame builds an Ethernet frame from src:sport to dst:dport with
// protocol proto and a few payload bytes; vlan adds an 802.1Q tag.
func endpointFrame(proto byte, src, dst netip.AddrPort, vlan bool) []byte {
	fr := []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01}
	if vlan {
		fr = append(fr, 0x81, 0x00, 0x00, 0x07)
	}
	l4 := make([]byte, 20)
	binary.BigEndian.PutUint16(l4, src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	if src.Addr().Is4() {
		ip := []byte{0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, proto, 0, 0}
		ip = append(append(ip, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
		fr = append(append(fr, 0x08, 0x00), ip...)
	} else {
		ip := []byte{0x60, 0, 0, 0, 0, 20, proto, 64}
		ip = append(append(ip, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
		fr = append(append(fr, 0x86, 0xdd), ip...)
	}
	return append(fr, l4...)
}

// TestFlowQueueSymmetric checks that both directions of a flow pick the same
// queue, with and without a VLAN tag, for every queue count.
func TestFlowQueueSymmetric(t *testing.T) {
	pairs := []struct{ a, b string }{
		{"10.1.0.1:40000", "10.1.0.2:5201"},
		{"192.0.2.7:1", "198.51.100.9:65535"},
		{"[2001:db8::1]:40000", "[2001:db8::2]:5201"},
		{"[2001:db8:1::1]:53", "[2001:db8:ffff::2]:53"},
	}
	for _, p := range pairs {
		a, b := netip.MustParseAddrPort(p.a), netip.MustParseAddrPort(p.b)
		for _, proto := range []byte{ProtoTCP, ProtoUDP} {
			for _, vlan := range []bool{false, true} {
				for n := 1; n <= 8; n++ {
					there := FlowQueue(endpointFrame(proto, a, b, vlan), n)
					back := FlowQueue(endpointFrame(proto, b, a, vlan), n)
					if there != back || there < 0 || there >= n {
						t.Errorf("%s<->%s proto %d vlan %v, %d queues: queue %d one way, %d back", a, b, proto, vlan, n, there, back)
					}
				}
			}
		}
	}
}

// TestFlowQueueSpreads checks that flows differing only in a port, or only
// in an address, use every queue and none much more than its share.
func TestFlowQueueSpreads(t *testing.T) {
	const flows = 4096
	for _, vary := range []string{"port", "addr4", "addr6"} {
		for _, n := range []int{2, 3, 4, 8} {
			t.Run(fmt.Sprintf("%s/%d", vary, n), func(t *testing.T) {
				count := make([]int, n)
				for i := range flows {
					src := netip.MustParseAddrPort("10.1.0.1:40000")
					dst := netip.MustParseAddrPort("10.1.0.2:5201")
					switch vary {
					case "port":
						src = netip.AddrPortFrom(src.Addr(), uint16(30000+i))
					case "addr4":
						src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), src.Port())
					case "addr6":
						a := netip.MustParseAddr("2001:db8::1").As16()
						a[4], a[5] = byte(i>>8), byte(i)
						src = netip.AddrPortFrom(netip.AddrFrom16(a), src.Port())
						dst = netip.MustParseAddrPort("[2001:db8::2]:5201")
					}
					count[FlowQueue(endpointFrame(ProtoTCP, src, dst, false), n)]++
				}
				for q, c := range count {
					if share := float64(c) * float64(n) / flows; share < 0.8 || share > 1.2 {
						t.Errorf("queue %d of %d got %d of %d flows (%.2f of its share)", q, n, c, flows, share)
					}
				}
			})
		}
	}
}

// TestFlowQueueOthers checks that frames without a flow to follow go to
// queue 0: ARP, truncated or malformed headers, and anything with one
// queue.
func TestFlowQueueOthers(t *testing.T) {
	tcp := endpointFrame(ProtoTCP, netip.MustParseAddrPort("10.1.0.1:1"), netip.MustParseAddrPort("10.1.0.2:2"), false)
	badIHL := append([]byte{}, tcp...)
	badIHL[14] = 0x44 // an IPv4 header shorter than 20 bytes: Parse rejects it
	arp := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06}, make([]byte, 28)...)
	cases := []struct {
		name  string
		frame []byte
		n     int
	}{
		{"one-queue", tcp, 1},
		{"arp", arp, 4},
		{"short-ethernet", tcp[:10], 4},
		{"short-ip", tcp[:14+12], 4},
		{"empty", nil, 4},
		{"ipv4-ihl-4", badIHL, 4},
	}
	for _, c := range cases {
		if q := FlowQueue(c.frame, c.n); q != 0 {
			t.Errorf("%s: queue %d, want 0", c.name, q)
		}
	}
}

// FuzzFlowQueue feeds arbitrary frames: FlowQueue must not panic and must
// stay in range.
func FuzzFlowQueue(f *testing.F) {
	f.Add(endpointFrame(ProtoTCP, netip.MustParseAddrPort("10.1.0.1:1"), netip.MustParseAddrPort("10.1.0.2:2"), true), 3)
	f.Add(endpointFrame(ProtoUDP, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:2"), false), 2)
	f.Add([]byte{0, 1, 2}, 2)
	f.Fuzz(func(t *testing.T, frame []byte, n int) {
		if n < 1 || n > 256 {
			return
		}
		if q := FlowQueue(frame, n); q < 0 || q >= n {
			t.Fatalf("queue %d of %d", q, n)
		}
	})
}

func BenchmarkFlowQueue(b *testing.B) {
	frame := endpointFrame(ProtoTCP, netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:5201"), true)
	b.ReportAllocs()
	q := 0
	for b.Loop() {
		q += FlowQueue(frame, 4)
	}
	if q < 0 {
		b.Fatal(q)
	}
}
