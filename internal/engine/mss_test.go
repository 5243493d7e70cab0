package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/offload"
)

// tcpFrame returns an Ethernet frame (one VLAN tag if tagged) holding a
// TCP segment over IPv4 or IPv6 with the given flags, an MSS option of
// mss (none if 0) and payload bytes of data, with right checksums.
func tcpFrame(v6, tagged bool, flags byte, mss uint16, payload int) []byte {
	fr := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}
	if tagged {
		fr = append(fr, 0x81, 0x00, 0, 7)
	}
	tcp := []byte{0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, flags, 0xff, 0xff, 0, 0, 0, 0,
		1, 3, 3, 7} // NOP, window scale: a 24-byte header
	if mss != 0 {
		tcp = append(tcp[:20], 2, 4, byte(mss>>8), byte(mss))
	}
	for i := 0; i < payload; i++ {
		tcp = append(tcp, byte(i))
	}
	var src, dst []byte
	if v6 {
		fr = append(fr, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, offload.ProtoTCP, 64
		binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
		ip[8], ip[23], ip[24], ip[39] = 0xfd, 1, 0xfd, 2
		src, dst = ip[8:24], ip[24:40]
		fr = append(fr, ip...)
	} else {
		fr = append(fr, 0x08, 0x00)
		ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, offload.ProtoTCP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		offload.PutCsum(ip[10:], offload.CsumAdd(0, ip))
		src, dst = ip[12:16], ip[16:20]
		fr = append(fr, ip...)
	}
	offload.PutCsum(tcp[16:], offload.CsumAdd(offload.PseudoHeaderSum(src, dst, offload.ProtoTCP, len(tcp)), tcp))
	return append(fr, tcp...)
}

// tcpCheck returns the MSS option of a frame tcpFrame made (0 if none)
// and whether its TCP checksum, summed anew, is right.
func tcpCheck(fr []byte) (mss uint16, sumOK bool) {
	var p offload.Packet
	if !offload.Parse(fr, &p) || p.HdrLen == 0 {
		return 0, false
	}
	if p.HdrLen-p.L4 == 24 && fr[p.L4+20] == 2 {
		mss = binary.BigEndian.Uint16(fr[p.L4+22:])
	}
	src, dst := p.Addrs(fr)
	sum := offload.CsumAdd(offload.PseudoHeaderSum(src, dst, offload.ProtoTCP, p.End-p.L4), fr[p.L4:p.End])
	return mss, offload.CsumFold(sum) == 0xffff
}

// TestMSSClampBothWays sends SYNs, SYN-ACKs and data through a pair of
// engines with clamping on one end at a time: that end lowers the MSS of
// the SYNs it sends (tx_mss_clamped) or receives (rx_mss_clamped), checksums
// stay right, and everything else arrives as it was sent.
func TestMSSClampBothWays(t *testing.T) {
	const syn, synAck, ack = 0x02, 0x12, 0x10
	path := offload.MSSClamp{Frame: 1450 + 14}
	batch := [][]byte{
		tcpFrame(false, false, syn, 1460, 0),
		tcpFrame(false, false, ack, 0, 1400),
		tcpFrame(true, true, synAck, 1440, 0),
		tcpFrame(true, false, synAck, 1300, 0), // below the path's already
		tcpFrame(false, true, ack, 1460, 0),    // an MSS option on a non-SYN: left alone
		frame(0, 1),
	}
	want := []uint16{1410, 0, 1450 - 60 - 4, 1300, 1460, 0}
	for _, end := range []string{"sender", "receiver"} {
		t.Run(end, func(t *testing.T) {
			c := pairConfig{tx: 10, rx: 20, cookie: 4, clampA: path}
			if end == "receiver" {
				c.clampA, c.clampB = offload.MSSClamp{}, path
			}
			ea, eb, epa, epb, _, _ := twoEnds(t, true, []pairConfig{c}, [][][]byte{batch})
			epa[0].in <- 0
			waitWritten(t, epb[0], len(batch))
			got := epb[0].frames()
			for i, fr := range got {
				if i == len(got)-1 {
					if !bytes.Equal(fr, batch[i]) {
						t.Errorf("frame %d (not IP) changed", i)
					}
					continue
				}
				mss, ok := tcpCheck(fr)
				if mss != want[i] || !ok {
					t.Errorf("frame %d: MSS %d (want %d), checksum right: %v", i, mss, want[i], ok)
				}
				if want[i] == 0 && !bytes.Equal(fr, batch[i]) {
					t.Errorf("frame %d without MSS option changed", i)
				}
			}
			ca := counters(ea.Sessions()[0].Counters())
			cb := counters(eb.Sessions()[0].Counters())
			tx, rx := ca["tx_mss_clamped"], cb["rx_mss_clamped"]
			if end == "receiver" {
				tx, rx = rx, tx
			}
			if tx != 2 || rx != 0 || ca["rx_mss_clamped"]+cb["tx_mss_clamped"] != 0 {
				t.Errorf("clamping at the %s: a's counters %v, b's %v", end, ca, cb)
			}
		})
	}
}

// TestMSSClampLoopAllocs is TestLoopAllocs with clamping on both ends and
// SYNs in every batch, each clamped anew: nothing allocates.
func TestMSSClampLoopAllocs(t *testing.T) {
	var batch [][]byte
	for i := 0; i < 32; i++ {
		switch i % 4 {
		case 0:
			batch = append(batch, tcpFrame(i%8 == 0, i%3 == 0, 0x02, 1460, 0))
		default:
			batch = append(batch, tcpFrame(false, false, 0x10, 0, 1400))
		}
	}
	path := offload.MSSClamp{Frame: 1450 + 14}
	cfgs := []pairConfig{{tx: 10, rx: 20, cookie: 8, sublayer: l2tpv3.SublayerCounter, clampA: path, clampB: offload.MSSClamp{MSS: 1000}}}
	ea, eb, epa, epb, _, _ := twoEnds(t, true, cfgs, [][][]byte{batch})
	step, moved := batchStep(epa[0], epb[0], len(batch))
	runs := testing.AllocsPerRun(100, step)
	if runs != 0 {
		t.Errorf("%v allocations per batch of %d frames, want 0", runs, len(batch))
	}
	ca, cb := counters(ea.Sessions()[0].Counters()), counters(eb.Sessions()[0].Counters())
	syns := uint64(*moved / 4)
	if ca["tx_mss_clamped"] != syns || cb["rx_mss_clamped"] != syns {
		t.Errorf("%d SYNs sent: tx_mss_clamped %d, rx_mss_clamped %d", syns, ca["tx_mss_clamped"], cb["rx_mss_clamped"])
	}
}

// BenchmarkRoundTripClamp is BenchmarkRoundTrip with clamping on both
// ends: 1500-byte TCP data frames, none a SYN, so the check is all it
// costs.
func BenchmarkRoundTripClamp(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("clamp=%v", on), func(b *testing.B) {
			var batch [][]byte
			for i := 0; i < 32; i++ {
				batch = append(batch, tcpFrame(false, false, 0x10, 0, 1500-20-24))
			}
			c := pairConfig{tx: 10, rx: 20, cookie: 4, sublayer: l2tpv3.SublayerCounter}
			if on {
				c.clampA, c.clampB = offload.MSSClamp{Frame: 1450 + 14}, offload.MSSClamp{Frame: 1450 + 14}
			}
			benchRoundTrip(b, c, batch)
		})
	}
}
