//go:build linux

package vhostuser

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/l2tap/l2tap/internal/offload"
)

// pshFrame is tcpFrame with PSH set and its checksum made good again.
func pshFrame(seq uint32, payload int) []byte {
	f := tcpFrame(seq, payload)
	l4 := f[34:]
	l4[13] |= 0x08
	l4[16], l4[17] = 0, 0
	offload.PutCsum(l4[16:], offload.CsumAdd(offload.PseudoHeaderSum(f[26:30], f[30:34], offload.ProtoTCP, len(l4)), l4))
	return f
}

// coalesced is what offload.Coalescer makes of frames, which must form
// one run: the virtio-net header, then the superframe.
func coalesced(t *testing.T, frames [][]byte) []byte {
	t.Helper()
	g := offload.NewCoalescer()
	var s offload.Segment
	for i, f := range frames {
		if !offload.ParseSegment(f, &s, false) {
			t.Fatalf("frame %d is no segment", i)
		}
		if i == 0 {
			g.Start(f, &s)
		} else if !g.TryAppend(f, &s) {
			t.Fatalf("frame %d does not continue the run", i)
		}
	}
	return append([]byte(nil), g.Finish()...)
}

// TestRxCoalesceInPlace: a run of TCP segments is written straight into
// the guest's receive buffers and reaches it as offload.Coalescer would
// have made it (headers, virtio-net header and payload, byte for byte),
// wherever the buffers end (merged buffers smaller than a segment, single
// buffers that end a run, too few buffers for the run), and every byte is
// copied once: the payload, and the virtio-net header and the headers
// once per guest frame.
func TestRxCoalesceInPlace(t *testing.T) {
	seg := func(i int) []byte { return tcpFrame(uint32(1000+1400*i), 1400) }
	run := func(n int) (fs [][]byte) {
		for i := range n {
			fs = append(fs, seg(i))
		}
		return fs
	}
	for _, tc := range []struct {
		name   string
		mrg    bool
		rxSize int
		posted int
		frames [][]byte
		groups []int // the frames in each guest frame, in order
		err    error
	}{
		{"mrg-one-run", true, rxSlot, 64, run(8), []int{8}, nil},
		{"mrg-small-buffers", true, 1000, 64, run(8), []int{8}, nil},
		{"psh-ends-run", true, rxSlot, 64, append(append(run(2), pshFrame(1000+2*1400, 1400)), tcpFrame(1000+3*1400, 1400)), []int{3, 1}, nil},
		{"short-ends-run", true, rxSlot, 64, [][]byte{seg(0), seg(1), tcpFrame(1000+2*1400, 700), tcpFrame(1000+2*1400+700, 1400)}, []int{3, 1}, nil},
		{"single-buffers", false, rxSlot, 64, run(8), []int{2, 2, 2, 2}, nil},
		{"mrg-out-of-buffers", true, rxSlot, 2, run(8), []int{5}, ErrNoBuffers},
		{"no-buffers", true, rxSlot, 0, run(2), nil, ErrNoBuffers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var copied atomic.Uint64
			copyCount = &copied
			t.Cleanup(func() { copyCount = nil })
			b := New("test")
			f := newFrontend(t, b)
			feats := uint64(FeatVersion1 | FeatProtocolFeats | FeatNetGuestCsum | FeatNetGuestTSO4)
			if tc.mrg {
				feats |= FeatNetMrgRxbuf
			}
			f.negotiate(feats)
			f.rxSize = tc.rxSize
			f.start()
			f.postRx(0, tc.posted)
			want := 0
			for _, n := range tc.groups {
				want += n
			}
			n, merged, _, err := b.Write(tc.frames)
			if n != want || merged != want-len(tc.groups) || !errors.Is(err, tc.err) && (err != nil || tc.err != nil) {
				t.Fatalf("Write: %d frames, %d merged, %v; want %d, %d, %v", n, merged, err, want, want-len(tc.groups), tc.err)
			}
			rx := f.receive()
			if len(rx) != len(tc.groups) {
				t.Fatalf("%d guest frames, want %d", len(rx), len(tc.groups))
			}
			var wantCopied int
			i := 0
			for k, g := range tc.groups {
				out := coalesced(t, tc.frames[i:i+g])
				i += g
				if !bytes.Equal(rx[k].hdr[:offload.VnetHdrLen], out[:offload.VnetHdrLen]) {
					t.Errorf("guest frame %d: header %x, want %x", k, rx[k].hdr[:offload.VnetHdrLen], out[:offload.VnetHdrLen])
				}
				if !bytes.Equal(rx[k].frame, out[offload.VnetHdrLen:]) {
					t.Errorf("guest frame %d: %d bytes differ from the %d coalesced", k, len(rx[k].frame), len(out)-offload.VnetHdrLen)
				}
				wantCopied += f.hdrLen + len(out) - offload.VnetHdrLen
			}
			if got := copied.Load(); got != uint64(wantCopied) {
				t.Errorf("%d bytes copied, want %d (each once)", got, wantCopied)
			}
		})
	}
}
