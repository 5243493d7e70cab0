package control

import (
	"fmt"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

type sessState uint8

const (
	sessWaitReply   sessState = iota // ICRQ sent (RFC 3931 §7.3.1 wait-reply)
	sessWaitConnect                  // ICRP sent (§7.3.2 wait-connect)
	sessEstablished
)

// session is one circuit's L2TP session within the control connection.
type session struct {
	circuit *Circuit
	state   sessState
	local   uint32 // our session ID
	peer    uint32 // the peer's (0 until known)
	tie     uint64 // our Session Tie Breaker, while we initiate
	data    DataConfig
}

func (c *Conn) sessionFor(endID string) *session {
	for _, s := range c.sessions {
		if s.circuit.EndID == endID {
			return s
		}
	}
	return nil
}

func (c *Conn) circuit(endID []byte) *Circuit {
	for i := range c.cfg.Circuits {
		if c.cfg.Circuits[i].EndID == string(endID) {
			return &c.cfg.Circuits[i]
		}
	}
	return nil
}

func (c *Conn) newSession(ci *Circuit, cookieLen int) *session {
	s := &session{circuit: ci, local: c.randomID()}
	s.data = DataConfig{EndID: ci.EndID, RxSession: s.local, RxCookieLen: cookieLen,
		RxSublayer: ci.Sublayer, PWType: ci.PWType}
	if cookieLen > 0 {
		s.data.RxCookie = c.random64()
		if cookieLen == 4 {
			s.data.RxCookie &= 0xffffffff
		}
	}
	c.sessions[s.local] = s
	return s
}

// startSession sends an ICRQ for ci (RFC 3931 §6.6).
func (c *Conn) startSession(ci *Circuit) {
	s := c.newSession(ci, ci.CookieLen)
	s.tie = c.random64()
	c.serial++
	avps := []l2tpv3.AVP{
		u32AVP(l2tpv3.AttrLocalSessionID, s.local),
		u32AVP(l2tpv3.AttrRemoteSessionID, 0),
		{Type: l2tpv3.AttrSerialNumber, Value: u32AVP(0, c.serial).Value},
		u16AVP(l2tpv3.AttrPWType, ci.PWType),
		{Mandatory: true, Type: l2tpv3.AttrRemoteEndID, Value: []byte(ci.EndID)},
		u16AVP(l2tpv3.AttrCircuitStatus, l2tpv3.CircuitNew|l2tpv3.CircuitActive),
		u64AVP(l2tpv3.AttrTieBreaker, s.tie),
	}
	avps = append(avps, c.dataAVPs(s)...)
	c.send(l2tpv3.MsgICRQ, avps)
}

// dataAVPs are the Assigned Cookie, L2-Specific Sublayer and Data
// Sequencing of s.
func (c *Conn) dataAVPs(s *session) []l2tpv3.AVP {
	cookie := l2tpv3.AppendCookie(nil, s.data.RxCookie, s.data.RxCookieLen)[l2tpv3.AVPHeaderLen:]
	return []l2tpv3.AVP{
		{Mandatory: true, Type: l2tpv3.AttrAssignedCookie, Value: cookie},
		u16AVP(l2tpv3.AttrL2SpecificSublayer, s.circuit.Sublayer),
		u16AVP(l2tpv3.AttrDataSequencing, l2tpv3.SequencingNone),
	}
}

func (c *Conn) onSession(typ l2tpv3.MessageType, a *l2tpv3.Attrs) {
	switch typ {
	case l2tpv3.MsgICRQ:
		c.onICRQ(a)
	case l2tpv3.MsgICRP:
		s := c.sessions[a.RemoteSessionID]
		if s == nil || s.state != sessWaitReply {
			if s != nil {
				c.closeSession(s, l2tpv3.ResultCode{Result: l2tpv3.CDNFSMError}, "ICRP out of turn")
			} else if a.LocalSessionID != 0 {
				c.sendCDN(c.randomID(), a.LocalSessionID, l2tpv3.ResultCode{Result: l2tpv3.CDNGeneralError,
					HasError: true, Error: l2tpv3.ErrorInvalidSession})
			}
			return
		}
		c.onICRP(s, a)
	case l2tpv3.MsgICCN:
		s := c.sessions[a.RemoteSessionID]
		if s == nil || s.state != sessWaitConnect || a.LocalSessionID != s.peer {
			if s != nil {
				c.closeSession(s, l2tpv3.ResultCode{Result: l2tpv3.CDNFSMError}, "ICCN out of turn")
			}
			return
		}
		s.state = sessEstablished
		c.ev.SessionUp(s.data)
	case l2tpv3.MsgCDN:
		s := c.sessions[a.RemoteSessionID]
		if s == nil && a.RemoteSessionID == 0 {
			// Reverse lookup by the peer's session ID (RFC 3931 §5.4.4).
			for _, t := range c.sessions {
				if t.peer != 0 && t.peer == a.LocalSessionID {
					s = t
				}
			}
		}
		if s == nil {
			return
		}
		if a.Result.Result == l2tpv3.CDNLostTie && s.state == sessWaitReply {
			delete(c.sessions, s.local) // the peer's ICRQ won; it is being answered
			return
		}
		c.dropSession(s, "peer sent CDN ("+describeResult(a.Result)+")")
	case l2tpv3.MsgSLI:
		if s := c.sessions[a.RemoteSessionID]; s != nil && a.Has(l2tpv3.AttrCircuitStatus) {
			c.ev.CircuitStatus(s.circuit.EndID, a.CircuitStatus&l2tpv3.CircuitActive != 0)
		}
	}
}

// onICRQ answers the peer's session request (RFC 3931 §7.3.2), breaking
// a tie with our own ICRQ for the same circuit (§5.4.4).
func (c *Conn) onICRQ(a *l2tpv3.Attrs) {
	if a.LocalSessionID == 0 {
		return
	}
	reject := func(result uint16, msg string) {
		rc := l2tpv3.ResultCode{Result: result}
		if msg != "" {
			rc = l2tpv3.ResultCode{Result: result, HasError: true, Error: l2tpv3.ErrorNone, Message: msg}
		}
		c.sendCDN(c.randomID(), a.LocalSessionID, rc)
		if r, ok := c.ev.(Refusals); ok && result != l2tpv3.CDNLostTie {
			r.SessionRefused(string(a.RemoteEndID), "sent CDN ("+describeResult(rc)+")")
		}
	}
	ci := c.circuit(a.RemoteEndID)
	if ci == nil {
		reject(l2tpv3.CDNNoFacilitiesPerm, fmt.Sprintf("no circuit %q", a.RemoteEndID))
		return
	}
	if !a.Has(l2tpv3.AttrPWType) || a.PWType != ci.PWType {
		reject(l2tpv3.CDNUnsupportedPW, fmt.Sprintf("circuit %q is pseudowire type %d, not %d", ci.EndID, ci.PWType, a.PWType))
		return
	}
	if a.DataSequencing != l2tpv3.SequencingNone && a.L2Sublayer == l2tpv3.L2SublayerNone {
		reject(l2tpv3.CDNSeqNoSublayer, "")
		return
	}
	if a.L2Sublayer != ci.Sublayer {
		reject(l2tpv3.CDNGeneralError, fmt.Sprintf("circuit %q uses L2-Specific Sublayer %d, not %d", ci.EndID, ci.Sublayer, a.L2Sublayer))
		return
	}
	if old := c.sessionFor(ci.EndID); old != nil {
		switch {
		case old.state == sessWaitReply && (!a.Has(l2tpv3.AttrTieBreaker) || old.tie < a.TieBreaker):
			reject(l2tpv3.CDNLostTie, "") // our ICRQ wins
			return
		case old.state == sessWaitReply && old.tie == a.TieBreaker:
			// Equal: both sides discard and start again.
			delete(c.sessions, old.local)
			reject(l2tpv3.CDNLostTie, "")
			c.startSession(ci)
			return
		case old.state == sessWaitReply:
			delete(c.sessions, old.local) // we lose: answer theirs
		default:
			// A new request for a circuit we had: the peer's session
			// ended without a CDN reaching us.
			c.dropSession(old, "peer requested the circuit again")
		}
	}
	// Each end assigns the cookie it expects to receive, of its own
	// length (RFC 3931 §5.4.4), and sends whatever the other assigned.
	s := c.newSession(ci, ci.CookieLen)
	s.peer = a.LocalSessionID
	s.state = sessWaitConnect
	s.data.TxSession = a.LocalSessionID
	s.data.TxCookie, s.data.TxCookieLen = l2tpv3.CookieValue(a.Cookie)
	s.data.TxSublayer = a.L2Sublayer
	avps := []l2tpv3.AVP{
		u32AVP(l2tpv3.AttrLocalSessionID, s.local),
		u32AVP(l2tpv3.AttrRemoteSessionID, s.peer),
		u16AVP(l2tpv3.AttrCircuitStatus, l2tpv3.CircuitNew|l2tpv3.CircuitActive),
	}
	c.send(l2tpv3.MsgICRP, append(avps, c.dataAVPs(s)...))
}

func (c *Conn) onICRP(s *session, a *l2tpv3.Attrs) {
	if a.LocalSessionID == 0 {
		c.closeSession(s, l2tpv3.ResultCode{Result: l2tpv3.CDNGeneralError, HasError: true, Error: l2tpv3.ErrorInvalidSession}, "ICRP without a session ID")
		return
	}
	s.peer = a.LocalSessionID
	// The peer's cookie, of 0, 4 or 8 bytes (ParseAttrs refuses other
	// lengths), is what we send: its length need not be ours.
	switch {
	case a.L2Sublayer != s.circuit.Sublayer:
		c.closeSession(s, l2tpv3.ResultCode{Result: l2tpv3.CDNGeneralError, HasError: true, Error: l2tpv3.ErrorRange,
			Message: fmt.Sprintf("L2-Specific Sublayer %d, ours is %d", a.L2Sublayer, s.circuit.Sublayer)}, "peer's sublayer differs from ours")
		return
	case a.DataSequencing != l2tpv3.SequencingNone && a.L2Sublayer == l2tpv3.L2SublayerNone:
		c.closeSession(s, l2tpv3.ResultCode{Result: l2tpv3.CDNSeqNoSublayer}, "peer asks for sequencing without a sublayer")
		return
	}
	s.data.TxSession = a.LocalSessionID
	s.data.TxCookie, s.data.TxCookieLen = l2tpv3.CookieValue(a.Cookie)
	s.data.TxSublayer = a.L2Sublayer
	c.send(l2tpv3.MsgICCN, []l2tpv3.AVP{
		u32AVP(l2tpv3.AttrLocalSessionID, s.local),
		u32AVP(l2tpv3.AttrRemoteSessionID, s.peer),
	})
	s.state = sessEstablished
	c.ev.SessionUp(s.data)
}

// CloseSession ends the session of a circuit with a CDN (result 3,
// administrative).
func (c *Conn) CloseSession(endID string) {
	if s := c.sessionFor(endID); s != nil {
		c.closeSession(s, l2tpv3.ResultCode{Result: l2tpv3.CDNAdministrative}, "closed locally")
	}
}

// SetCircuitStatus tells the peer (SLI) whether the circuit is active.
func (c *Conn) SetCircuitStatus(endID string, active bool) {
	s := c.sessionFor(endID)
	if s == nil || s.state != sessEstablished {
		return
	}
	var st uint16
	if active {
		st = l2tpv3.CircuitActive
	}
	c.send(l2tpv3.MsgSLI, []l2tpv3.AVP{
		u32AVP(l2tpv3.AttrLocalSessionID, s.local),
		u32AVP(l2tpv3.AttrRemoteSessionID, s.peer),
		u16AVP(l2tpv3.AttrCircuitStatus, st),
	})
}

func (c *Conn) sendCDN(local, peer uint32, rc l2tpv3.ResultCode) {
	c.send(l2tpv3.MsgCDN, []l2tpv3.AVP{
		resultAVP(rc),
		u32AVP(l2tpv3.AttrLocalSessionID, local),
		u32AVP(l2tpv3.AttrRemoteSessionID, peer),
	})
}

// closeSession sends a CDN for s and drops it.
func (c *Conn) closeSession(s *session, rc l2tpv3.ResultCode, reason string) {
	c.sendCDN(s.local, s.peer, rc)
	c.dropSession(s, reason)
}

// dropSession forgets s and tells Events.
func (c *Conn) dropSession(s *session, reason string) {
	delete(c.sessions, s.local)
	c.ev.SessionDown(s.circuit.EndID, reason)
}
