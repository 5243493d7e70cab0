package main

import (
	"net/netip"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// The hot paths below must not allocate: run with -benchmem and expect
// 0 allocs/op.

// BenchmarkTxQueueBuild encapsulates 44 segments and groups them into
// UDP_SEGMENT messages, everything but the system call.
func BenchmarkTxQueueBuild(b *testing.B) {
	t := &Tunnel{ep: Endpoint{UDP: true, Remote: netip.MustParseAddr("192.0.2.2"), RemotePort: 1701}}
	t.peerLn = encodeSockaddr(&t.peer, t.ep.Remote, t.ep.RemotePort)
	q := newTxQueue(t, txArena, txMaxPackets, true)
	h := Header{UDP: true, TxSession: 1, Sublayer: SublayerCounter}
	hl := h.Len()
	var seq uint32
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < 44; i++ {
			room := q.room()
			h.Encode(room, seq)
			seq++
			q.add(hl + 1462)
		}
		q.build()
		q.n, q.used = 0, 0
	}
}

// BenchmarkRxSplit splits a UDP GRO buffer of 44 datagrams and decodes each.
func BenchmarkRxSplit(b *testing.B) {
	h := Header{UDP: true, TxSession: 1, RxSession: 1, Sublayer: SublayerCounter}
	const size = 1474
	pkt := make([]byte, 44*size)
	for i := 0; i < 44; i++ {
		h.Encode(pkt[i*size:], uint32(i))
	}
	ctrl := make([]byte, cmsgSegmentSpace)
	ctrl[0], ctrl[8], ctrl[12], ctrl[16], ctrl[17] = 20, 17, 104, size&0xff, size>>8
	var d Decoded
	var lim rateLimit
	pw := &Pump{Stats: &Stats{}}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		var seq l2tpv3.Sequence
		n := groSegmentSize(ctrl)
		for p := pkt; len(p) > 0; p = p[min(n, len(p)):] {
			if h.Decode(p[:min(n, len(p))], &d) != DropNone || pw.checkSeq(&seq, d.Seq, &lim) != DropNone {
				b.Fatal("drop")
			}
		}
	}
}
