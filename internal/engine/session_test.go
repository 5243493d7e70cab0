package engine

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// TestCheckSeq checks how the receive loop counts what Sequence reports:
// gaps as lost, late packets as out of order (dropped only under
// -seqcheck), and a peer's restart as a resync that delivers the packet
// and is logged once.
func TestCheckSeq(t *testing.T) {
	seqs := []uint32{100, 101, 104, 102, 0, 1, 2} // gap of 2, a late one, a restart
	for _, strict := range []bool{false, true} {
		var buf bytes.Buffer
		captureLog(t, &buf, false)
		p := &Session{cfg: SessionConfig{SeqCheck: strict}, ep: &fakeEndpoint{name: "f0"}, Stats: &Stats{}}
		var lim rateLimit
		var dropped []uint32
		for _, nr := range seqs {
			if p.checkSeq(nr, &lim) != l2tpv3.DropNone {
				dropped = append(dropped, nr)
			}
		}
		st := p.Stats
		if st.RxLost.Load() != 2 || st.RxOOS.Load() != 2 || st.RxSeqResyncs.Load() != 1 {
			t.Errorf("strict %v: lost %d oos %d resyncs %d, want 2 2 1", strict, st.RxLost.Load(), st.RxOOS.Load(), st.RxSeqResyncs.Load())
		}
		var want []uint32
		if strict {
			want = []uint32{102}
		}
		if !slices.Equal(dropped, want) {
			t.Errorf("strict %v: dropped %v, want %v", strict, dropped, want)
		}
		if n := strings.Count(buf.String(), "sequence numbers restarted (peer restarted?): following them from here on\" tap=f0 session=0/0 seq=0 "); n != 1 {
			t.Errorf("strict %v: resync logged %d times, want once:\n%s", strict, n, buf.String())
		}
	}
}
