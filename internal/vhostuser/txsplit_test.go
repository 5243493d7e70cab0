//go:build linux

package vhostuser

import (
	"sync/atomic"
	"testing"

	"github.com/l2tap/l2tap/internal/offload"
)

// TestTxCutFromChain: a guest superframe is cut into the frames
// offload.Splitter makes of it gathered into one buffer, however its
// descriptor chain divides it (the virtio-net header and the frame's
// headers split across descriptors, empty descriptors, an indirect
// table, more segments than a batch holds), and every byte of it is
// copied once: the frames' bytes, plus the virtio-net header and the
// superframe's headers read once to be checked.
func TestTxCutFromChain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		payload  int
		mss      uint16
		cuts     []int // descriptor lengths over header and frame; the last takes the rest
		indirect bool
	}{
		{"header-apart", 3000, 1000, []int{12}, false},
		{"header-shared", 3000, 1000, []int{12 + 54 + 10}, false},
		{"split-everywhere", 5000, 1448, []int{5, 7, 14, 3, 17, 1, 999, 2, 1500, 0, 1}, true},
		{"empty-descriptors", 4000, 1000, []int{12, 0, 20, 0, 0, 2000}, false},
		{"across-batches", 60000, 500, []int{12, 40000}, false}, // 120 segments, 64 per batch
		{"last-short", 2500, 1000, []int{40, 40}, true},
		{"no-payload", 0, 1000, []int{12}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var copied atomic.Uint64
			copyCount = &copied
			t.Cleanup(func() { copyCount = nil }) // after ReadLoop has ended
			b := New("test")
			c := collect(t, b)
			f := newFrontend(t, b)
			f.negotiate(testFeatures)
			f.start()

			sf := tcpFrame(1000, tc.payload)
			l4 := sf[34:]
			l4[16], l4[17] = 0, 0
			offload.PutPartialCsum(l4[16:], offload.PseudoHeaderSum(sf[26:30], sf[30:34], offload.ProtoTCP, len(l4)))
			vh := make([]byte, f.hdrLen)
			copy(vh, vnetHdr(offload.VnetFlagNeedsCsum, offload.VnetGSOTCPv4, 54, tc.mss, 34, 16))

			// What the splitter makes of the superframe in one buffer.
			var h offload.VnetHdr
			h.Decode(vh)
			var sp offload.Splitter
			if err := sp.Init(append([]byte(nil), sf...), &h); err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			var wantBytes int
			for sp.More() {
				seg := make([]byte, sp.MaxSegment())
				seg = seg[:sp.Next(seg)]
				want = append(want, seg)
				wantBytes += len(seg)
			}

			// Header and frame back to back, cut into descriptors.
			data := scratch + 0x10000
			all := append(append([]byte(nil), vh...), sf...)
			copy(f.mem[data:], all)
			var descs [][4]uint64
			off := 0
			for i, n := range append(tc.cuts, len(all)-sum(tc.cuts)) {
				descs = append(descs, [4]uint64{guestBase + uint64(data+off), uint64(n), descFNext, uint64(i + 1)})
				off += n
			}
			descs[len(descs)-1][2], descs[len(descs)-1][3] = 0, 0
			f.txChain(0, func() {
				if tc.indirect {
					f.setDesc(txQueue, 0, f.indirectAt(scratch, descs...), uint32(16*len(descs)), descFIndirect, 0)
					return
				}
				for i, d := range descs {
					f.setDesc(txQueue, i, d[0], uint32(d[1]), uint16(d[2]), uint16(d[3]))
				}
			})
			got, drops := c.wait(t, len(want))
			if len(drops) > 0 {
				t.Fatal(drops)
			}
			equalFrames(t, got, want)
			if sup, bad := b.ReadStats(); sup != 1 || bad != 0 {
				t.Errorf("ReadStats %d superframes, %d offload errors; want 1, 0", sup, bad)
			}
			// The chain goes back to the guest once, with the last frame.
			if ents := f.used(txQueue, nil); len(ents) != 1 || ents[0][0] != 0 {
				t.Errorf("used entries %v, want the chain at 0 once", ents)
			}
			headers := f.hdrLen + min(len(sf), 34+60)
			if got, want := copied.Load(), uint64(wantBytes+headers); got != want {
				t.Errorf("%d bytes copied for %d bytes of frames, want %d (each once, and %d header bytes read once)", got, wantBytes, want, headers)
			}
		})
	}
}

func sum(v []int) (s int) {
	for _, x := range v {
		s += x
	}
	return s
}
