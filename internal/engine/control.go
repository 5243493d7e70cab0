package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"syscall"
	"time"
)

// ControlHandler takes the L2TP control messages a tunnel's peer sends
// (see Tunnel.SetControl).
type ControlHandler interface {
	// Control is handed one control message, starting with its control
	// header (the T bit): over UDP the whole payload, over IP what
	// follows the zero session ID. It is called from the socket's receive
	// loop: it must return quickly, and must not keep msg.
	Control(msg []byte)
}

// Carrier is what an endpoint implements when it has a link state that the
// peer's being down should turn off (a TAP's carrier). Endpoints without
// it have their frames dropped while the peer is down, counted as
// tx_peer_down.
type Carrier interface {
	SetCarrier(on bool) error
}

// controlBox holds a handler for an atomic pointer.
type controlBox struct{ h ControlHandler }

// maxControl bounds a control message SendControl takes.
const maxControl = 4096

// SetControl makes h the taker of the control messages from the tunnel's
// peer, which are otherwise dropped and counted as rx_control; nil
// restores that. Messages handed to h count as control_rx.
func (t *Tunnel) SetControl(h ControlHandler) {
	if h == nil {
		t.control.Store(nil)
		return
	}
	t.control.Store(&controlBox{h})
}

// handleControl hands a control message from src to its tunnel's handler
// and reports whether one took it. pkt is the UDP payload, or the IP
// payload whose session ID is 0.
func (s *socket) handleControl(src netip.AddrPort, pkt []byte) bool {
	for _, t := range *s.tunnels.Load() {
		if t.Remote != src {
			continue
		}
		b := t.control.Load()
		if b == nil {
			return false
		}
		if !s.udp {
			pkt = pkt[4:] // SessionID saw 4 bytes of zeros
		}
		t.Stats.RxControl.Add(1)
		b.h.Control(pkt)
		return true
	}
	return false
}

// SendControl sends one control message (starting with its control header)
// to the tunnel's peer, behind a zero session ID over IP. It may be called
// from any goroutine; it fails once the socket is closed, and counts what
// it sends as control_tx and what the kernel refuses as control_tx_errors.
func (t *Tunnel) SendControl(msg []byte) error {
	t.ctlMu.Lock()
	defer t.ctlMu.Unlock()
	n := 0
	if !t.sock.udp {
		n = 4
	}
	if len(msg)+n > maxControl {
		return fmt.Errorf("control message of %d bytes: at most %d", len(msg), maxControl-n)
	}
	if t.ctlSender == nil {
		t.ctlBuf = make([]byte, maxControl)
		t.ctlPkts = make([][]byte, 1)
		var lim rateLimit
		t.ctlSender = t.sock.u.NewSender(t.Remote, 1, func(pkt []byte, e syscall.Errno) {
			t.Stats.TxControlErrors.Add(1)
			if held, ok := lim.allow(sendErrorKey(e)); ok {
				warn(held, "control message not sent",
					slog.String("tunnel", t.name), slog.String("errno", errnoName(e)), slog.String("reason", "control_tx_errors"))
			}
		}, nil)
	}
	binary.BigEndian.PutUint32(t.ctlBuf, 0)
	copy(t.ctlBuf[n:], msg)
	t.ctlPkts[0] = t.ctlBuf[:n+len(msg)]
	before := t.Stats.TxControlErrors.Load()
	if err := t.ctlSender.Send(t.ctlPkts); err != nil {
		return err
	}
	if t.Stats.TxControlErrors.Load() == before {
		t.Stats.TxControl.Add(1)
	}
	return nil
}

// SetPeerDown records whether the tunnel's peer is down and, when that
// changes, applies it to every session: an endpoint with a Carrier has it
// turned off (or on again), the others have the frames they read dropped
// and counted as tx_peer_down while the peer is down. It reports whether
// the state changed.
func (t *Tunnel) SetPeerDown(down bool) bool {
	t.eng.mu.Lock()
	defer t.eng.mu.Unlock()
	if t.peerDown.Load() == down {
		return false
	}
	if down {
		t.downSince.Store(time.Now().UnixNano())
	} else {
		t.downSince.Store(0)
	}
	t.peerDown.Store(down)
	for _, s := range t.sessions {
		s.applyCarrier(!down)
	}
	return true
}

// PeerDown reports whether the peer is down, and since when.
func (t *Tunnel) PeerDown() (bool, time.Time) {
	if !t.peerDown.Load() {
		return false, time.Time{}
	}
	return true, time.Unix(0, t.downSince.Load())
}

// applyCarrier sets the carrier of the session's endpoint, if it has one;
// a refusal is logged (frames then keep flowing into the TAP, to be sent
// into the void as before).
func (s *Session) applyCarrier(on bool) {
	c, ok := s.ep.(Carrier)
	if !ok || s.failed {
		return
	}
	if err := c.SetCarrier(on); err != nil {
		slog.Default().LogAttrs(context.Background(), slog.LevelWarn, "carrier not set", s.logAttrs(slog.String("err", err.Error()))...)
	}
}

// peerDownDrop is the send loops' test: with the peer down, an endpoint
// without a carrier has its frames dropped and counted.
func (s *Session) peerDownDrop(n int) bool {
	if !s.tunnel.peerDown.Load() {
		return false
	}
	s.Stats.TxPeerDown.Add(uint64(n))
	return true
}
