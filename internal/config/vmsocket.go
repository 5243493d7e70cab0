package config

import (
	"github.com/l2tap/l2tap/internal/status"
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
	if !o.Socket.Given {
		if o.SocketType.Given {
			return c, missingf("socket", "-socket-type %s without -socket: add -socket PATH, the unix socket QEMU connects to", o.SocketType.Val)
		}
		return c, nil
	}
	if err := checkSocketPath("socket", o.Socket.Val, "give the path of the unix socket to listen on (e.g. -socket /run/l2tap/vm0.sock)"); err != nil {
		return c, err
	}
	c.Path = o.Socket.Val
	switch o.SocketType.Val {
	case "", "stream":
	case "dgram":
		c.Type = vmsocket.Dgram
	default:
		return c, badf("socket-type", "-socket-type %q: want stream (QEMU -netdev stream) or dgram (QEMU -netdev dgram)", o.SocketType.Val)
	}
	return c, o.refuseTAPFlags("socket", c.Path, "the socket")
}

// checkSocketPath checks the unix socket path flag gives: not empty (fix
// says what to give instead) and short enough for a socket address
// (status.MaxSocketPath bytes).
func checkSocketPath(flag, path, fix string) error {
	if path == "" {
		return badf(flag, "-%s \"\": %s", flag, fix)
	}
	if len(path) > status.MaxSocketPath {
		return badf(flag, "-%s %q: a unix socket path has at most %d bytes; choose a shorter one", flag, path, status.MaxSocketPath)
	}
	return nil
}

// refuseTAPFlags refuses the TAP's flags (tapOnlyFlags) beside -flag path,
// a session endpoint that is no TAP: endpoint names it in the error.
func (o *Options) refuseTAPFlags(flag, path, endpoint string) error {
	values := flagValues(o)
	for _, name := range tapOnlyFlags {
		if values[name].given() {
			return badf(name, "-%s %s with -%s %s: -%s is for a TAP, and this session's endpoint is %s; drop one of them", name, values[name], flag, path, name, endpoint)
		}
	}
	return nil
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
