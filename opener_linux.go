//go:build linux

package main

import (
	"os"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/tap"
)

// hostOpener is what the privileged helper and the data path open with.
var _ daemon.HelperOpener = hostOpener{}

// AdoptSocket makes a tunnel's socket of f, one the privileged helper
// opened (see adoptSocket).
func (hostOpener) AdoptSocket(e config.TunnelEnds, offload bool, f *os.File) (engine.Underlay, error) {
	return adoptSocket(e, offload, f)
}

// AdoptTAP makes a session's TAP of the queues the privileged helper
// opened (see adoptTAP).
func (hostOpener) AdoptTAP(c config.TAPConfig, facts tap.Facts, files []*os.File, restore func()) (daemon.Device, error) {
	return adoptTAP(c, facts, files, restore)
}

// AdoptVMSocket makes a session's VM socket of f, one the privileged
// helper bound (see adoptVMSocket).
func (hostOpener) AdoptVMSocket(sc *config.SessionConfig, mtu int, f *os.File) (daemon.Device, error) {
	return adoptVMSocket(sc, mtu, f)
}

// BindVMSocket makes a session's socket file for the privileged helper to
// send (see bindVMSocket).
func (hostOpener) BindVMSocket(sc *config.SessionConfig) (*os.File, error) { return bindVMSocket(sc) }

// AdoptVhostUser makes a session's vhost-user backend of f, the socket
// the privileged helper bound (nil: a client; see adoptVhostUser).
func (hostOpener) AdoptVhostUser(sc *config.SessionConfig, mtu int, f *os.File) (daemon.Device, error) {
	return adoptVhostUser(sc, mtu, f)
}

// BindVhostUser makes a session's vhost-user socket file for the
// privileged helper to send (see bindVhostUser).
func (hostOpener) BindVhostUser(sc *config.SessionConfig) (*os.File, error) { return bindVhostUser(sc) }
