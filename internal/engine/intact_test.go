package engine

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// TestIntactFrames: frames of a GRO run (a message with Seg set, which only
// datagrams with verified non-zero UDP checksums form) reach the endpoint
// marked intact; a single datagram, such as every datagram with a zero
// checksum, is not, so the endpoint checks it before coalescing. Bytes and
// order are kept either way.
func TestIntactFrames(t *testing.T) {
	_, eb, _, epb, _, sb := twoEnds(t, true, []pairConfig{{tx: 5, rx: 6}}, [][][]byte{nil})
	ha := l2tpv3.Header{UDP: true, TxSession: 5, RxSession: 6}
	hl := ha.Len()
	from := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 1701)
	packet := func(i int) []byte {
		p := make([]byte, hl+60)
		ha.Encode(p, 0)
		copy(p[hl:], frame(0, i))
		return p
	}
	var run []byte
	for i := 0; i < 3; i++ {
		run = append(run, packet(i)...)
	}
	sb.deliverRun(from, hl+60, run) // one message: a run of three datagrams
	bad := packet(3)
	bad[len(bad)-1] ^= 0xff // what a zero checksum lets through unnoticed
	sb.deliver(from, bad)   // a single datagram
	sb.deliverRun(from, hl+60, packet(4))
	waitWritten(t, epb[0], 5)
	got := epb[0].frames()
	epb[0].mu.Lock()
	intact := append([]bool(nil), epb[0].intact...)
	epb[0].mu.Unlock()
	want := []bool{true, true, true, false, true}
	for i := range want {
		w := frame(0, i)
		if i == 3 {
			w = bad[hl:]
		}
		if !bytes.Equal(got[i], w) {
			t.Errorf("frame %d: % x, want % x", i, got[i], w)
		}
		if intact[i] != want[i] {
			t.Errorf("frame %d intact %v, want %v", i, intact[i], want[i])
		}
	}
	if c := waitCounter(t, eb.Sessions()[0], "rx_packets", 5); c["rx_packets"] != 5 {
		t.Errorf("counters: %v", c)
	}
}
