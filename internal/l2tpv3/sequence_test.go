package l2tpv3

import "testing"

func TestSequence(t *testing.T) {
	const (
		in, oos, resync = SeqInOrder, SeqOutOfOrder, SeqResync
	)
	cases := []struct {
		name string
		seqs []uint32
		want []SeqResult
		lost uint32 // total of the gaps reported
	}{
		{"in-order", []uint32{5, 6, 7, 8}, []SeqResult{in, in, in, in}, 0},
		{"first-number-adopted", []uint32{0x123456, 0x123457}, []SeqResult{in, in}, 0},
		{"wraps", []uint32{0xfffffe, 0xffffff, 0, 1}, []SeqResult{in, in, in, in}, 0},
		{"gap", []uint32{1, 2, 5, 6}, []SeqResult{in, in, in, in}, 2},
		{"gap-across-wrap", []uint32{0xfffffe, 1}, []SeqResult{in, in}, 2},
		{"late", []uint32{1, 3, 2, 4}, []SeqResult{in, in, oos, in}, 1},
		{"duplicate", []uint32{1, 2, 2, 3}, []SeqResult{in, in, oos, in}, 0},
		{"bits-above-24-ignored", []uint32{0x01000001, 2}, []SeqResult{in, in}, 0},
		// A peer restarted mid-stream numbers from 0 again: its first
		// packet is taken at once.
		{"restart-at-0", []uint32{5000, 5001, 0, 1, 2}, []SeqResult{in, in, resync, in, in}, 0},
		// Numbering that jumps back elsewhere is taken after more than
		// ResyncAfter out-of-order packets in a row, as Linux does.
		{"resync-after-4", []uint32{5000, 10, 11, 12, 13, 14, 15},
			[]SeqResult{in, oos, oos, oos, oos, resync, in}, 0},
		// An in-order packet between late ones restarts the count.
		{"late-packets-interleaved", []uint32{100, 10, 11, 101, 12, 13, 14, 15, 102},
			[]SeqResult{in, oos, oos, in, oos, oos, oos, oos, in}, 0},
		{"far-ahead-is-loss", []uint32{10, 0x7fff00}, []SeqResult{in, in}, 0x7ffef5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Sequence
			var lost uint32
			for i, nr := range tc.seqs {
				res, l := s.Check(nr)
				if res != tc.want[i] {
					t.Fatalf("packet %d (nr %#x): %v, want %v", i, nr, res, tc.want[i])
				}
				if res != SeqInOrder && l != 0 {
					t.Fatalf("packet %d: %d lost reported with result %v", i, l, res)
				}
				lost += l
			}
			if lost != tc.lost {
				t.Fatalf("lost %d, want %d", lost, tc.lost)
			}
		})
	}
}

// FuzzSequence checks that any run of numbers is followed again within
// ResyncAfter+1 packets once the peer numbers in order, whatever came before.
func FuzzSequence(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7})
	f.Fuzz(func(t *testing.T, prefix []byte) {
		var s Sequence
		for i := 0; i+2 < len(prefix); i += 3 {
			s.Check(uint32(prefix[i])<<16 | uint32(prefix[i+1])<<8 | uint32(prefix[i+2]))
		}
		start := uint32(0x345678)
		for i := uint32(0); i < ResyncAfter+3; i++ {
			res, _ := s.Check(start + i)
			if i > ResyncAfter && res != SeqInOrder {
				t.Fatalf("packet %d of an in-order run: %v", i, res)
			}
		}
	})
}

func TestDropCounters(t *testing.T) {
	names := DropCounters()
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			t.Fatalf("DropCounters %q: empty or repeated name", names)
		}
		seen[n] = true
	}
	for r := DropNone + 1; r < NumReasons; r++ {
		if !seen[r.Counter()] {
			t.Errorf("reason %d (%v) raises %q, which DropCounters lacks", r, r, r.Counter())
		}
		if r.String() == "" {
			t.Errorf("reason %d has no text", r)
		}
	}
	if DropNone.Counter() != "" {
		t.Errorf("DropNone raises %q", DropNone.Counter())
	}
}
