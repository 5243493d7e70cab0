package control

import (
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// Refusals is what an Events may also implement to hear of the peer's
// session requests that were refused (a circuit we do not have, another
// pseudowire type, another sublayer): no session existed, so SessionDown
// is not called.
type Refusals interface {
	// SessionRefused: the peer's ICRQ for circuit endID was answered with
	// a CDN; reason names its result code.
	SessionRefused(endID, reason string)
}

// Status is the state of a dynamic control connection, for display.
type Status struct {
	// State is the RFC 3931 §7.2 state: idle, wait-ctl-reply,
	// wait-ctl-conn, established.
	State string
	// LocalID and PeerID are the control connection IDs (0: none yet).
	LocalID, PeerID uint32
	// PeerName is the Host Name the peer announced.
	PeerName string
}

// Status returns the connection's state and IDs.
func (d *Dynamic) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Status{State: d.Conn.state.String(), LocalID: d.Conn.localID, PeerID: d.Conn.peerID, PeerName: d.Conn.peerName}
}

// Hello sends a HELLO (RFC 3931 §6.5) when the connection is established,
// nothing is waiting for an acknowledgement and no message was sent for
// idle: the keepalive of a dynamic connection. A peer that acknowledges
// none through the transport's retransmissions ends the connection (its
// sessions go down) and, for an initiator, a new one is requested. It
// reports whether a HELLO went out.
func (d *Dynamic) Hello(idle time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.w.t
	if t == nil || d.Conn.state != connEstablished || t.Outstanding() > 0 {
		return false
	}
	if last := t.LastSent(); !last.IsZero() && d.tmpl.clock().Now().Sub(last) < idle {
		return false
	}
	return d.w.Send(l2tpv3.MsgHELLO, nil) == nil
}

// Retransmits returns the retransmissions of every transport the
// connection used.
func (d *Dynamic) Retransmits() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.rtxDone
	ts := []*Transport{d.w.t}
	if d.candW != nil {
		ts = append(ts, d.candW.t)
	}
	if d.last != nil {
		ts = append(ts, d.last.t)
	}
	for _, t := range ts {
		if t != nil {
			n += t.Stats.Retransmits.Load()
		}
	}
	return n
}

// StopWait clears the connection with a StopCCN (see Stop) and waits at
// most timeout for the peer to acknowledge it.
func (d *Dynamic) StopWait(reason string, timeout time.Duration) {
	d.mu.Lock()
	before := d.last
	d.dropCandidate()
	d.Conn.Stop(reason)
	l := d.last
	d.mu.Unlock()
	if l == nil || l == before {
		return
	}
	t := l.t
	for deadline := time.Now().Add(timeout); t.Outstanding() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// CloseSession ends the session of a circuit with a CDN (see
// Conn.CloseSession).
func (d *Dynamic) CloseSession(endID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Conn.CloseSession(endID)
}
