package control

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// KeepaliveConfig describes a static tunnel's keepalive.
type KeepaliveConfig struct {
	// Transport configures the control connection; its callbacks and
	// ResyncOnRestart are the keepalive's.
	Transport Config
	// Hello is the interval: a HELLO is sent when no message has been sent
	// for that long and none is unacknowledged.
	Hello time.Duration
	// Retries is how many transmissions of a HELLO (the HELLO and its
	// retransmissions) go unacknowledged before the peer is down (0:
	// DefaultHelloRetries).
	Retries int
	// Required makes a dead peer take the tunnel down (SetPeerDown);
	// otherwise the state is only logged and shown.
	Required bool
	// SetPeerDown applies the peer's state to the tunnel's sessions.
	SetPeerDown func(down bool)
	// Log is where state changes are logged (nil: slog.Default()); every
	// line carries the tunnel key, Peer.
	Log  *slog.Logger
	Peer string
}

// DefaultHelloRetries is KeepaliveConfig.Retries by default: with a 1 s
// interval and 30 % of the control messages lost each way, 10 declared no
// live peer down in 400 simulated peer-hours (8 did twice, 5 did 317
// times), and a peer that stops is down within 11 s.
const DefaultHelloRetries = 10

// Keepalive watches a static tunnel's peer with HELLOs.
//
// Its transport's retransmission timeout starts at min(1 s, Hello) and
// doubles up to Hello, not up to DefaultMaxTimeout: RFC 3931 §4.2
// recommends the 1 s start and leaves the cap to the implementation.
// Every wait for an acknowledgement is thus at most Hello long, and a peer
// that stops is declared down within Hello × (Retries + 1) of its last
// message: up to an interval until our next HELLO, then Retries waits.
type Keepalive struct {
	cfg KeepaliveConfig
	t   *Transport

	HellosSent, HellosAcked, HellosReceived atomic.Uint64
	PeerDowns                               atomic.Uint64 // times the peer was declared down
	Ignored                                 atomic.Uint64 // messages other than HELLO, delivered and ignored

	mu        sync.Mutex
	down      bool
	downSince time.Time
	answered  bool // an acknowledgement ever came
	started   time.Time
	quiet     time.Duration // the silence that makes an unacknowledged HELLO a dead peer
	tick      Timer
	gen       uint64
	stopped   bool
	lastWarn  time.Time
}

// NewKeepalive returns a keepalive for a tunnel; Start starts it.
func NewKeepalive(cfg KeepaliveConfig) *Keepalive {
	k := &Keepalive{cfg: cfg}
	if k.cfg.Log == nil {
		k.cfg.Log = slog.Default()
	}
	if k.cfg.Retries <= 0 {
		k.cfg.Retries = DefaultHelloRetries
	}
	tc := cfg.Transport
	tc.InitialTimeout = min(DefaultInitialTimeout, cfg.Hello)
	tc.MaxTimeout = cfg.Hello
	// Failed comes at the timeout after the last of RetryLimit
	// retransmissions: Retries transmissions unacknowledged.
	tc.RetryLimit = k.cfg.Retries - 1
	if tc.RetryLimit == 0 {
		tc.RetryLimit = NoRetransmissions
	}
	// The silence failed asks for: from the first retransmission to the
	// verdict, the waits after the first.
	for i, rto := 1, tc.InitialTimeout; i < k.cfg.Retries; i++ {
		rto = min(2*rto, tc.MaxTimeout)
		k.quiet += rto
	}
	tc.ResyncOnRestart = true
	tc.Deliver = k.deliver
	tc.Acked = k.acked
	tc.Failed = k.failed
	tc.PeerRestarted = k.restarted
	k.t = NewTransport(tc)
	return k
}

// Transport returns the keepalive's transport (its Stats).
func (k *Keepalive) Transport() *Transport { return k.t }

// Start sends the first HELLO and starts the interval.
func (k *Keepalive) Start() {
	k.mu.Lock()
	k.started = k.t.cfg.Clock.Now()
	k.mu.Unlock()
	k.hello()
}

// Stop ends the keepalive: no more HELLOs, nothing taken.
func (k *Keepalive) Stop() {
	k.mu.Lock()
	k.stopped = true
	k.gen++
	if k.tick != nil {
		k.tick.Stop()
	}
	k.mu.Unlock()
	k.t.Close()
}

// hello sends a HELLO unless a message went out within the interval or is
// still unacknowledged, and arms the next check.
func (k *Keepalive) hello() {
	now := k.t.cfg.Clock.Now()
	if k.t.Outstanding() == 0 && (k.t.LastSent().IsZero() || now.Sub(k.t.LastSent()) >= k.cfg.Hello) {
		if err := k.t.Send(l2tpv3.MsgHELLO, nil); err == nil {
			k.HellosSent.Add(1)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	k.gen++
	g := k.gen
	next := k.cfg.Hello
	if last := k.t.LastSent(); !last.IsZero() {
		// Due an interval after the last message, checked no later than
		// an interval from now.
		if d := last.Add(k.cfg.Hello).Sub(now); d > 0 && d < next {
			next = d
		}
	}
	k.tick = k.t.cfg.Clock.AfterFunc(next, func() {
		k.mu.Lock()
		ok := g == k.gen && !k.stopped
		k.mu.Unlock()
		if ok {
			k.hello()
		}
	})
}

// Control takes a control message from the peer (engine.ControlHandler).
func (k *Keepalive) Control(msg []byte) {
	if err := k.t.Input(msg); err != nil {
		k.warn("control message dropped", "control_rx_invalid", "err", err)
	}
}

// warn logs a problem with what the peer sends, at most once a second.
func (k *Keepalive) warn(msg, counter string, attrs ...any) {
	k.mu.Lock()
	now := k.t.cfg.Clock.Now()
	ok := now.Sub(k.lastWarn) >= time.Second
	if ok {
		k.lastWarn = now
	}
	k.mu.Unlock()
	if ok {
		k.cfg.Log.Warn(msg, append([]any{"tunnel", k.cfg.Peer, "reason", counter}, attrs...)...)
	}
}

func (k *Keepalive) deliver(m *l2tpv3.Message) {
	if m.Type == l2tpv3.MsgHELLO {
		k.HellosReceived.Add(1)
		return
	}
	k.Ignored.Add(1)
	k.warn("control message ignored: this tunnel is static (-rxtunnel/-txtunnel keepalives only)", "control_rx_ignored", "type", m.Type.String())
}

func (k *Keepalive) acked(types []l2tpv3.MessageType) {
	for _, t := range types {
		if t == l2tpv3.MsgHELLO {
			k.HellosAcked.Add(1)
		}
	}
	k.mu.Lock()
	k.answered = true
	wasDown, since := k.down, k.downSince
	k.down = false
	k.mu.Unlock()
	if !wasDown {
		return
	}
	d := k.t.cfg.Clock.Now().Sub(since).Round(time.Millisecond)
	if k.cfg.Required {
		k.cfg.SetPeerDown(false)
		k.cfg.Log.Info("peer answers the control channel again: carriers on", "tunnel", k.cfg.Peer, "down_for", d)
	} else {
		k.cfg.Log.Info("peer answers the control channel again", "tunnel", k.cfg.Peer, "down_for", d)
	}
}

// failed declares the peer down when a HELLO went unacknowledged through
// Retries transmissions and nothing at all came from the peer since the
// first retransmission (quiet before the verdict; the window slides on at
// the later calls). A peer that still sends its own HELLOs or
// acknowledgements is alive, and only lost ours or their
// acknowledgements: at 30 % loss each way a HELLO fails ten times in a row
// about once an hour, while every message of a live peer vanishing for 9 s
// practically never happens. The peer's last message came before our
// HELLO's first retransmission, so the window does not delay the verdict.
func (k *Keepalive) failed(since time.Time) {
	now := k.t.cfg.Clock.Now()
	heard := k.t.LastHeard()
	k.mu.Lock()
	if k.down || k.stopped || heard.After(now.Add(-k.quiet)) {
		k.mu.Unlock()
		return
	}
	k.down, k.downSince = true, now
	answered, waited := k.answered, now.Sub(k.started).Round(time.Millisecond)
	k.mu.Unlock()
	k.PeerDowns.Add(1)
	attrs := []any{"tunnel", k.cfg.Peer, "reason", "control_peer_down", "hellos", k.cfg.Retries}
	switch {
	case !answered && k.cfg.Required:
		k.cfg.Log.Warn("peer never answered the control channel: carriers off", append(attrs, "waited", waited,
			"hint", "likely it runs no control channel (a static peer): give it -rxtunnel/-txtunnel/-hello too, or use -hello-required=off to keep data flowing")...)
	case !answered:
		k.cfg.Log.Warn("peer never answered the control channel; data keeps flowing (-hello-required=off)", append(attrs, "waited", waited,
			"hint", "likely it runs no control channel")...)
	case k.cfg.Required:
		k.cfg.Log.Warn("peer stopped acknowledging control messages: peer down, carriers off; HELLOs continue", attrs...)
	default:
		k.cfg.Log.Warn("peer stopped acknowledging control messages: peer down; data keeps flowing (-hello-required=off)", attrs...)
	}
	if k.cfg.Required {
		k.cfg.SetPeerDown(true)
	}
}

func (k *Keepalive) restarted() {
	k.cfg.Log.Info("peer restarted its control channel (Ns and Nr back at 0): numbering follows it", "tunnel", k.cfg.Peer)
}

// State reports whether the peer is down (it acknowledged nothing within
// the retry limit) and since when.
func (k *Keepalive) State() (down bool, since time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.down, k.downSince
}

// Counter is one named counter.
type Counter struct {
	Name  string
	Value uint64
}

// CounterNames lists the names Counters returns, in its order.
func CounterNames() []string {
	var k Keepalive
	k.t = NewTransport(Config{})
	var names []string
	for _, c := range k.Counters() {
		names = append(names, c.Name)
	}
	return names
}

// Counters returns the keepalive's and its transport's counters.
func (k *Keepalive) Counters() []Counter {
	s := &k.t.Stats
	return []Counter{
		{"control_hellos_sent", k.HellosSent.Load()},
		{"control_hellos_acked", k.HellosAcked.Load()},
		{"control_hellos_received", k.HellosReceived.Load()},
		{"control_retransmits", s.Retransmits.Load()},
		{"control_acks_sent", s.AcksSent.Load()},
		{"control_acks_received", s.AcksRcvd.Load()},
		{"control_duplicates", s.Duplicates.Load()},
		{"control_out_of_order", s.OutOfOrder.Load()},
		{"control_rx_invalid", s.Invalid.Load()},
		{"control_rx_ignored", k.Ignored.Load()},
		{"control_peer_restarts", s.Restarts.Load()},
		{"control_peer_down", k.PeerDowns.Load()},
	}
}
