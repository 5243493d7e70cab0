//go:build linux

package e2e

import (
	"slices"
	"testing"
	"time"
)

// TestSplitCookies runs pseudowires between two l2taps whose cookies differ
// in each direction: sent one way only, and 32 bits one way and 64 the
// other, over UDP and IP. Both TAPs get the same automatic MTU (each leaves
// room for the larger of its two headers, and one side's larger header is
// the other's), pings of 56 and 1400 bytes and of the full MTU cross both
// ways, and nothing is dropped (TestMismatchDrops has the lengths that
// disagree).
func TestSplitCookies(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: pings (a 2 s deadline each) in namespaces of its
	// own.
	t.Parallel()
	cases := []struct {
		name  string
		e     int // index in encaps
		a, b  []string
		extra int // the larger header's cookie bytes
	}{
		{"udp4-tx-only", 0, []string{"-txsession", "1", "-txcookie", "0x0a0b0c0d"},
			[]string{"-txsession", "1", "-rxcookie", "0x0a0b0c0d"}, 4},
		{"ip6-tx64-only", 3, []string{"-txsession", "2", "-cookie64", "-txcookie", "0x0102030405060708", "-counter"},
			[]string{"-txsession", "2", "-rxcookie64", "-rxcookie", "0x0102030405060708", "-counter"}, 8 + 4},
		{"udp6-tx32-rx64", 1, []string{"-txsession", "3", "-txcookie", "0x11223344", "-rxcookie64", "-rxcookie", "0x5566778899aabbcc"},
			[]string{"-txsession", "3", "-rxcookie", "0x11223344", "-txcookie64", "-txcookie", "0x5566778899aabbcc"}, 8},
		{"ip4-tx64-rx32-pincounter", 2, []string{"-txsession", "4", "-cookie64", "-rxcookie64=off", "-txcookie", "0xffeeddccbbaa9988", "-rxcookie", "0x01020304", "-pincounter"},
			[]string{"-txsession", "4", "-cookie64", "-txcookie64=off", "-rxcookie", "0xffeeddccbbaa9988", "-txcookie", "0x01020304", "-pincounter"}, 8 + 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := encaps[tc.e]
			a, b, pa, pb := pseudowire(t, "sc", "sc0", slices.Concat(e.a, tc.a), slices.Concat(e.b, tc.b))
			want := wantTAPMTU(e.v6, e.udp, tc.extra)
			checkTAPMTU(t, "sc0", want, a, b)
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			pingAll(t, overlayPings(a, b, pingCheck{a, "10.1.0.2", want - 28}, pingCheck{b, "10.1.0.1", want - 28})...)
			ca, cb := pa.stop(t), pb.stop(t)
			for side, c := range map[string]map[string]uint64{"a": ca, "b": cb} {
				if c["rx_packets"] < 10 || c["tx_packets"] < 10 || c["rx_errors"] != 0 || c["rx_cookie_discards"] != 0 {
					t.Errorf("side %s counters: %v", side, c)
				}
			}
		})
	}
}
