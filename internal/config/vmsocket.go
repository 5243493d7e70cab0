package config

import "github.com/l2tap/l2tap/internal/vmsocket"

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
	if !o.Socket.Given {
		if o.SocketType.Given {
			return c, missingf("socket", "-socket-type %s without -socket: add -socket PATH, the unix socket QEMU connects to", o.SocketType.Val)
		}
		return c, nil
	}
	if o.Socket.Val == "" {
		return c, badf("socket", "-socket \"\": give the path of the unix socket to listen on (e.g. -socket /run/l2tap/vm0.sock)")
	}
	if len(o.Socket.Val) > 107 {
		return c, badf("socket", "-socket %q: a unix socket path has at most 107 bytes; choose a shorter one", o.Socket.Val)
	}
	c.Path = o.Socket.Val
	switch o.SocketType.Val {
	case "", "stream":
	case "dgram":
		c.Type = vmsocket.Dgram
	default:
		return c, badf("socket-type", "-socket-type %q: want stream (QEMU -netdev stream) or dgram (QEMU -netdev dgram)", o.SocketType.Val)
	}
	values := flagValues(o)
	for _, name := range tapOnlyFlags {
		if values[name].given() {
			return c, badf(name, "-%s %s with -socket %s: -%s is for a TAP, and this session's endpoint is the socket; drop one of them", name, values[name], c.Path, name)
		}
	}
	return c, nil
}

// UsesSockets reports whether any session's endpoint is a socket (a VM
// socket or a vhost-user one), which the seccomp filter must then let
// accept, probe and remove.
func (c *Config) UsesSockets() bool {
	for _, t := range c.Tunnels {
		for _, s := range t.Sessions {
			if s.Socket.Path != "" || s.VhostUser.Path != "" {
				return true
			}
		}
	}
	return false
}
