package config

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/l2tap/l2tap/internal/status"
)

// DefaultStatusSocketDir holds the default status sockets (-control);
// `l2tap show` without -socket queries every socket in it and in its uid-*
// directories. Where the socket goes is internal/status's.
const DefaultStatusSocketDir = status.DefaultDir

// ObserveOptions are -control (the status socket) and -metrics as given.
type ObserveOptions struct {
	StatusSocket, Metrics StringValue
}

// ObserveConfig says which observers run.
type ObserveConfig struct {
	// StatusSocket is the status socket's path (-control); empty means
	// the default, made from the first TAP's name once it is known.
	StatusSocket string
	// StatusSocketGiven says -control was given: failing to make it is an
	// error.
	StatusSocketGiven bool
	// StatusSocketOff disables the status socket (-control off).
	StatusSocketOff bool
	// Metrics is the HOST:PORT the metrics server listens on; empty is off.
	Metrics string
}

// config checks -control and -metrics.
func (o *ObserveOptions) config() (ObserveConfig, error) {
	var c ObserveConfig
	if o.StatusSocket.Given {
		c.StatusSocketGiven = true
		switch v := o.StatusSocket.Val; v {
		case "", "off":
			c.StatusSocketOff = true
		default:
			abs, err := filepath.Abs(v)
			if err != nil {
				return c, Usagef("-control %s: %v", v, err)
			}
			if len(abs) > status.MaxSocketPath {
				return c, Usagef("-control %s: a unix socket path has at most %d bytes; give a shorter path", v, status.MaxSocketPath)
			}
			c.StatusSocket = abs
		}
	}
	if o.Metrics.Given && o.Metrics.Val != "" && o.Metrics.Val != "off" {
		v := o.Metrics.Val
		host, port, err := net.SplitHostPort(v)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil || n == 0 || strings.ContainsAny(host, " /") {
			return c, Usagef("-metrics %q: want HOST:PORT with a port from 1 to 65535, such as 127.0.0.1:9723 or [::1]:9723", v)
		}
		c.Metrics = v
	}
	return c, nil
}

// StatusSocketOn reports whether a status socket is configured.
func (c ObserveConfig) StatusSocketOn() bool { return !c.StatusSocketOff }

// Serving reports whether anything listens, so that the seccomp filter
// allows accepting connections.
func (c ObserveConfig) Serving() bool { return c.StatusSocketOn() || c.Metrics != "" }
