//go:build linux

package vhostuser

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/testalloc"
)

// roundTrip sets a negotiated frontend up and returns a step that moves
// a batch of 32 frames of size bytes from the guest through ReadLoop, and
// the same batch into the guest through Write, the guest taking its
// buffers back and posting them again; the step fails t on a lost frame.
//
// With tso, the guest sends superframes instead (4 of 16 segments of 1000
// bytes each) and Write is handed 32 segments of one TCP flow, which the
// guest receives as one superframe.
func roundTrip(t testing.TB, features uint64, size int, tso bool) (step func()) {
	b := New("bench")
	c := testalloc.Count(t, b, 512<<10, testHeadroom, 64)
	f := newFrontend(t, b)
	f.negotiate(features)
	f.rxSize = 2048
	f.start()
	f.postRx(0, ringNum)
	var frames [][]byte
	for i := range 32 {
		frames = append(frames, testFrame(i, size))
	}
	txFrames, txHdr, perStep := frames, []byte(nil), int64(len(frames))
	if tso {
		frames = frames[:0]
		for i := range 32 {
			frames = append(frames, tcpFrame(uint32(1000+1400*i), 1400))
		}
		sf := tcpFrame(1000, 16000)
		sf[34+16], sf[34+17] = 0, 0
		txFrames = [][]byte{sf, sf, sf, sf}
		txHdr = vnetHdr(1, 1, 54, 1000, 34, 16)
		perStep = 4 * 16
	}
	ents := make([][2]uint32, 0, ringNum)
	var want int64
	return func() {
		for _, fr := range txFrames {
			f.sendFrame(txHdr, fr)
		}
		f.publish(txQueue)
		want += perStep
		if !c.Await(want, 10*time.Second) {
			t.Fatalf("%d frames of %d read", c.Frames(), want)
		}
		if n, _, _, err := b.Write(frames); n != len(frames) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		ents = f.used(rxQueue, ents[:0])
		if len(ents) == 0 || !tso && len(ents) != len(frames) {
			t.Fatalf("%d used receive entries for %d frames", len(ents), len(frames))
		}
		f.postRx(int(f.availIdx[rxQueue]), len(ents))
	}
}

// TestLoopAllocs: in steady state nothing allocates per batch, either
// way, with and without merged buffers and EVENT_IDX.
func TestLoopAllocs(t *testing.T) {
	base := uint64(FeatVersion1 | FeatProtocolFeats | FeatNetCsum | FeatNetGuestCsum | FeatNetGuestTSO4 | FeatNetGuestTSO6 | FeatNetHostTSO4 | FeatNetHostTSO6)
	mrg := base | FeatNetMrgRxbuf | FeatRingEventIdx | FeatRingIndirect
	for _, tc := range []struct {
		feats uint64
		tso   bool
	}{{base, false}, {mrg, false}, {mrg, true}} {
		step := roundTrip(t, tc.feats, 1500, tc.tso)
		step()
		if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
			t.Errorf("features %v, superframes %v: %v allocations per batch each way, want 0", FeatureNames(tc.feats), tc.tso, allocs)
		}
	}
}

// TestRefusedAllocs: refusing and counting frames, with no frontend and
// with one that posted no receive buffers, allocates nothing per batch.
func TestRefusedAllocs(t *testing.T) {
	b := New("test")
	t.Cleanup(func() { b.Close() })
	frames := [][]byte{testFrame(0, 60), testFrame(1, 1514)}
	intact := []bool{true, false}
	if n := testing.AllocsPerRun(100, func() { b.WriteIntact(frames, intact) }); n != 0 {
		t.Errorf("no frontend: %v allocations per batch, want 0", n)
	}
	f := newFrontend(t, b)
	f.negotiate(testFeatures)
	f.start()
	if n := testing.AllocsPerRun(100, func() { b.WriteIntact(frames, intact) }); n != 0 {
		t.Errorf("no receive buffers: %v allocations per batch, want 0", n)
	}
	// AllocsPerRun runs each function once more than it says.
	if s := b.Stats(); s.NoFrontend != 2*101 || s.NoBuffers != 2*101 {
		t.Errorf("%d frames refused for want of a frontend, %d of buffers; want %d each", s.NoFrontend, s.NoBuffers, 2*101)
	}
}

func benchTxRx(b *testing.B, size int, tso bool) {
	// The frame bytes one step moves, both ways (see roundTrip).
	moved, frames := int64(2*32*size), 64
	if tso {
		moved, frames = 4*16*(54+1000)+32*(54+1400), 4*16+32
	}
	var copied atomic.Uint64
	copyCount = &copied
	b.Cleanup(func() { copyCount = nil })
	step := roundTrip(b, testFeatures, size, tso)
	step()
	b.SetBytes(moved)
	b.ReportAllocs()
	copied.Store(0)
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*frames)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(copied.Load())/float64(int64(b.N)*moved), "copiedB/B")
}

// BenchmarkTxRx64 and BenchmarkTxRx1500 move batches of 32 frames each
// way through the rings, BenchmarkTxRxTSO four guest superframes of 16
// segments out and a run of 32 segments in, coalesced (see roundTrip);
// run with -benchmem: 0 allocs/op. copiedB/B is the bytes the data path
// copied per byte of frame moved: 1 when every frame is copied once each
// way, more for a second copy.
func BenchmarkTxRx64(b *testing.B)   { benchTxRx(b, 64, false) }
func BenchmarkTxRx1500(b *testing.B) { benchTxRx(b, 1500, false) }
func BenchmarkTxRxTSO(b *testing.B)  { benchTxRx(b, 1500, true) }
