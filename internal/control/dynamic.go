package control

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Linger is how long a closed control connection's transport keeps
// retransmitting what it sent last (a StopCCN): a full retransmission
// cycle (RFC 3931 §3.3.2). A transport closed without a StopCCN stops at
// once.
const Linger = 31 * time.Second

// The SCCRQs that may open a connection (or a second handshake beside an
// established one) are rate-limited per peer: SCCRQBurst at once, then one
// per SCCRQInterval. An SCCRQ carries no nonce, so a captured one verifies
// for as long as the secret is the same; without a secret anyone on the
// path can forge one. Either way each costs a reply and some state, and
// the limit bounds both.
const (
	SCCRQBurst    = 3
	SCCRQInterval = time.Second
)

// DynamicStats counts the messages a Dynamic refused before any state.
type DynamicStats struct {
	Stranger    atomic.Uint64 // not from the configured peer, or not an SCCRQ for connection 0
	AuthFailed  atomic.Uint64 // digest missing, wrong, or of the other algorithm
	NotOurs     atomic.Uint64 // for a connection ID we do not have, or not an acknowledgement for a closed one
	Invalid     atomic.Uint64 // malformed
	RateLimited atomic.Uint64 // SCCRQs beyond the per-peer rate (SCCRQBurst, SCCRQInterval)
}

// signer holds what signing needs, replaced whole when it changes so that
// retransmissions from timer goroutines read a consistent set.
type signer struct {
	key, local, peer []byte
	localID, peerID  uint32
	digest           l2tpv3.DigestType
}

// Dynamic runs a Conn (the dynamic control connection with one peer) over
// the reliable Transport. Control messages from the peer's address go to
// Input; the Transport template's Send puts messages on the wire. Its
// methods may be called from any goroutine.
//
// Beside the current connection it keeps at most two others, neither of
// which can change it: a second handshake (a restarted peer's SCCRQ
// answered while the current connection is established), which replaces
// the current one only when its SCCCN verifies against our fresh nonce;
// and the transport of the previous connection lingering to deliver our
// StopCCN, which takes acknowledgements only, verified with that
// connection's own nonces, and delivers nothing.
type Dynamic struct {
	Conn  *Conn // the current connection
	Stats DynamicStats

	mu      sync.Mutex // guards Conn and the fields below
	tmpl    Config
	pc      PeerConfig
	ev      Events
	rand    io.Reader
	w       *dynWire   // Conn's
	cand    *Conn      // the second handshake, or nil
	candW   *dynWire   // its wire
	last    *lingering // the closed connection's transport, or nil
	rtxDone uint64     // retransmissions of the transports no longer here
	pending []byte     // the SCCRQ being answered, for the new transport
	skip    bool       // its delivery is the one being handled already
	tokens  float64    // SCCRQs the rate limit lets through now
	refill  time.Time  // when tokens was last topped up
}

// lingering is a closed connection's transport delivering our StopCCN.
type lingering struct {
	t    *Transport
	sign *signer
}

// NewDynamic returns the control plane for the peer pc. tmpl configures
// every transport the connection uses: Send, Clock, timings; its IDs and
// Deliver and Failed callbacks are the Dynamic's own.
func NewDynamic(pc PeerConfig, ev Events, tmpl Config, r io.Reader) (*Dynamic, error) {
	if tmpl.Send == nil {
		return nil, fmt.Errorf("dynamic control connection: no Send")
	}
	if err := pc.Check(); err != nil {
		return nil, err
	}
	d := &Dynamic{tmpl: tmpl, pc: pc, ev: ev, rand: r, tokens: SCCRQBurst}
	d.w = d.newWire()
	c, err := NewConn(pc, ev, d.w, r)
	if err != nil {
		return nil, err
	}
	d.Conn, d.w.c = c, c
	d.refill = d.tmpl.clock().Now()
	return d, nil
}

func (d *Dynamic) newWire() *dynWire {
	w := &dynWire{d: d, sign: new(atomic.Pointer[signer])}
	w.sign.Store(&signer{digest: d.pc.Digest})
	return w
}

// Start sends the SCCRQ of an initiator (see Conn.Start).
func (d *Dynamic) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.Conn.Start()
}

// Stop clears the control connection with a StopCCN, and drops a second
// handshake.
func (d *Dynamic) Stop(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropCandidate()
	d.Conn.Stop(reason)
}

// Input takes one control message from the peer's address, starting with
// its header (l2tpv3.ControlPayload strips the framing). Refused messages
// are counted and change nothing.
func (d *Dynamic) Input(raw []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch err := d.Conn.Accept(raw); err {
	case nil:
	case ErrStranger:
		d.Stats.Stranger.Add(1)
		return
	case ErrAuth:
		d.Stats.AuthFailed.Add(1)
		return
	case ErrNotOurs:
		d.notCurrent(raw)
		return
	default:
		d.Stats.Invalid.Add(1)
		return
	}
	m, _ := l2tpv3.ParseMessage(raw)
	if m.Header.ConnID == 0 {
		d.onSCCRQ(raw, &m)
		return
	}
	if d.w.t != nil {
		d.w.t.Input(raw) // delivers through the wire, d.mu still held
	}
}

// notCurrent takes a message for a connection ID other than the current
// connection's: the second handshake's, or the acknowledgement of the
// StopCCN the previous connection's transport lingers to deliver.
func (d *Dynamic) notCurrent(raw []byte) {
	id := binary.BigEndian.Uint32(raw[4:])
	if d.cand != nil && id == d.cand.localID {
		switch err := d.cand.Accept(raw); err {
		case nil:
			d.candW.t.Input(raw)
		case ErrAuth:
			d.Stats.AuthFailed.Add(1)
		default:
			d.Stats.Invalid.Add(1)
		}
		return
	}
	if d.last == nil || id != d.last.sign.localID {
		d.Stats.NotOurs.Add(1)
		return
	}
	m, err := l2tpv3.ParseMessage(raw)
	if err != nil {
		d.Stats.Invalid.Add(1)
		return
	}
	s := d.last.sign
	switch {
	case !m.IsZLB() && m.Type != l2tpv3.MsgACK:
		d.Stats.NotOurs.Add(1) // a closed connection takes nothing else
		return
	case s.key != nil:
		var a l2tpv3.Attrs
		if m.IsZLB() || l2tpv3.ParseAttrs(&m, &a) != nil ||
			!l2tpv3.VerifyMessageType(&m, &a, s.digest, s.key, s.peer, s.local) {
			d.Stats.AuthFailed.Add(1)
			return
		}
	}
	d.last.t.Input(raw)
}

// onSCCRQ takes an SCCRQ Accept let through.
func (d *Dynamic) onSCCRQ(raw []byte, m *l2tpv3.Message) {
	var a l2tpv3.Attrs
	if l2tpv3.ParseAttrs(m, &a) != nil {
		d.Stats.Invalid.Add(1)
		return
	}
	c := d.Conn
	if c.state == connEstablished || c.state == connWaitConn {
		if a.AssignedConnID == c.peerID || d.cand != nil && a.AssignedConnID == d.cand.peerID {
			return // a retransmission of an SCCRQ we answered
		}
	}
	if !d.allowSCCRQ() {
		d.Stats.RateLimited.Add(1)
		return
	}
	// At most one half-open connection: a newer SCCRQ replaces it.
	d.dropCandidate()
	d.pending = raw
	defer func() { d.pending = nil }()
	if c.state != connEstablished {
		// No transport has it yet. The Conn opens one, which takes the
		// SCCRQ in (see dynWire.Open) before the reply goes out.
		c.Handle(m)
		return
	}
	// The established connection stays as it is; a second handshake
	// answers the SCCRQ.
	ev := &candidateEvents{d: d}
	w := d.newWire()
	cc, err := NewConn(d.pc, ev, w, d.rand)
	if err != nil {
		return // d.pc was checked by NewDynamic
	}
	ev.c, w.c = cc, cc
	d.cand, d.candW = cc, w
	cc.Handle(m)
}

// allowSCCRQ takes a token of the SCCRQ rate limit, if there is one.
func (d *Dynamic) allowSCCRQ() bool {
	now := d.tmpl.clock().Now()
	if el := now.Sub(d.refill); el > 0 {
		d.tokens = min(SCCRQBurst, d.tokens+float64(el)/float64(SCCRQInterval))
	}
	d.refill = now
	if d.tokens < 1 {
		return false
	}
	d.tokens--
	return true
}

// dropCandidate ends the second handshake, if any: its transport stops
// at once, and nothing is sent (the peer that asked may be a replay).
func (d *Dynamic) dropCandidate() {
	if d.cand == nil {
		return
	}
	cc := d.cand
	d.cand, d.candW = nil, nil
	cc.teardown("")
}

// candidateEvents are the Events of the second handshake: it reports
// nothing until its SCCCN verified, and then it becomes the connection.
type candidateEvents struct {
	d *Dynamic
	c *Conn
}

// ConnUp: the second handshake's SCCCN verified against our fresh nonce:
// the peer restarted, its old connection is gone with it, and the new
// one takes its place.
func (e *candidateEvents) ConnUp(peer string) {
	d := e.d
	if d.cand != e.c {
		return
	}
	old, w := d.Conn, d.candW
	d.cand, d.candW = nil, nil
	if old.state != connIdle {
		old.teardown("peer restarted (new connection established)")
	}
	e.c.ev = d.ev
	d.Conn, d.w = e.c, w
	d.ev.ConnUp(peer)
}

// ConnDown: the second handshake failed (its peer's StopCCN, or an error).
func (e *candidateEvents) ConnDown(string) {
	if e.d.cand == e.c {
		e.d.cand, e.d.candW = nil, nil
	}
}

func (e *candidateEvents) SessionUp(DataConfig)       {}
func (e *candidateEvents) SessionDown(string, string) {}
func (e *candidateEvents) CircuitStatus(string, bool) {}

// dynWire is the Wire of one Conn of a Dynamic: its transport, replaced
// at each new connection, and how that transport signs.
type dynWire struct {
	d        *Dynamic
	c        *Conn
	t        *Transport
	sign     *atomic.Pointer[signer] // the current transport's: each keeps its own
	stopSent bool                    // t carries a StopCCN
}

// Open is Wire.Open: a fresh transport for our connection ID local.
func (w *dynWire) Open(local uint32) {
	d := w.d
	if w.t != nil {
		d.retire(w.t)
	}
	if d.last != nil && d.last.sign.peerID == 0 {
		// An SCCRQ that lost a tie, or went unanswered: the peer has no
		// connection it could be delivered to.
		d.retire(d.last.t)
		d.last = nil
	}
	cfg := d.tmpl
	cfg.LocalID, cfg.PeerID = local, 0
	sp := new(atomic.Pointer[signer])
	w.sign = sp
	cfg.Send = func(msg []byte) error { return d.send(sp.Load(), msg) }
	var t *Transport
	cfg.Deliver = func(m *l2tpv3.Message) {
		// Only the transport in use delivers: not one lingering, not
		// one replaced.
		if t == w.t && !d.skip {
			w.c.Handle(m)
		}
	}
	cfg.Failed = func(since time.Time) { d.failed(w, t, since) }
	t = NewTransport(cfg)
	w.t, w.stopSent = t, false
	sp.Store(&signer{key: w.c.key, local: w.c.localNonce, localID: local, digest: d.pc.Digest})
	if d.pending != nil {
		// The peer's SCCRQ is its message 0: the transport must have
		// had it, so that our SCCRP acknowledges it.
		b := append([]byte(nil), d.pending...)
		binary.BigEndian.PutUint32(b[4:], local)
		d.skip = true
		t.Input(b)
		d.skip = false
	}
}

// SetPeer is Wire.SetPeer.
func (w *dynWire) SetPeer(peer uint32) {
	c := w.c
	w.sign.Store(&signer{key: c.key, local: c.localNonce, peer: c.peerNonce, localID: c.localID, peerID: peer, digest: w.d.pc.Digest})
}

// Send is Wire.Send: with authentication, a Message Digest AVP goes first,
// filled in when the transport sends (after it set Ns and Nr).
func (w *dynWire) Send(typ l2tpv3.MessageType, avps []l2tpv3.AVP) error {
	if w.t == nil {
		return ErrClosed
	}
	if s := w.sign.Load(); s.key != nil {
		dig := l2tpv3.AppendDigestAVP(nil, s.digest)[l2tpv3.AVPHeaderLen:]
		avps = append([]l2tpv3.AVP{{Mandatory: true, Type: l2tpv3.AttrMessageDigest, Value: dig}}, avps...)
	}
	err := w.t.Send(typ, avps)
	if err == nil && typ == l2tpv3.MsgStopCCN {
		w.stopSent = true
	}
	return err
}

// Close is Wire.Close: a transport carrying our StopCCN lingers to
// deliver it; any other stops at once (an abandoned handshake, a peer
// that went silent or restarted: nothing of ours is worth repeating).
func (w *dynWire) Close() {
	d := w.d
	t := w.t
	w.t = nil
	if t == nil {
		return
	}
	if !w.stopSent {
		d.retire(t)
		return
	}
	if d.last != nil {
		d.retire(d.last.t)
	}
	d.last = &lingering{t: t, sign: w.sign.Load()}
	d.tmpl.clock().AfterFunc(Linger, t.Close)
}

// retire closes a transport no longer used, keeping its retransmissions
// in the count.
func (d *Dynamic) retire(t *Transport) {
	t.Close()
	d.rtxDone += t.Stats.Retransmits.Load()
}

func (c Config) clock() Clock {
	if c.Clock == nil {
		return SystemClock{}
	}
	return c.Clock
}

// bareACKLen is the length of an ACK message with no AVP but its type.
const bareACKLen = l2tpv3.ControlHeaderLen + 8

// send puts a message of the transport on the wire with the peer's
// connection ID, signed; with authentication a ZLB, or the bare ACK
// message the transport answers a peer's ACK messages with, becomes an
// ACK message with a Message Digest, since a ZLB cannot carry one (RFC
// 3931 §6.15).
func (d *Dynamic) send(s *signer, msg []byte) error {
	b := append([]byte(nil), msg...)
	binary.BigEndian.PutUint32(b[4:], s.peerID)
	if s.key != nil {
		if len(b) == l2tpv3.ControlHeaderLen || len(b) == bareACKLen && binary.BigEndian.Uint16(b[18:]) == uint16(l2tpv3.MsgACK) {
			h, _, _ := l2tpv3.ParseControlHeader(b)
			b = l2tpv3.BeginMessage(b[:0], h, l2tpv3.MsgACK)
			b = l2tpv3.AppendDigestAVP(b, s.digest)
			if err := l2tpv3.SetControlLength(b); err != nil {
				return err
			}
		}
		if err := signFor(b, s.key, s.local, s.peer); err != nil {
			return err
		}
	}
	return d.tmpl.Send(b)
}

// failed: the peer acknowledged nothing through every retransmission.
// The connection ends; an initiator starts again at once (the transport's
// backoff paces the attempts). A second handshake just ends.
func (d *Dynamic) failed(w *dynWire, t *Transport, since time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t != w.t {
		return
	}
	if w == d.candW {
		d.dropCandidate()
		return
	}
	if w != d.w {
		return
	}
	d.Conn.Lost(fmt.Sprintf("peer acknowledged nothing since %s", since.Format(time.RFC3339)))
	d.Conn.Start()
}
