package control

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Defaults of Config.
const (
	DefaultWindow         = 4 // RFC 3931 §5.4.3: a peer that sends no Receive Window Size takes 4
	DefaultRetryLimit     = 5
	DefaultInitialTimeout = time.Second
	DefaultMaxTimeout     = 8 * time.Second
	DefaultAckDelay       = 100 * time.Millisecond
)

// Config describes a Transport.
type Config struct {
	// LocalID is our control connection ID, which the peer's messages
	// carry; PeerID the peer's, which ours carry.
	LocalID, PeerID uint32
	// PeerWindow is the peer's Receive Window Size: at most that many
	// messages are unacknowledged at once (0: DefaultWindow). Window is
	// ours: messages up to that far ahead of the next expected are held
	// until the gap fills (0: DefaultWindow).
	PeerWindow, Window int
	// RetryLimit is how many times a message is retransmitted before
	// Failed is called (0: DefaultRetryLimit). The timeout starts at
	// InitialTimeout and doubles up to MaxTimeout (0: the defaults).
	RetryLimit                 int
	InitialTimeout, MaxTimeout time.Duration
	// AckDelay is how long an acknowledgement waits for a message to ride
	// on before it goes alone (0: DefaultAckDelay).
	AckDelay time.Duration
	// ResyncOnRestart takes a message with Ns 0 and Nr 0, while we are
	// further along, for a peer that restarted its numbering: the
	// transport follows it from there and renumbers what it has not yet
	// had acknowledged from 0. A static tunnel has no connection setup
	// that would say so otherwise.
	ResyncOnRestart bool
	// Send puts one message on the wire. It is called with the
	// transport's lock held: it must not call back into the transport.
	Send func(msg []byte) error
	// Clock is the time to run by (nil: SystemClock).
	Clock Clock

	// The callbacks below are called one at a time, in the order of the
	// events, without the transport's lock held (they may call Send).
	//
	// Deliver is handed every message other than an acknowledgement, in
	// order and once; m is valid during the call only.
	Deliver func(m *l2tpv3.Message)
	// Acked is told the types of the messages an acknowledgement covered.
	Acked func(types []l2tpv3.MessageType)
	// Failed is called when a message went unacknowledged through every
	// retransmission, and again at each retransmission after that (the
	// transport keeps retransmitting at MaxTimeout) until one is
	// acknowledged. since is when that message was first sent.
	Failed func(since time.Time)
	// PeerRestarted is called when ResyncOnRestart followed a restart.
	PeerRestarted func()
}

// Stats counts a transport's events. Every field may be read at any time.
type Stats struct {
	Sent        atomic.Uint64 // messages sent for the first time
	Retransmits atomic.Uint64 // messages sent again
	Received    atomic.Uint64 // messages delivered (in order, once)
	AcksSent    atomic.Uint64 // ZLBs and ACK messages sent
	AcksRcvd    atomic.Uint64 // ZLBs and ACK messages received
	Duplicates  atomic.Uint64 // messages received again (acknowledged again)
	OutOfOrder  atomic.Uint64 // messages received ahead of a gap (held if within the window)
	Invalid     atomic.Uint64 // messages that did not parse or carried another connection ID
	Restarts    atomic.Uint64 // peer restarts followed (ResyncOnRestart)
}

// ErrWrongConnection is Input's error for a message whose control
// connection ID is not ours.
var ErrWrongConnection = errors.New("control message for another control connection ID")

// ErrClosed is Send's error once the transport is closed.
var ErrClosed = errors.New("control transport closed")

type outMsg struct {
	ns    uint16
	typ   l2tpv3.MessageType
	buf   []byte
	first time.Time // when it was first sent
}

// Transport is the reliable delivery of RFC 3931 §4.2 for one control
// connection. Its methods may be called from any goroutine.
type Transport struct {
	cfg   Config
	Stats Stats

	mu       sync.Mutex
	cbMu     sync.Mutex // held while callbacks run, taken before mu is let go
	ns, nr   uint16     // next Ns to assign, next Ns expected
	sent     []*outMsg  // unacknowledged, in Ns order
	queued   []*outMsg  // waiting for room in the peer's window
	rto      time.Duration
	retries  int
	rtx      Timer
	rtxGen   uint64
	nrSent   uint16 // the Nr our last message or acknowledgement carried
	ack      Timer
	ackGen   uint64
	held     map[uint16][]byte // messages received ahead of a gap
	explicit bool              // the peer acknowledges with ACK messages; so do we
	lastSent time.Time         // when a message (not an acknowledgement) last went out
	heard    time.Time         // when a valid message from the peer last came in
	closed   bool
	events   []func()
}

// NewTransport returns a transport with nothing sent or received.
func NewTransport(cfg Config) *Transport {
	if cfg.PeerWindow <= 0 {
		cfg.PeerWindow = DefaultWindow
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.RetryLimit <= 0 {
		cfg.RetryLimit = DefaultRetryLimit
	}
	if cfg.InitialTimeout <= 0 {
		cfg.InitialTimeout = DefaultInitialTimeout
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.AckDelay <= 0 {
		cfg.AckDelay = DefaultAckDelay
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	return &Transport{cfg: cfg, rto: cfg.InitialTimeout, held: map[uint16][]byte{}}
}

// seqBefore reports whether a comes before b in the 16-bit sequence space.
func seqBefore(a, b uint16) bool { return int16(a-b) < 0 }

// unlock lets go of mu and runs the callbacks the locked section queued,
// in order, one event stream at a time.
func (t *Transport) unlock() {
	ev := t.events
	t.events = nil
	if len(ev) == 0 {
		t.mu.Unlock()
		return
	}
	t.cbMu.Lock()
	t.mu.Unlock()
	defer t.cbMu.Unlock()
	for _, f := range ev {
		f()
	}
}

// Send queues a message of type typ with avps for reliable delivery: it
// goes out at once if the peer's window has room, after the messages
// before it otherwise.
func (t *Transport) Send(typ l2tpv3.MessageType, avps []l2tpv3.AVP) error {
	t.mu.Lock()
	defer t.unlock()
	if t.closed {
		return ErrClosed
	}
	buf, err := l2tpv3.AppendMessage(nil, l2tpv3.ControlHeader{ConnID: t.cfg.PeerID}, typ, avps)
	if err != nil {
		return err
	}
	t.queued = append(t.queued, &outMsg{ns: t.ns, typ: typ, buf: buf})
	t.ns++
	t.pump()
	return nil
}

// Outstanding returns the messages sent or queued and not yet acknowledged.
func (t *Transport) Outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sent) + len(t.queued)
}

// LastSent returns when a message (not an acknowledgement) last went out.
func (t *Transport) LastSent() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastSent
}

// LastHeard returns when a valid message from the peer last came in.
func (t *Transport) LastHeard() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.heard
}

// Close stops the timers; Send fails from now on and Input ignores.
func (t *Transport) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.rtxGen++
	t.ackGen++
	if t.rtx != nil {
		t.rtx.Stop()
	}
	if t.ack != nil {
		t.ack.Stop()
	}
}

// pump sends the queued messages the peer's window has room for.
func (t *Transport) pump() {
	for len(t.queued) > 0 {
		m := t.queued[0]
		if len(t.sent) > 0 && int(m.ns-t.sent[0].ns) >= t.cfg.PeerWindow {
			break
		}
		t.queued = t.queued[1:]
		t.sent = append(t.sent, m)
		t.transmit(m)
		m.first = t.lastSent
		t.Stats.Sent.Add(1)
		if len(t.sent) == 1 {
			t.armRetransmit()
		}
	}
}

// transmit sends m with its Ns and the current Nr, which acknowledges
// what we received: a pending acknowledgement rides on it.
func (t *Transport) transmit(m *outMsg) {
	binary.BigEndian.PutUint16(m.buf[8:], m.ns)
	binary.BigEndian.PutUint16(m.buf[10:], t.nr)
	t.cfg.Send(m.buf)
	t.nrSent = t.nr
	t.lastSent = t.cfg.Clock.Now()
}

// armRetransmit (re)starts the retransmission timer for the oldest
// unacknowledged message, with the current timeout.
func (t *Transport) armRetransmit() {
	t.rtxGen++
	g := t.rtxGen
	if t.rtx != nil {
		t.rtx.Stop()
	}
	t.rtx = t.cfg.Clock.AfterFunc(t.rto, func() { t.retransmit(g) })
}

// retransmit sends every unacknowledged message again after a timeout,
// doubling the timeout up to the maximum. When the oldest has been sent
// RetryLimit times more without an acknowledgement, Failed is called once.
func (t *Transport) retransmit(gen uint64) {
	t.mu.Lock()
	defer t.unlock()
	if gen != t.rtxGen || t.closed || len(t.sent) == 0 {
		return
	}
	if t.retries >= t.cfg.RetryLimit {
		if t.cfg.Failed != nil {
			since := t.sent[0].first
			t.events = append(t.events, func() { t.cfg.Failed(since) })
		}
	} else {
		t.retries++
	}
	for _, m := range t.sent {
		t.transmit(m)
		t.Stats.Retransmits.Add(1)
	}
	t.rto = min(2*t.rto, t.cfg.MaxTimeout)
	t.armRetransmit()
}

// sendAck sends a ZLB, or an ACK message to a peer that sends those,
// acknowledging everything received in order.
func (t *Transport) sendAck() {
	// Ns of an acknowledgement is the next Ns the peer is to see of us.
	h := l2tpv3.ControlHeader{ConnID: t.cfg.PeerID, Ns: t.ns, Nr: t.nr}
	if len(t.queued) > 0 {
		h.Ns = t.queued[0].ns
	}
	var b []byte
	if t.explicit {
		b = l2tpv3.BeginMessage(make([]byte, 0, 20), h, l2tpv3.MsgACK)
		l2tpv3.SetControlLength(b)
	} else {
		b = l2tpv3.AppendZLB(make([]byte, 0, l2tpv3.ControlHeaderLen), h)
	}
	t.cfg.Send(b)
	t.Stats.AcksSent.Add(1)
	t.nrSent = t.nr
}

// scheduleAck arranges for an acknowledgement after AckDelay unless a
// message carries it first.
func (t *Transport) scheduleAck() {
	if t.ack != nil {
		return // one is due already
	}
	t.ackGen++
	g := t.ackGen
	t.ack = t.cfg.Clock.AfterFunc(t.cfg.AckDelay, func() {
		t.mu.Lock()
		defer t.unlock()
		if g != t.ackGen || t.closed {
			return
		}
		t.ack = nil
		if t.nrSent != t.nr {
			t.sendAck()
		}
	})
}

// Input takes one control message from the peer (starting with its
// header): its Nr acknowledges our messages, and a message other than an
// acknowledgement is delivered in order, held if ahead of a gap, or
// acknowledged again if it is a duplicate. It returns an error for a
// message that does not parse or is not for our connection ID (counted as
// Invalid, nothing else done). It never panics, whatever msg holds, and
// does not keep msg beyond the call.
func (t *Transport) Input(msg []byte) error {
	m, err := l2tpv3.ParseMessage(msg)
	if err != nil {
		t.Stats.Invalid.Add(1)
		return err
	}
	if m.Header.ConnID != t.cfg.LocalID {
		t.Stats.Invalid.Add(1)
		return ErrWrongConnection
	}
	t.mu.Lock()
	defer t.unlock()
	if t.closed {
		return nil
	}
	t.heard = t.cfg.Clock.Now()
	isAck := m.IsZLB() || m.Type == l2tpv3.MsgACK
	if m.Type == l2tpv3.MsgACK {
		t.explicit = true
	}
	if !isAck && t.cfg.ResyncOnRestart && m.Header.Ns == 0 && m.Header.Nr == 0 {
		t.resync()
	}
	if isAck {
		t.Stats.AcksRcvd.Add(1)
		t.acknowledged(m.Header.Nr)
		return nil
	}
	// Received first, so that messages the acknowledgement lets go carry
	// the new Nr.
	now := false
	switch d := int16(m.Header.Ns - t.nr); {
	case d == 0:
		t.deliver(msg[:len(m.Raw)])
		for {
			b, ok := t.held[t.nr]
			if !ok {
				break
			}
			delete(t.held, t.nr)
			t.deliver(b)
		}
	case d < 0:
		t.Stats.Duplicates.Add(1)
		now = true // our acknowledgement was lost: again at once
	default:
		t.Stats.OutOfOrder.Add(1)
		if int(d) < t.cfg.Window {
			if _, ok := t.held[m.Header.Ns]; !ok {
				t.held[m.Header.Ns] = append([]byte(nil), m.Raw...)
			}
		}
		now = true // tells the peer where the gap starts
	}
	t.acknowledged(m.Header.Nr)
	t.pump()
	switch {
	case now:
		t.sendAck()
	case t.nrSent != t.nr:
		t.scheduleAck()
	}
	return nil
}

// deliver hands the message in b (already checked) to Deliver and
// advances Nr.
func (t *Transport) deliver(b []byte) {
	t.nr++
	t.Stats.Received.Add(1)
	if t.cfg.Deliver == nil {
		return
	}
	// The callback runs after the lock is let go but before Input
	// returns, so b (the caller's buffer, or a held copy) is still valid.
	t.events = append(t.events, func() {
		m, err := l2tpv3.ParseMessage(b)
		if err == nil {
			t.cfg.Deliver(&m)
		}
	})
}

// acknowledged removes the messages before nr from the unacknowledged
// ones; an Nr beyond what we sent is ignored.
func (t *Transport) acknowledged(nr uint16) {
	unsent := t.ns
	if len(t.queued) > 0 {
		unsent = t.queued[0].ns
	}
	if seqBefore(unsent, nr) {
		return
	}
	var types []l2tpv3.MessageType
	for len(t.sent) > 0 && seqBefore(t.sent[0].ns, nr) {
		types = append(types, t.sent[0].typ)
		t.sent = t.sent[1:]
	}
	if len(types) == 0 {
		return
	}
	t.retries, t.rto = 0, t.cfg.InitialTimeout
	t.rtxGen++
	if t.rtx != nil {
		t.rtx.Stop()
	}
	if len(t.sent) > 0 {
		t.armRetransmit()
	}
	t.pump()
	if t.cfg.Acked != nil {
		t.events = append(t.events, func() { t.cfg.Acked(types) })
	}
}

// resync follows a peer that restarted its numbering (a message with Ns 0
// and Nr 0): if we are further along, what we have not had acknowledged is
// renumbered from 0 and sent again at once, and the peer's next message is
// expected at 0.
func (t *Transport) resync() {
	base := t.ns
	if len(t.sent) > 0 {
		base = t.sent[0].ns
	} else if len(t.queued) > 0 {
		base = t.queued[0].ns
	}
	if t.nr == 0 && base == 0 {
		return // both at the start: nothing to follow
	}
	t.Stats.Restarts.Add(1)
	all := append(t.sent, t.queued...)
	t.sent, t.queued = nil, nil
	for i, m := range all {
		m.ns = uint16(i)
	}
	t.ns = uint16(len(all))
	t.nr = 0
	clear(t.held)
	t.retries, t.rto = 0, t.cfg.InitialTimeout
	t.rtxGen++
	if t.rtx != nil {
		t.rtx.Stop()
	}
	t.queued = all
	if t.cfg.PeerRestarted != nil {
		t.events = append(t.events, t.cfg.PeerRestarted)
	}
}
