package daemon

import (
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/control"
	"github.com/l2tap/l2tap/internal/engine"
)

// tunnelControl is a tunnel's running keepalive.
type tunnelControl struct {
	keepalive *control.Keepalive
	started   bool
}

// addControl gives tunnel t, new, the keepalive tc asks for, if any: the
// engine hands it the peer's control messages from now on, and it starts
// with the tunnel's first sessions (startControls).
func (p *process) addControl(tc *config.TunnelConfig, t *engine.Tunnel) {
	c := tc.Keepalive
	if c.Hello == 0 {
		return
	}
	k := control.NewKeepalive(control.KeepaliveConfig{
		Transport: control.Config{LocalID: c.LocalID, PeerID: c.PeerID, Send: t.SendControl},
		Hello:     c.Hello,
		Retries:   c.Retries,
		Required:  c.Required,
		SetPeerDown: func(down bool) {
			t.SetPeerDown(down)
		},
		Peer: tc.Ends.PeerName(),
	})
	t.SetControl(k)
	p.mu.Lock()
	p.controls[t] = &tunnelControl{keepalive: k}
	p.mu.Unlock()
}

// startControls starts the keepalives not yet started; p.mu is held.
func (p *process) startControls() {
	for _, c := range p.controls {
		if !c.started {
			c.started = true
			c.keepalive.Start()
		}
	}
}

// stopControls stops every keepalive: no HELLO after this.
func (p *process) stopControls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.controls {
		c.keepalive.Stop()
	}
}

// controlCounters returns the keepalive counters of tunnel t, zero for a
// tunnel without one, so that every tunnel has the same names.
func (p *process) controlCounters(t *engine.Tunnel) []engine.Counter {
	var cs []control.Counter
	if c := p.controls[t]; c != nil {
		cs = c.keepalive.Counters()
	} else {
		for _, n := range control.CounterNames() {
			cs = append(cs, control.Counter{Name: n})
		}
	}
	if dt := p.dynFor(t); dt != nil {
		for i := range cs {
			switch cs[i].Name {
			case "control_hellos_sent":
				cs[i].Value = dt.hellos.Load()
			case "control_retransmits":
				cs[i].Value = dt.control.Retransmits()
			}
		}
	}
	out := make([]engine.Counter, len(cs), len(cs)+len(dynCounterNames))
	for i, c := range cs {
		out[i] = engine.Counter{Name: c.Name, Value: c.Value}
	}
	for i, v := range p.dynFor(t).counters() {
		out = append(out, engine.Counter{Name: dynCounterNames[i], Value: v})
	}
	return out
}

// controlState describes tunnel t's peer for status: "" without a
// keepalive, else "up" or "down", and since when it is down.
func (p *process) controlState(t *engine.Tunnel) (string, time.Time) {
	c := p.controls[t]
	if c == nil {
		return "", time.Time{}
	}
	if down, since := c.keepalive.State(); down {
		return "down", since
	}
	return "up", time.Time{}
}
