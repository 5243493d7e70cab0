//go:build !linux

package main

import (
	"runtime"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
)

// openVhostUser refuses -vhost-user on this system: the backend needs
// Linux (memfds, eventfds, SCM_RIGHTS); the configuration's check refuses
// it first (see internal/config/system_other.go).
func openVhostUser(sc *config.SessionConfig, _ int) (daemon.Device, error) {
	return nil, config.Usagef("-vhost-user %s: the vhost-user backend needs Linux, not %s; use a TAP (-ifname)", sc.VhostUser.Path, runtime.GOOS)
}
