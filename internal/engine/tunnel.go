package engine

import (
	"net/netip"
	"sync/atomic"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Tunnel is the traffic with one peer over one socket: the sessions it
// carries, and the counters of packets from the peer that belong to no
// session.
type Tunnel struct {
	Remote   netip.AddrPort // port 0 for IP encapsulation
	Stats    *TunnelStats
	sock     *socket
	sessions []*Session // guarded by the engine's mutex
}

// TunnelStats counts received packets that no session took: too short or
// not L2TPv3 data, control messages, unknown sessions, from strangers,
// truncated. Every field may be read at any time.
type TunnelStats struct {
	RxErrors atomic.Uint64 // all of the below
	Drops    [l2tpv3.NumReasons]atomic.Uint64
}

// drop counts a packet no session took and logs its reason, rate-limited.
func (t *TunnelStats) drop(r l2tpv3.Reason, lim *rateLimit) {
	t.Drops[r].Add(1)
	t.RxErrors.Add(1)
	lim.logf(logKey(r), "drop: %s", r)
}

// Counters returns the tunnel's counters: rx_errors, then one per drop
// counter name.
func (t *TunnelStats) Counters() []Counter {
	c := []Counter{{"rx_errors", t.RxErrors.Load()}}
	return appendDrops(c, &t.Drops)
}
