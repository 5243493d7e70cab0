//go:build !linux

package config

import (
	"fmt"
	"runtime"
)

// Off Linux, l2tap is the portable data path: water's TAP and a UDP
// socket from Go's net package. What needs Linux (raw IP encapsulation,
// /dev/net/tun and its offloads and queues, netlink, capabilities,
// seccomp, SCHED_BATCH) is refused at startup by the option that asks for
// it, naming the system.

const defaultTAPDriver = DriverWater

// waterHint ends the errors of options the water driver lacks.
var waterHint = fmt.Sprintf(" (on %s water is the only TAP driver)", runtime.GOOS)

// checkSystem refuses the process options this system lacks.
func (o *Options) checkSystem() error {
	switch {
	case o.User.Given:
		return badf("user", "-user %s: dropping to another user and every capability after setup needs Linux (libcap); not on %s: start l2tap as the user it should run as", o.User.Val, runtime.GOOS)
	case o.Seccomp.Given && o.Seccomp.Val:
		return badf("seccomp", "-seccomp: the system call filter needs Linux; not on %s: leave -seccomp out", runtime.GOOS)
	case o.IPPath.Val == "packet":
		return badf("ip-path", "-ip-path packet: AF_PACKET sockets need Linux; not on %s: leave -ip-path out", runtime.GOOS)
	case o.Sched.Given && o.Sched.Val == "batch":
		return badf("sched", "-sched batch: SCHED_BATCH needs Linux; not on %s: leave -sched out", runtime.GOOS)
	}
	return nil
}

// checkSystemSession refuses the session options this system lacks.
func (o *Options) checkSystemSession() error {
	switch {
	case o.TAPDriver.Val == DriverKernel:
		return badf("tap-driver", "-tap-driver kernel: the /dev/net/tun driver needs Linux; on %s the TAP is water's: leave -tap-driver out", runtime.GOOS)
	case !o.UDP.Val:
		return missingf("udp", "IP encapsulation (no -udp): on %s l2tap carries UDP encapsulation only (a portable UDP socket): add -udp, on the peer too", runtime.GOOS)
	case o.MTU.Given:
		return badf("mtu", "-mtu %d: on %s l2tap does not configure the TAP (no netlink): leave -mtu out and set the MTU with the system's tools", o.MTU.Val, runtime.GOOS)
	case o.MAC.Given:
		return badf("mac", "-mac %s: on %s l2tap does not configure the TAP (no netlink): leave -mac out and set the MAC with the system's tools", o.MAC.Val, runtime.GOOS)
	case o.Master.Given:
		return badf("master", "-master %s: on %s l2tap does not configure the TAP (no netlink): leave -master out and bridge the TAP with the system's tools", o.Master.Val, runtime.GOOS)
	case o.VhostUser.Given:
		return badf("vhost-user", "-vhost-user %s: the vhost-user backend needs Linux (shared memory descriptors, eventfds); not on %s: use a TAP (-ifname)", o.VhostUser.Val, runtime.GOOS)
	case !o.IfName.Given && runtime.GOOS != "windows":
		return missingf("ifname", "-ifname: on %s give the TAP's device name, tapN (e.g. -ifname tap0)", runtime.GOOS)
	}
	return nil
}
