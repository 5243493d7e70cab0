package config

// VhostUserConfig is a session's -vhost-user and -vhost-user-mode: a
// vhost-user backend on a unix socket, the session's endpoint instead of
// a TAP. A server's socket file takes -owner and -group as -socket's does.
type VhostUserConfig struct {
	Path string
	// Client: l2tap connects to Path (where the frontend listens) and
	// connects again whenever the frontend goes; else it listens on Path.
	Client bool
}

// vhostUserConfig checks -vhost-user and -vhost-user-mode against the
// session's other options.
func (o *Options) vhostUserConfig() (VhostUserConfig, error) {
	var c VhostUserConfig
	if !o.VhostUser.Given {
		if o.VhostUserMode.Given {
			return c, missingf("vhost-user", "-vhost-user-mode %s without -vhost-user: add -vhost-user PATH, the unix socket of the vhost-user frontend", o.VhostUserMode.Val)
		}
		return c, nil
	}
	if err := checkSocketPath("vhost-user", o.VhostUser.Val, "give the path of the vhost-user unix socket (e.g. -vhost-user /run/l2tap/vm0.vhost)"); err != nil {
		return c, err
	}
	c.Path = o.VhostUser.Val
	switch o.VhostUserMode.Val {
	case "", "server":
	case "client":
		c.Client = true
	default:
		return c, badf("vhost-user-mode", "-vhost-user-mode %q: want server (l2tap listens on the socket) or client (l2tap connects to the frontend's socket)", o.VhostUserMode.Val)
	}
	if o.Socket.Given {
		return c, badf("socket", "-socket %s with -vhost-user %s: a session has one endpoint; drop one of them", o.Socket.Val, c.Path)
	}
	if err := o.refuseTAPFlags("vhost-user", c.Path, "the vhost-user socket"); err != nil {
		return c, err
	}
	if c.Client {
		values := flagValues(o)
		for _, name := range []string{"owner", "group"} {
			if values[name].given() {
				return c, badf(name, "-%s %s with -vhost-user-mode client: l2tap makes no socket file to give an owner (the frontend's socket is its own); drop -%s", name, values[name], name)
			}
		}
	}
	return c, nil
}

// UsesVhostUserClient reports whether any session is a vhost-user client,
// which the seccomp filter must then let make unix sockets and connect.
func (c *Config) UsesVhostUserClient() bool {
	for _, t := range c.Tunnels {
		for _, s := range t.Sessions {
			if s.VhostUser.Client {
				return true
			}
		}
	}
	return false
}
