//go:build !linux

package main

import (
	"runtime"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
)

// openVMSocket refuses -socket on this system: the socket endpoint needs
// Linux (recvmmsg, sendmmsg, SO_PEERCRED).
func openVMSocket(sc *config.SessionConfig, _ int) (daemon.Device, error) {
	return nil, config.Usagef("-socket %s: VM sockets need Linux, not %s; use a TAP (-ifname)", sc.Socket.Path, runtime.GOOS)
}
