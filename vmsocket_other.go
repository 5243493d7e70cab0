//go:build !linux

package main

import (
	"runtime"

	"github.com/l2tap/l2tap/internal/config"
)

// vmEndpoint would be a session's -socket; the socket endpoint needs
// Linux (recvmmsg, sendmmsg, SO_PEERCRED).
type vmEndpoint struct{ device }

// openVMSocket refuses -socket on this system.
func openVMSocket(sc *config.SessionConfig, _ int) (*vmEndpoint, error) {
	return nil, config.Usagef("-socket %s: VM sockets need Linux, not %s; use a TAP (-ifname)", sc.Socket.Path, runtime.GOOS)
}

// qemuHint is never asked for, as no socket opens here.
func (v *vmEndpoint) qemuHint() string { return "" }
