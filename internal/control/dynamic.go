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
// cycle (RFC 3931 §3.3.2).
const Linger = 31 * time.Second

// DynamicStats counts the messages a Dynamic refused before any state.
type DynamicStats struct {
	Stranger   atomic.Uint64 // not from the configured peer, or not an SCCRQ for connection 0
	AuthFailed atomic.Uint64 // digest missing or wrong
	NotOurs    atomic.Uint64 // for a connection ID we do not have
	Invalid    atomic.Uint64 // malformed
}

// signer holds what signing needs, replaced whole when it changes so that
// retransmissions from timer goroutines read a consistent set.
type signer struct {
	key, local, peer []byte
	peerID           uint32
	digest           l2tpv3.DigestType
}

// Dynamic runs a Conn (the dynamic control connection with one peer) over
// the reliable Transport: it is the Conn's Wire. Control messages from the
// peer's address go to Input; the Transport template's Send puts messages
// on the wire. Its methods may be called from any goroutine.
type Dynamic struct {
	Conn  *Conn
	Stats DynamicStats

	mu       sync.Mutex // guards Conn and the fields below
	tmpl     Config
	t        *Transport
	last     *Transport // the closed connection's, lingering
	lastSign *atomic.Pointer[signer]
	rtxDone  uint64 // retransmissions of the transports before last
	pending  []byte // the SCCRQ being answered, for the new transport
	skip     bool   // its delivery is the one being handled already
	// sign is the current transport's signer; each transport keeps its
	// own, so that one lingering to deliver a StopCCN, or an SCCRQ that
	// lost a tie, is not signed and addressed for the next connection.
	sign   *atomic.Pointer[signer]
	digest l2tpv3.DigestType
}

// NewDynamic returns the control plane for the peer pc. tmpl configures
// every transport the connection uses: Send, Clock, timings; its IDs and
// Deliver and Failed callbacks are the Dynamic's own.
func NewDynamic(pc PeerConfig, ev Events, tmpl Config, r io.Reader) (*Dynamic, error) {
	d := &Dynamic{tmpl: tmpl, digest: pc.Digest}
	if tmpl.Send == nil {
		return nil, fmt.Errorf("dynamic control connection: no Send")
	}
	c, err := NewConn(pc, ev, d, r)
	if err != nil {
		return nil, err
	}
	d.Conn = c
	d.sign = new(atomic.Pointer[signer])
	d.sign.Store(&signer{key: c.key, digest: pc.Digest})
	return d, nil
}

// Start sends the SCCRQ of an initiator (see Conn.Start).
func (d *Dynamic) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.Conn.Start()
}

// Stop clears the control connection with a StopCCN.
func (d *Dynamic) Stop(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
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
		// The acknowledgement of our StopCCN goes to the transport
		// that lingers to deliver it.
		if d.last == nil || d.last.Input(raw) != nil {
			d.Stats.NotOurs.Add(1)
		}
		return
	default:
		d.Stats.Invalid.Add(1)
		return
	}
	m, _ := l2tpv3.ParseMessage(raw)
	if m.Header.ConnID == 0 {
		// An SCCRQ: no transport has it yet. The Conn opens one, which
		// takes the SCCRQ in (see Open) before the reply goes out.
		d.pending = raw
		d.Conn.Handle(&m)
		d.pending = nil
		return
	}
	if d.t != nil {
		d.t.Input(raw) // delivers through deliver, d.mu still held
	}
}

// Open is Wire.Open: a fresh transport for our connection ID local.
func (d *Dynamic) Open(local uint32) {
	if d.t != nil {
		d.t.Close()
	}
	if d.last != nil && d.lastSign.Load().peerID == 0 {
		// An SCCRQ that lost a tie, or went unanswered: the peer has no
		// connection it could be delivered to.
		d.last.Close()
	}
	cfg := d.tmpl
	cfg.LocalID, cfg.PeerID = local, 0
	sp := new(atomic.Pointer[signer])
	d.sign = sp
	cfg.Send = func(msg []byte) error { return d.send(sp.Load(), msg) }
	cfg.Deliver = d.deliver
	var t *Transport
	cfg.Failed = func(since time.Time) { d.failed(t, since) }
	t = NewTransport(cfg)
	d.t = t
	d.sign.Store(&signer{key: d.Conn.key, local: d.Conn.localNonce, digest: d.digest})
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
func (d *Dynamic) SetPeer(peer uint32) {
	d.sign.Store(&signer{key: d.Conn.key, local: d.Conn.localNonce, peer: d.Conn.peerNonce, peerID: peer, digest: d.digest})
}

// Send is Wire.Send: with authentication, a Message Digest AVP goes first,
// filled in when the transport sends (after it set Ns and Nr).
func (d *Dynamic) Send(typ l2tpv3.MessageType, avps []l2tpv3.AVP) error {
	if d.t == nil {
		return ErrClosed
	}
	if s := d.sign.Load(); s.key != nil {
		dig := l2tpv3.AppendDigestAVP(nil, s.digest)[l2tpv3.AVPHeaderLen:]
		avps = append([]l2tpv3.AVP{{Mandatory: true, Type: l2tpv3.AttrMessageDigest, Value: dig}}, avps...)
	}
	return d.t.Send(typ, avps)
}

// Close is Wire.Close: the transport lingers to deliver a StopCCN.
func (d *Dynamic) Close() {
	t := d.t
	d.t = nil
	if t != nil {
		if d.last != nil {
			d.rtxDone += d.last.Stats.Retransmits.Load()
		}
		d.last, d.lastSign = t, d.sign
		d.tmpl.clock().AfterFunc(Linger, t.Close)
	}
}

func (c Config) clock() Clock {
	if c.Clock == nil {
		return SystemClock{}
	}
	return c.Clock
}

// send puts a message of the transport on the wire with the peer's
// connection ID, signed; with authentication a ZLB becomes an ACK message,
// since a ZLB cannot carry a digest (RFC 3931 §6.15).
func (d *Dynamic) send(s *signer, msg []byte) error {
	b := append([]byte(nil), msg...)
	binary.BigEndian.PutUint32(b[4:], s.peerID)
	if s.key != nil {
		if len(b) == l2tpv3.ControlHeaderLen {
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

func (d *Dynamic) deliver(m *l2tpv3.Message) {
	if d.skip {
		return
	}
	d.Conn.Handle(m)
}

// failed: the peer acknowledged nothing through every retransmission.
// The connection ends; an initiator starts again at once (the transport's
// backoff paces the attempts).
func (d *Dynamic) failed(t *Transport, since time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t != d.t {
		return
	}
	d.Conn.Lost(fmt.Sprintf("peer acknowledged nothing since %s", since.Format(time.RFC3339)))
	d.Conn.Start()
}
