package main

import (
	"log/slog"

	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/vmsocket"
)

// SocketConfig is a session's -socket and -socket-type: a unix socket a
// VM's QEMU plugs into, the session's endpoint instead of a TAP. Its file
// takes -owner and -group (see internal/vmsocket).
type SocketConfig struct {
	Path string
	Type vmsocket.Type
}

// tapOnlyFlags are the session flags that describe a TAP, refused with
// -socket.
var tapOnlyFlags = []string{"ifname", "attach", "master", "mtu", "queues", "offload"}

// socketConfig checks -socket and -socket-type against the session's other
// options.
func (o *Options) socketConfig() (SocketConfig, error) {
	var c SocketConfig
	if !o.Socket.set {
		if o.SocketType.set {
			return c, missingf("socket", "-socket-type %s without -socket: add -socket PATH, the unix socket QEMU connects to", o.SocketType.val)
		}
		return c, nil
	}
	if o.Socket.val == "" {
		return c, badf("socket", "-socket \"\": give the path of the unix socket to listen on (e.g. -socket /run/l2tap/vm0.sock)")
	}
	if len(o.Socket.val) > 107 {
		return c, badf("socket", "-socket %q: a unix socket path has at most 107 bytes; choose a shorter one", o.Socket.val)
	}
	c.Path = o.Socket.val
	switch o.SocketType.val {
	case "", "stream":
	case "dgram":
		c.Type = vmsocket.Dgram
	default:
		return c, badf("socket-type", "-socket-type %q: want stream (QEMU -netdev stream) or dgram (QEMU -netdev dgram)", o.SocketType.val)
	}
	values := flagValues(o)
	for _, name := range tapOnlyFlags {
		if isSet(values[name]) {
			return c, badf(name, "-%s %s with -socket %s: -%s is for a TAP, and this session's endpoint is the socket; drop one of them", name, values[name], c.Path, name)
		}
	}
	return c, nil
}

// closeEndpoint closes the session's TAP or socket (removing its file).
func (l *live) closeEndpoint() {
	if _, ok := l.dev.(vmSocket); ok {
		if err := l.dev.Close(); err != nil {
			slog.Warn(err.Error(), "socket", l.dev.Name())
		}
		return
	}
	l.dev.Close()
}

// endpointKey is the log key naming the session's endpoint: tap or socket.
func (l *live) endpointKey() string {
	if _, ok := l.dev.(vmSocket); ok {
		return "socket"
	}
	return "tap"
}

// endpointInfo returns the name and MTU of an engine's endpoint.
func endpointInfo(ep engine.Endpoint) (string, int) {
	if d, ok := ep.(device); ok {
		return d.Name(), d.MTU()
	}
	return ep.Name(), 0
}

// usesSockets reports whether any session's endpoint is a socket, which
// the seccomp filter must then let accept, probe and remove.
func (c *Config) usesSockets() bool {
	for _, t := range c.Tunnels {
		for _, s := range t.Sessions {
			if s.Socket.Path != "" {
				return true
			}
		}
	}
	return false
}
