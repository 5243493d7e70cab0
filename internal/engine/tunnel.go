package engine

import (
	"log/slog"
	"net/netip"
	"sync"
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
	eng      *Engine

	// The control channel (see control.go).
	control   atomic.Pointer[controlBox]
	peerDown  atomic.Bool
	downSince atomic.Int64 // UnixNano, while peerDown
	ctlMu     sync.Mutex   // guards what follows
	ctlSender Sender
	ctlBuf    []byte
	ctlPkts   [][]byte
}

// TunnelStats counts received packets that no session took: too short or
// not L2TPv3 data, control messages without a handler, unknown sessions,
// from strangers, truncated; and the control messages handed to the
// tunnel's handler and sent for it. Every field may be read at any time.
type TunnelStats struct {
	RxErrors        atomic.Uint64 // all of the drops
	Drops           [l2tpv3.NumReasons]atomic.Uint64
	RxControl       atomic.Uint64 // control messages handed to the handler
	TxControl       atomic.Uint64 // control messages sent
	TxControlErrors atomic.Uint64 // control messages the kernel refused
}

// drop counts a packet no session took and logs its reason, rate-limited,
// with the keys tunnel, reason (the counter raised) and count.
func (t *Tunnel) drop(r l2tpv3.Reason, lim *rateLimit) {
	t.Stats.Drops[r].Add(1)
	t.Stats.RxErrors.Add(1)
	if held, ok := lim.allow(logKey(r)); ok {
		warn(held, "packet dropped", slog.String("tunnel", t.name), slog.String("reason", r.Counter()), slog.String("why", r.String()))
	}
}

// Counters returns the tunnel's counters: rx_errors, one per drop counter
// name, then the control messages received, sent and refused.
func (t *TunnelStats) Counters() []Counter {
	c := []Counter{{"rx_errors", t.RxErrors.Load()}}
	c = appendDrops(c, &t.Drops)
	return append(c, Counter{"control_rx", t.RxControl.Load()}, Counter{"control_tx", t.TxControl.Load()},
		Counter{"control_tx_errors", t.TxControlErrors.Load()})
}
