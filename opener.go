package main

import (
	"net/netip"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/engine"
)

// hostOpener opens tunnels' sockets and sessions' endpoints on this
// system for the daemon (see daemon.Opener), with the functions of
// tunnel_*.go, tap.go, system_*.go, vmsocket_*.go and vhostuser_*.go; on Linux it also
// takes in what the privileged helper opened (opener_linux.go).
type hostOpener struct{}

// Socket opens a tunnel's socket (see openSocket).
func (hostOpener) Socket(e config.TunnelEnds, offload, packet bool) (engine.Underlay, error) {
	return openSocket(e, offload, packet)
}

// PathMTU returns the MTU of the path to dst (see PathMTU).
func (hostOpener) PathMTU(dst netip.Addr) (int, error) { return PathMTU(dst) }

// TAP opens a static session's TAP with its driver (see openDevice).
func (hostOpener) TAP(sc *config.SessionConfig, c config.TAPConfig) (daemon.Device, error) {
	return openDevice(sc, c)
}

// VMSocket makes a session's VM socket (see openVMSocket).
func (hostOpener) VMSocket(sc *config.SessionConfig, mtu int) (daemon.Device, error) {
	return openVMSocket(sc, mtu)
}

// VhostUser makes a session's vhost-user backend (see openVhostUser).
func (hostOpener) VhostUser(sc *config.SessionConfig, mtu int) (daemon.Device, error) {
	return openVhostUser(sc, mtu)
}

// CircuitTAP creates a dynamic circuit's TAP (see openCircuitTAP).
func (hostOpener) CircuitTAP(c config.TAPConfig) (daemon.CircuitTAP, error) { return openCircuitTAP(c) }

// Deleted reports the error of a TAP deleted under l2tap (see
// endpointDeleted).
func (hostOpener) Deleted(err error) bool { return endpointDeleted(err) }
