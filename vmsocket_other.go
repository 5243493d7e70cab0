//go:build !linux

package main

import "runtime"

// openVMSocket refuses -socket on this system: the socket endpoint needs
// Linux (recvmmsg, sendmmsg, SO_PEERCRED).
func openVMSocket(sc *SessionConfig, _ int) (device, error) {
	return nil, usagef("-socket %s: VM sockets need Linux, not %s; use a TAP (-ifname)", sc.Socket.Path, runtime.GOOS)
}
