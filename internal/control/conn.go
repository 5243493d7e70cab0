package control

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Reasons Accept refuses a control message without creating any state.
var (
	// ErrStranger: a message for connection 0 that is not a well-formed
	// SCCRQ from the configured peer name.
	ErrStranger = errors.New("control message from an unknown peer")
	// ErrAuth: a Message Digest missing or wrong, or a peer asking for
	// authentication we have no secret for.
	ErrAuth = errors.New("control message authentication failed")
	// ErrNotOurs: a message for a control connection ID we do not have.
	ErrNotOurs = errors.New("control message for an unknown control connection")
)

type connState uint8

const (
	connIdle connState = iota
	connWaitReply
	connWaitConn
	connEstablished
)

func (s connState) String() string {
	return [...]string{"idle", "wait-ctl-reply", "wait-ctl-conn", "established"}[s]
}

// nonceLen is the length of our Control Message Authentication Nonce
// (RFC 3931 recommends at least 16 octets).
const nonceLen = 16

// Conn is the control connection with one configured peer and the
// sessions of its circuits: the state machines of RFC 3931 §7.2 and §7.3
// as pure logic. Received messages go through Accept (which changes
// nothing) and, once the transport has put them in order, Handle; what
// it sends leaves through the Wire, encoded by AppendMessage; what it
// decides is told to Events. A Conn is driven from one goroutine.
type Conn struct {
	cfg  PeerConfig
	ev   Events
	wire Wire
	rand io.Reader
	key  []byte // derived shared key, nil without a secret
	ver  *l2tpv3.Verifier

	state          connState
	localID        uint32
	peerID         uint32
	localNonce     []byte
	peerNonce      []byte
	tieBreaker     uint64
	peerName       string
	peerCaps       []uint16
	sessions       map[uint32]*session // by our session ID
	serial         uint32
	lastTeardownRC l2tpv3.ResultCode
}

// NewConn returns an idle control connection for cfg; random values
// (IDs, cookies, nonces, tie breakers) come from r (nil: crypto/rand).
func NewConn(cfg PeerConfig, ev Events, wire Wire, r io.Reader) (*Conn, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	c := &Conn{cfg: cfg, ev: ev, wire: wire, rand: r, sessions: map[uint32]*session{}}
	if len(cfg.Secret) > 0 {
		c.key = l2tpv3.SharedKey(cfg.Secret)
		c.ver = l2tpv3.NewVerifier(c.key)
	}
	return c, nil
}

// State returns the RFC 3931 §7.2 name of the connection's state.
func (c *Conn) State() string { return c.state.String() }

// IDs returns our control connection ID and the peer's (0 when unknown).
func (c *Conn) IDs() (local, peer uint32) { return c.localID, c.peerID }

func (c *Conn) random(b []byte) {
	if _, err := io.ReadFull(c.rand, b); err != nil {
		panic(fmt.Sprintf("control: random source failed: %v", err))
	}
}

func (c *Conn) random64() uint64 {
	var b [8]byte
	c.random(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// randomID returns a random nonzero 32-bit ID not in use as a session ID.
func (c *Conn) randomID() uint32 {
	for {
		var b [4]byte
		c.random(b[:])
		if id := binary.BigEndian.Uint32(b[:]); id != 0 && c.sessions[id] == nil {
			return id
		}
	}
}

// open prepares a fresh control connection on our side.
func (c *Conn) open() {
	c.localID = c.randomID()
	c.peerID = 0
	c.peerNonce = nil
	c.peerName = ""
	c.peerCaps = nil
	if c.key != nil {
		c.localNonce = make([]byte, nonceLen)
		c.random(c.localNonce)
	}
	c.tieBreaker = c.random64()
	c.wire.Open(c.localID)
}

// Start sends an SCCRQ if we are an initiator and no connection exists
// or is being set up. It is also how an initiator retries after the
// connection ended.
func (c *Conn) Start() error {
	if !c.cfg.Initiator || c.state != connIdle {
		return nil
	}
	c.open()
	c.state = connWaitReply
	return c.send(l2tpv3.MsgSCCRQ, c.sccAVPs(true))
}

// Stop clears the control connection (StopCCN result 1) and every session.
func (c *Conn) Stop(reason string) {
	if c.state == connIdle {
		return
	}
	if c.peerID == 0 {
		// No SCCRP yet: the peer has no connection a StopCCN could name
		// (and no nonce of its own to sign it with).
		c.teardown(reason)
		return
	}
	c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopClear}, reason)
}

// Lost ends the connection without a message: the transport gave up.
func (c *Conn) Lost(reason string) {
	if c.state != connIdle {
		c.teardown(reason)
	}
}

func (c *Conn) sccAVPs(request bool) []l2tpv3.AVP {
	avps := []l2tpv3.AVP{
		{Mandatory: true, Type: l2tpv3.AttrHostName, Value: []byte(c.cfg.HostName)},
		u32AVP(l2tpv3.AttrRouterID, c.cfg.RouterID),
		u32AVP(l2tpv3.AttrAssignedConnID, c.localID),
		{Mandatory: true, Type: l2tpv3.AttrPWCapabilities, Value: c.capabilities()},
		u16AVP(l2tpv3.AttrReceiveWindowSize, c.cfg.Window),
	}
	if request {
		avps = append(avps, u64AVP(l2tpv3.AttrTieBreaker, c.tieBreaker))
	}
	if c.key != nil {
		avps = append(avps, l2tpv3.AVP{Mandatory: true, Type: l2tpv3.AttrCtlMsgAuthNonce, Value: c.localNonce})
	}
	return avps
}

// capabilities lists the PW types of our circuits (Ethernet at least).
func (c *Conn) capabilities() []byte {
	types := []uint16{l2tpv3.PWEthernet}
	for _, ci := range c.cfg.Circuits {
		if ci.PWType != l2tpv3.PWEthernet && (len(types) < 2) {
			types = append(types, ci.PWType)
		}
	}
	b := make([]byte, 0, 2*len(types))
	for _, t := range types {
		b = binary.BigEndian.AppendUint16(b, t)
	}
	return b
}

func u16AVP(t uint16, v uint16) l2tpv3.AVP {
	return l2tpv3.AVP{Mandatory: true, Type: t, Value: binary.BigEndian.AppendUint16(nil, v)}
}

func u32AVP(t uint16, v uint32) l2tpv3.AVP {
	return l2tpv3.AVP{Mandatory: true, Type: t, Value: binary.BigEndian.AppendUint32(nil, v)}
}

func u64AVP(t uint16, v uint64) l2tpv3.AVP {
	return l2tpv3.AVP{Mandatory: true, Type: t, Value: binary.BigEndian.AppendUint64(nil, v)}
}

func resultAVP(rc l2tpv3.ResultCode) l2tpv3.AVP {
	b := l2tpv3.AppendResultCode(nil, rc)
	return l2tpv3.AVP{Mandatory: true, Type: l2tpv3.AttrResultCode, Value: b[l2tpv3.AVPHeaderLen:]}
}

func (c *Conn) send(typ l2tpv3.MessageType, avps []l2tpv3.AVP) error {
	if err := c.wire.Send(typ, avps); err != nil {
		return fmt.Errorf("send %v: %w", typ, err)
	}
	return nil
}

// AppendMessage encodes one message of this connection for the transport:
// header h, Message Type, with authentication a Message Digest right
// after it, then avps; with authentication it is signed with the nonces
// of this connection (none for an SCCRQ). A ZLB cannot be authenticated:
// with a secret the transport acknowledges with ACK messages.
func (c *Conn) AppendMessage(b []byte, h l2tpv3.ControlHeader, typ l2tpv3.MessageType, avps []l2tpv3.AVP) ([]byte, error) {
	start := len(b)
	out := l2tpv3.BeginMessage(b, h, typ)
	if c.key != nil {
		out = l2tpv3.AppendDigestAVP(out, c.cfg.Digest)
	}
	for i := range avps {
		var err error
		if out, err = l2tpv3.AppendAVP(out, avps[i]); err != nil {
			return b, err
		}
	}
	if err := l2tpv3.SetControlLength(out[start:]); err != nil {
		return b, err
	}
	if c.key != nil {
		local, peer := c.localNonce, c.peerNonce
		if typ == l2tpv3.MsgSCCRQ {
			local, peer = nil, nil
		}
		if err := l2tpv3.SignMessage(out[start:], c.key, local, peer); err != nil {
			return b, err
		}
	}
	return out, nil
}

// Sign fills the Message Digest of msg, a complete message whose first
// AVP after the Message Type is a Message Digest (l2tpv3.AppendDigestAVP),
// for this connection: with its nonces, or none for an SCCRQ. Without a
// secret it does nothing. Call it from the goroutine that drives c, or
// with the nonces settled (after SetPeer).
func (c *Conn) Sign(msg []byte) error {
	if c.key == nil {
		return nil
	}
	return signFor(msg, c.key, c.localNonce, c.peerNonce)
}

func signFor(msg, key, local, peer []byte) error {
	if len(msg) >= 20 && l2tpv3.MessageType(binary.BigEndian.Uint16(msg[18:])) == l2tpv3.MsgSCCRQ {
		local, peer = nil, nil
	}
	return l2tpv3.SignMessage(msg, key, local, peer)
}

// Accept checks a received control message (starting with its header)
// before anything uses it, and changes nothing: a message for connection
// 0 must be an SCCRQ from the configured peer name carrying the AVPs
// RFC 3931 §6.1 requires, other messages must be for our connection, and
// with a secret every message must carry a Message Digest that checks
// (RFC 3931 §4.3) of the configured algorithm. Refused messages are to be
// dropped and counted.
func (c *Conn) Accept(raw []byte) error {
	m, err := l2tpv3.ParseMessage(raw)
	if err != nil {
		return err
	}
	var a l2tpv3.Attrs
	aerr := l2tpv3.ParseAttrs(&m, &a)
	if m.Header.ConnID == 0 {
		if m.Type != l2tpv3.MsgSCCRQ || aerr != nil {
			return ErrStranger
		}
		if !a.Has(l2tpv3.AttrHostName) || !a.Has(l2tpv3.AttrAssignedConnID) ||
			!a.Has(l2tpv3.AttrRouterID) || !a.Has(l2tpv3.AttrPWCapabilities) {
			return ErrStranger
		}
		if c.cfg.PeerName != "" && string(a.HostName) != c.cfg.PeerName {
			return ErrStranger
		}
		if c.state == connWaitReply && a.AssignedConnID == c.localID && a.TieBreaker == c.tieBreaker {
			// Our own SCCRQ, reflected (the peer's address is ours):
			// answering it as a tie would restart us forever.
			return ErrStranger
		}
		if c.key == nil {
			if a.Has(l2tpv3.AttrCtlMsgAuthNonce) {
				return ErrAuth
			}
			return nil
		}
		if !a.Has(l2tpv3.AttrCtlMsgAuthNonce) || !c.ver.Verify(&m, &a, c.cfg.Digest, nil, nil) {
			return ErrAuth
		}
		return nil
	}
	if c.state == connIdle || m.Header.ConnID != c.localID {
		return ErrNotOurs
	}
	if c.key != nil {
		peerNonce := c.peerNonce
		if m.Type == l2tpv3.MsgSCCRP && c.state == connWaitReply {
			peerNonce = a.Nonce
		}
		if len(peerNonce) == 0 || !c.ver.Verify(&m, &a, c.cfg.Digest, peerNonce, c.localNonce) {
			return ErrAuth
		}
	}
	return nil
}

// Handle runs the state machines on one message that Accept let through,
// delivered in order by the transport.
func (c *Conn) Handle(m *l2tpv3.Message) {
	if m.IsZLB() {
		return
	}
	var a l2tpv3.Attrs
	if err := l2tpv3.ParseAttrs(m, &a); err != nil {
		c.refuse(m, &a, err)
		return
	}
	switch m.Type {
	case l2tpv3.MsgSCCRQ:
		c.onSCCRQ(&a)
	case l2tpv3.MsgSCCRP:
		c.onSCCRP(&a)
	case l2tpv3.MsgSCCCN:
		if c.state != connWaitConn {
			c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopFSMError}, "SCCCN in state "+c.state.String())
			return
		}
		c.established()
	case l2tpv3.MsgStopCCN:
		if c.state != connIdle {
			c.lastTeardownRC = a.Result
			c.teardown(fmt.Sprintf("peer sent StopCCN (%s)", describeResult(a.Result)))
		}
	case l2tpv3.MsgHELLO, l2tpv3.MsgACK:
	case l2tpv3.MsgICRQ, l2tpv3.MsgICRP, l2tpv3.MsgICCN, l2tpv3.MsgCDN, l2tpv3.MsgSLI:
		if c.state == connEstablished {
			c.onSession(m.Type, &a)
		}
	default:
		// An unknown message type with the M bit clears the connection
		// (RFC 3931 §5.4.1); without it the message is ignored.
		if len(m.Raw) > l2tpv3.ControlHeaderLen && m.Raw[l2tpv3.ControlHeaderLen]&0x80 != 0 && c.state != connIdle {
			c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopGeneralError, HasError: true, Error: l2tpv3.ErrorRange,
				Message: "unknown message type " + m.Type.String()}, "peer sent "+m.Type.String())
		}
	}
}

// refuse answers a message with an unknown or malformed mandatory AVP:
// CDN for a session message, StopCCN otherwise (RFC 3931 §5.2).
func (c *Conn) refuse(m *l2tpv3.Message, a *l2tpv3.Attrs, err error) {
	var ae *l2tpv3.AttrError
	if !errors.As(err, &ae) {
		return
	}
	rc := ae.ResultCode()
	switch m.Type {
	case l2tpv3.MsgICRQ, l2tpv3.MsgICRP, l2tpv3.MsgICCN, l2tpv3.MsgSLI:
		if c.state != connEstablished {
			return
		}
		// The AVPs before the bad one were decoded: find the session.
		if s := c.sessions[a.RemoteSessionID]; s != nil {
			c.closeSession(s, rc, "peer sent "+err.Error())
			return
		}
		if a.LocalSessionID != 0 {
			c.sendCDN(c.randomID(), a.LocalSessionID, rc)
		}
	case l2tpv3.MsgCDN:
		if s := c.sessions[a.RemoteSessionID]; s != nil {
			c.dropSession(s, "peer sent CDN with "+err.Error())
		}
	default:
		if c.state != connIdle {
			c.stopCCN(rc, "peer sent "+err.Error())
		}
	}
}

func (c *Conn) onSCCRQ(a *l2tpv3.Attrs) {
	switch c.state {
	case connWaitReply:
		// Both ends sent an SCCRQ: the lower tie breaker wins; a side
		// without one loses (RFC 3931 §5.4.3).
		switch {
		case !a.Has(l2tpv3.AttrTieBreaker) || c.tieBreaker < a.TieBreaker:
			return // we win: our SCCRQ stands, theirs is dropped
		case c.tieBreaker == a.TieBreaker:
			c.wire.Close()
			c.state = connIdle
			c.Start() // both restart with a new tie breaker
			return
		}
		c.wire.Close() // we lose: our connection goes, theirs is accepted
		c.state = connIdle
	case connWaitConn:
		if a.AssignedConnID == c.peerID {
			return // a retransmission of the SCCRQ we answered
		}
		// At most one half-open connection: the newer request replaces
		// it, silently (nothing was up), its transport closed at once.
		c.teardown("")
	case connEstablished:
		// An SCCRQ carries no nonce: a replayed one verifies as well as a
		// restarted peer's. It never touches an established connection;
		// Dynamic answers it with a second handshake beside this one,
		// which replaces it only once its SCCCN verifies.
		return
	}
	c.open()
	c.peerID = a.AssignedConnID
	c.learnPeer(a)
	c.wire.SetPeer(c.peerID)
	c.state = connWaitConn
	c.send(l2tpv3.MsgSCCRP, c.sccAVPs(false))
}

func (c *Conn) learnPeer(a *l2tpv3.Attrs) {
	c.peerName = string(a.HostName)
	c.peerNonce = append([]byte(nil), a.Nonce...)
	c.peerCaps = c.peerCaps[:0]
	for i := 0; i+1 < len(a.PWCapabilities); i += 2 {
		c.peerCaps = append(c.peerCaps, binary.BigEndian.Uint16(a.PWCapabilities[i:]))
	}
}

func (c *Conn) onSCCRP(a *l2tpv3.Attrs) {
	if c.state != connWaitReply {
		c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopFSMError}, "SCCRP in state "+c.state.String())
		return
	}
	c.peerID = a.AssignedConnID
	c.peerNonce = append([]byte(nil), a.Nonce...)
	c.wire.SetPeer(c.peerID)
	switch {
	case !a.Has(l2tpv3.AttrHostName) || !a.Has(l2tpv3.AttrAssignedConnID) || !a.Has(l2tpv3.AttrRouterID) || !a.Has(l2tpv3.AttrPWCapabilities):
		c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopGeneralError, HasError: true, Error: l2tpv3.ErrorLength,
			Message: "SCCRP without a required AVP"}, "peer's SCCRP lacks a required AVP")
		return
	case c.cfg.PeerName != "" && string(a.HostName) != c.cfg.PeerName:
		c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopNotAuthorized}, fmt.Sprintf("peer calls itself %q, not %q", a.HostName, c.cfg.PeerName))
		return
	case c.key == nil && a.Has(l2tpv3.AttrCtlMsgAuthNonce):
		c.stopCCN(l2tpv3.ResultCode{Result: l2tpv3.StopNotAuthorized}, "peer asks for authentication and no secret is configured")
		return
	}
	c.learnPeer(a)
	c.send(l2tpv3.MsgSCCCN, nil)
	c.established()
}

func (c *Conn) established() {
	c.state = connEstablished
	c.ev.ConnUp(c.peerName)
	for i := range c.cfg.Circuits {
		if c.cfg.Circuits[i].Initiate {
			c.startSession(&c.cfg.Circuits[i])
		}
	}
}

// stopCCN sends a StopCCN with rc and clears the connection.
func (c *Conn) stopCCN(rc l2tpv3.ResultCode, reason string) {
	c.send(l2tpv3.MsgStopCCN, []l2tpv3.AVP{u32AVP(l2tpv3.AttrAssignedConnID, c.localID), resultAVP(rc)})
	c.lastTeardownRC = rc
	c.teardown(reason)
}

// teardown clears every session and the connection (RFC 3931 §3.3.2: a
// StopCCN clears the sessions implicitly).
func (c *Conn) teardown(reason string) {
	for _, s := range c.sessions {
		c.dropSession(s, "control connection down: "+reason)
	}
	wasUp := c.state == connEstablished
	c.state = connIdle
	c.wire.Close()
	if wasUp || reason != "" {
		c.ev.ConnDown(reason)
	}
}

func describeResult(rc l2tpv3.ResultCode) string {
	s := fmt.Sprintf("result %d", rc.Result)
	if rc.HasError {
		s += fmt.Sprintf(", error %d", rc.Error)
		if rc.Message != "" {
			s += fmt.Sprintf(" %q", rc.Message)
		}
	}
	return s
}
