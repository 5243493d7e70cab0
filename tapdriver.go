package main

import (
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/tap"
	"github.com/l2tap/l2tap/internal/watertap"
)

// TAPConfig is a session's TAP as the options describe it (see tap.Config).
type TAPConfig = tap.Config

// maxQueues bounds -queues, as the kernel's MAX_TAP_QUEUES does.
const maxQueues = tap.MaxQueues

// The values of -tap-driver: which code opens and drives a session's TAP.
const (
	// driverKernel is internal/tap: /dev/net/tun ioctls, virtio-net
	// headers, offloads, queues (Linux only).
	driverKernel = "kernel"
	// driverWater is internal/watertap: songgao/water, one frame per
	// system call (every system; the only one off Linux).
	driverWater = "water"
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

// tapDriver checks -tap-driver ("" is the system's default), and the
// session options the water driver has no way to honour, on any system.
func (o *Options) tapDriver() (string, error) {
	d := o.TAPDriver.val
	switch d {
	case "", driverKernel, driverWater:
	default:
		return "", badf("tap-driver", "-tap-driver %q: want kernel (Linux's /dev/net/tun with offloads and queues) or water (the portable TAP, one frame per system call)", d)
	}
	if d != driverWater && (d != "" || defaultTAPDriver != driverWater) {
		return d, nil
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"queues", o.Queues.set && o.Queues.val > 1}, {"attach", o.Attach.val}, {"owner", o.Owner.set}, {"group", o.Group.set},
		{"offload", o.Offload.val == "full"}} {
		if f.set {
			return "", badf(f.name, "-%s with -tap-driver water: water has no %s; leave -%s out%s",
				f.name, waterLacks[f.name], f.name, waterHint)
		}
	}
	return d, nil
}

// waterLacks says what the water driver lacks that each option needs.
var waterLacks = map[string]string{
	"queues":  "multi-queue TAP (one queue, one frame per read)",
	"attach":  "attaching to an existing TAP",
	"owner":   "TAP owner setting",
	"group":   "TAP group setting",
	"offload": "offloads (no virtio-net header: -offload full cannot coalesce)",
}

// TAP opens a static session's TAP with its driver (see openDevice).
func (hostOpener) TAP(sc *SessionConfig, c TAPConfig) (device, error) { return openDevice(sc, c) }

// VMSocket makes a session's VM socket (see openVMSocket).
func (hostOpener) VMSocket(sc *SessionConfig, mtu int) (device, error) {
	return openVMSocket(sc, mtu)
}

// CircuitTAP creates a dynamic circuit's TAP (see openCircuitTAP).
func (hostOpener) CircuitTAP(c TAPConfig) (circuitTAP, error) { return openCircuitTAP(c) }

// Deleted reports the error of a TAP deleted under l2tap (see
// endpointDeleted).
func (hostOpener) Deleted(err error) bool { return endpointDeleted(err) }
