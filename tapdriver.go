package main

import (
	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/watertap"
)

// device is a session's endpoint as the process handles it: the engine's
// Endpoint, and the MTU its interface was given.
type device interface {
	engine.Endpoint
	MTU() int
}

// waterEndpoint is a watertap.Device as the process sees it.
type waterEndpoint struct {
	*watertap.Device
	mtu int
}

func (w waterEndpoint) MTU() int { return w.mtu }

// TAP opens a static session's TAP with its driver (see openDevice).
func (hostOpener) TAP(sc *config.SessionConfig, c config.TAPConfig) (device, error) {
	return openDevice(sc, c)
}

// VMSocket makes a session's VM socket (see openVMSocket).
func (hostOpener) VMSocket(sc *config.SessionConfig, mtu int) (device, error) {
	return openVMSocket(sc, mtu)
}

// CircuitTAP creates a dynamic circuit's TAP (see openCircuitTAP).
func (hostOpener) CircuitTAP(c config.TAPConfig) (circuitTAP, error) { return openCircuitTAP(c) }

// Deleted reports the error of a TAP deleted under l2tap (see
// endpointDeleted).
func (hostOpener) Deleted(err error) bool { return endpointDeleted(err) }
