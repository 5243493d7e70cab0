package config

import "github.com/l2tap/l2tap/internal/tap"

// TAPConfig is a session's TAP as the options describe it (see tap.Config).
type TAPConfig = tap.Config

// maxQueues bounds -queues, as the kernel's MAX_TAP_QUEUES does.
const maxQueues = tap.MaxQueues

// The values of -tap-driver: which code opens and drives a session's TAP.
const (
	// DriverKernel is internal/tap: /dev/net/tun ioctls, virtio-net
	// headers, offloads, queues (Linux only).
	DriverKernel = "kernel"
	// DriverWater is internal/watertap: songgao/water, one frame per
	// system call (every system; the only one off Linux).
	DriverWater = "water"
)

// tapDriver checks -tap-driver ("" is the system's default), and the
// session options the water driver has no way to honour, on any system.
func (o *Options) tapDriver() (string, error) {
	d := o.TAPDriver.Val
	switch d {
	case "", DriverKernel, DriverWater:
	default:
		return "", badf("tap-driver", "-tap-driver %q: want kernel (Linux's /dev/net/tun with offloads and queues) or water (the portable TAP, one frame per system call)", d)
	}
	if d != DriverWater && (d != "" || defaultTAPDriver != DriverWater) {
		return d, nil
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"queues", o.Queues.Given && o.Queues.Val > 1}, {"attach", o.Attach.Val}, {"owner", o.Owner.Given}, {"group", o.Group.Given},
		{"offload", o.Offload.Val == "full"}} {
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
