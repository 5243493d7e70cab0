package main

import (
	"time"

	"github.com/l2tap/l2tap/internal/control"
	"github.com/l2tap/l2tap/internal/engine"
)

// maxHello bounds -hello: an hour between HELLOs.
const maxHello = 3600

// maxHelloRetries bounds -hello-retries.
const maxHelloRetries = 255

// ControlOptions are a tunnel's control channel flags as given.
type ControlOptions struct {
	RxTunnel, TxTunnel number // -rxtunnel, -txtunnel
	Hello              number // -hello SECONDS
	Required           onOff  // -hello-required
	Retries            number // -hello-retries N
}

// ControlConfig is a tunnel's checked keepalive; Hello 0 means none.
type ControlConfig struct {
	LocalID, PeerID uint32
	Hello           time.Duration
	// Retries is how many transmissions of a HELLO go unacknowledged
	// before the peer is down.
	Retries int
	// Required turns the carriers off while the peer is down; otherwise
	// the state is only logged and shown.
	Required bool
}

// config checks the control channel flags of one tunnel.
func (o *ControlOptions) config() (ControlConfig, error) {
	c := ControlConfig{Required: !o.Required.set || o.Required.val}
	if !o.Hello.set || o.Hello.val == 0 {
		for _, k := range []struct {
			name string
			set  bool
		}{{"rxtunnel", o.RxTunnel.set}, {"txtunnel", o.TxTunnel.set}, {"hello-required", o.Required.set}, {"hello-retries", o.Retries.set}} {
			if k.set {
				return c, missingf("hello", "-%s without -hello: add -hello SECONDS (the keepalive interval, e.g. -hello 10), or drop -%s", k.name, k.name)
			}
		}
		return ControlConfig{}, nil
	}
	for _, k := range []struct {
		name, other string
		n           *number
	}{{"rxtunnel", "txtunnel", &o.RxTunnel}, {"txtunnel", "rxtunnel", &o.TxTunnel}} {
		if !k.n.set {
			return c, missingf(k.name, "-hello needs -%s: the control connection IDs of both ends (our -rxtunnel is the peer's -txtunnel), e.g. -rxtunnel 1 -txtunnel 2", k.name)
		}
		if k.n.val == 0 {
			return c, badf(k.name, "-%s 0: control connection ID 0 means none; use 1 to 4294967295 (our -%s is the peer's -%s)", k.name, k.name, k.other)
		}
	}
	c.LocalID, c.PeerID = uint32(o.RxTunnel.val), uint32(o.TxTunnel.val)
	c.Hello = time.Duration(o.Hello.val) * time.Second
	c.Retries = control.DefaultHelloRetries
	if o.Retries.set {
		if o.Retries.val == 0 {
			return c, badf("hello-retries", "-hello-retries 0: use 1 to %d, the unacknowledged HELLO transmissions that make the peer down (default %d)", maxHelloRetries, control.DefaultHelloRetries)
		}
		c.Retries = int(o.Retries.val)
	}
	return c, nil
}

// tunnelControl is a tunnel's running keepalive.
type tunnelControl struct {
	keepalive *control.Keepalive
	started   bool
}

// addControl gives tunnel t, new, the keepalive tc asks for, if any: the
// engine hands it the peer's control messages from now on, and it starts
// with the tunnel's first sessions (startControls).
func (p *process) addControl(tc *TunnelConfig, t *engine.Tunnel) {
	c := tc.Control
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
		Peer: tc.Endpoint.peerName(),
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
