package offload

import "testing"

// BenchmarkGSOSplit cuts a 64 KB TCP superframe into 1448-byte segments.
func BenchmarkGSOSplit(b *testing.B) {
	fr, h := superframe(flow{payload: 62 * 1024, mss: 1448, flags: tcpFlagACK})
	buf := make([]byte, 2048)
	var s Splitter
	b.SetBytes(int64(len(fr)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Init(fr, &h); err != nil {
			b.Fatal(err)
		}
		for s.More() {
			s.Next(buf)
		}
	}
}

// BenchmarkGROCoalesce merges the 44 segments of a superframe into one
// TAP write, checksums verified.
func BenchmarkGROCoalesce(b *testing.B) {
	fr, h := superframe(flow{payload: 62 * 1024, mss: 1448, flags: tcpFlagACK})
	segs := split(b, fr, h)
	g := NewCoalescer()
	var s Segment
	b.SetBytes(int64(len(fr)))
	b.ReportAllocs()
	for b.Loop() {
		for _, seg := range segs {
			if !ParseSegment(seg, &s, true) {
				b.Fatal("not a candidate")
			}
			if !g.TryAppend(seg, &s) {
				if g.Pending() {
					g.Finish()
				}
				g.Start(seg, &s)
			}
		}
		g.Finish()
	}
}

// BenchmarkChecksum sums a 1500-byte frame.
func BenchmarkChecksum(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var acc uint64
	for b.Loop() {
		acc += CsumAdd(0, buf)
	}
	_ = acc
}
