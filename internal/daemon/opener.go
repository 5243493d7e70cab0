package daemon

import (
	"net/netip"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
)

// Opener opens what tunnels and sessions run on, for the system l2tap
// runs on: main hands Run one. Each error explains itself in terms of the
// options that asked for what failed.
type Opener interface {
	// Socket opens the underlay socket of the tunnels whose ends share
	// e's socketKey; offload asks for the kernel's segmentation offloads,
	// packet for the packet path of IP encapsulation over IPv4.
	Socket(e config.TunnelEnds, offload, packet bool) (engine.Underlay, error)
	// TAP opens a static session's TAP, configured as c, with the driver
	// sc names.
	TAP(sc *config.SessionConfig, c config.TAPConfig) (Device, error)
	// VMSocket makes session sc's VM socket; mtu is the MTU the VM should
	// give its NIC.
	VMSocket(sc *config.SessionConfig, mtu int) (Device, error)
	// VhostUser makes session sc's vhost-user backend, listening on its
	// socket or connecting to the frontend's; mtu is the MTU the guest
	// should give its NIC.
	VhostUser(sc *config.SessionConfig, mtu int) (Device, error)
	// CircuitTAP creates a dynamic circuit's TAP, whose carrier follows
	// the negotiated session.
	CircuitTAP(c config.TAPConfig) (CircuitTAP, error)
	// PathMTU returns the MTU of the path to dst.
	PathMTU(dst netip.Addr) (int, error)
	// Deleted reports whether err, the error a session's endpoint failed
	// with, means it was deleted under l2tap (a TAP removed with ip link).
	Deleted(err error) bool
}

// Device is a session's endpoint as the process handles it: the engine's
// Endpoint, and the MTU its interface was given.
type Device interface {
	engine.Endpoint
	MTU() int
}

// vmSocket is an endpoint that is a VM's socket rather than a TAP: logged
// under "socket", with the line that tells how to plug a VM into it.
type vmSocket interface {
	QEMUHint() string
}

// restorable is an endpoint that gives an attached TAP its state back
// when closed (see tap.Device.WrapRestore).
type restorable interface {
	WrapRestore(wrap func(restore func()) func()) bool
}

// CircuitTAP is a dynamic circuit's TAP, kept while sessions come and go:
// its reads paused while no session runs, its carrier on only while one
// does (only Linux's TAP driver has such a carrier).
type CircuitTAP interface {
	Device
	PauseReads()
	ResumeReads()
	SetCarrier(on bool) error
}
