package engine

import (
	"log/slog"
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
	name     string     // the peer as logs name it: address, and port for UDP
	sessions []*Session // guarded by the engine's mutex
}

// TunnelStats counts received packets that no session took: too short or
// not L2TPv3 data, control messages, unknown sessions, from strangers,
// truncated. Every field may be read at any time.
type TunnelStats struct {
	RxErrors atomic.Uint64 // all of the below
	Drops    [l2tpv3.NumReasons]atomic.Uint64
}

// drop counts a packet no session took and logs its reason, rate-limited,
// with the keys tunnel, reason (the counter raised) and count.
func (t *Tunnel) drop(r l2tpv3.Reason, lim *rateLimit) {
	t.Stats.Drops[r].Add(1)
	t.Stats.RxErrors.Add(1)
	if held, ok := lim.allow(logKey(r)); ok {
		warn(held, "drop: "+r.String(), slog.String("tunnel", t.name), slog.String("reason", r.Counter()))
	}
}

// Counters returns the tunnel's counters: rx_errors, then one per drop
// counter name.
func (t *TunnelStats) Counters() []Counter {
	c := []Counter{{"rx_errors", t.RxErrors.Load()}}
	return appendDrops(c, &t.Drops)
}
