//go:build linux

package e2e

import (
	"slices"
	"testing"
	"time"
)

// TestIPPathPacket runs IP encapsulation over IPv4 with -ip-path packet on
// both ends (under the default seccomp filter, so the lookups after setup
// are allowed), then drops every protocol 115 packet in the netfilter
// output hook of both namespaces: the raw path's packets would be lost
// there, the packet path's skip it, so pings still crossing prove the
// packet path carries them. A frame above the underlay's MTU goes through
// the raw socket (fragmented), which the rule then drops: a 3000-byte ping
// is answered before the rule and lost after it.
func TestIPPathPacket(t *testing.T) {
	requireTools(t, true, "ip", "ping", "nft")
	flags := []string{"-ip-path", "packet", "-txsession", "5", "-mtu", "4000"}
	a, b, pa, pb := pseudowire(t, "ipp", "ipp0", slices.Concat(flags, encaps[2].a), slices.Concat(flags, encaps[2].b))
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.ping(t, "10.1.0.2", 2, 3000); err != nil {
		t.Fatalf("3000-byte ping through the raw socket's fragments: %v", err)
	}
	for _, ns := range []netns{a, b} {
		run(t, "ip", "netns", "exec", string(ns), "nft", "add table ip ipp; add chain ip ipp out { type filter hook output priority 0; }; add rule ip ipp out ip protocol 115 drop")
	}
	// The neighbours are resolved by now; they may still be looked up
	// again, so allow the packet path a moment to have them.
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatalf("with protocol 115 dropped in the output hook: %v", err)
	}
	pingAll(t, overlayPings(a, b)...)
	if err := a.ping(t, "10.1.0.2", 1, 3000); err == nil {
		t.Error("a 3000-byte ping crossed although the raw socket's packets are dropped: not the raw socket?")
	}
	ca, cb := pa.stop(t), pb.stop(t)
	for side, c := range map[string]map[string]uint64{"a": ca, "b": cb} {
		if c["rx_packets"] < 10 || c["tx_packets"] < 10 || c["rx_errors"] != 0 {
			t.Errorf("side %s counters: %v", side, c)
		}
	}
}
