package daemon

import (
	"strings"

	"github.com/l2tap/l2tap/internal/engine"
)

// counterScope is which of the optional counters apply to a tunnel and its
// sessions. The counters lines (SIGUSR1, exit), their JSON and l2tap show
// list only those, so that a static session without -hello prints no
// control_* line: the control channel's counters (control_*) apply to a
// tunnel with a keepalive (-hello) or a dynamic one, the dynamic tunnel's
// own (dynCounterNames) to a dynamic tunnel, the VM socket drops
// (socket_*) to a session on a VM socket, never to a tunnel, the vhost-user
// backend's (vhost_*) to a session on one; pcap_dropped comes only from
// sessions that capture (engine.Session.Counters). The metrics keep every
// counter, zero where it does not apply (see process.snapshot).
type counterScope struct {
	control bool // a control channel: a keepalive or a dynamic tunnel
	dynamic bool // a dynamic tunnel (-circuit)
}

// scopeOf returns what applies to tunnel t; p.mu is held.
func (p *process) scopeOf(t *engine.Tunnel) counterScope {
	dyn := p.dynFor(t) != nil
	return counterScope{control: dyn || p.controls[t] != nil, dynamic: dyn}
}

// applies reports whether the tunnel counter name applies in scope sc.
// The VM socket drops never do: they are a session's.
func (sc counterScope) applies(name string) bool {
	switch {
	case strings.HasPrefix(name, "socket_"):
		return false
	case isDynCounter(name):
		return sc.dynamic
	case strings.HasPrefix(name, "control_"):
		return sc.control
	}
	return true
}

func isDynCounter(name string) bool {
	for _, n := range dynCounterNames {
		if n == name {
			return true
		}
	}
	return false
}

// tunnelCounters returns tunnel t's own counters and its control
// channel's: with all every one (zero where it does not apply), else only
// those that apply (see counterScope); p.mu is held.
func (p *process) tunnelCounters(t *engine.Tunnel, all bool) []engine.Counter {
	c := append(t.Stats.Counters(), p.controlCounters(t)...)
	if all {
		return c
	}
	sc := p.scopeOf(t)
	out := c[:0]
	for _, x := range c {
		if sc.applies(x.Name) {
			out = append(out, x)
		}
	}
	return out
}

// sessionCountersOf returns session s's counters: with all every one, else
// without the VM socket drops (socket_*) unless s runs on a VM socket, and
// without the vhost-user counters (vhost_*) unless s runs on a vhost-user
// backend.
func sessionCountersOf(s *engine.Session, all bool) []engine.Counter {
	c := s.Counters()
	ep := s.Endpoint()
	if v, ok := ep.(vhostUser); ok {
		c = append(c, v.VhostCounters()...)
	} else if all {
		for _, name := range vhostCounterNames {
			c = append(c, engine.Counter{Name: name})
		}
	}
	if _, ok := ep.(vmSocket); all || ok {
		return c
	}
	out := c[:0]
	for _, x := range c {
		if !strings.HasPrefix(x.Name, "socket_") {
			out = append(out, x)
		}
	}
	return out
}

// vhostUser is an endpoint that is a vhost-user backend: its counters
// are vhostCounterNames, in that order.
type vhostUser interface {
	VhostCounters() []engine.Counter
}

// vhostCounterNames are a vhost-user backend's counters (see
// CounterDocs), printed for sessions on one only.
var vhostCounterNames = []string{"vhost_frontends", "vhost_frontends_refused", "vhost_frontend_errors", "vhost_no_buffers", "vhost_no_frontend"}
