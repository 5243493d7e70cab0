//go:build !linux

package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"

	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/underlay"
	"github.com/l2tap/l2tap/internal/watertap"
)

// Off Linux, l2tap is the portable data path: water's TAP and a UDP
// socket from Go's net package. What needs Linux (raw IP encapsulation,
// /dev/net/tun and its offloads and queues, netlink, capabilities,
// seccomp, SCHED_BATCH) is refused at startup by the option that asks for
// it, naming the system.

const defaultTAPDriver = driverWater

// waterHint ends the errors of options the water driver lacks.
var waterHint = fmt.Sprintf(" (on %s water is the only TAP driver)", runtime.GOOS)

// checkSystem refuses the process options this system lacks.
func (o *Options) checkSystem() error {
	switch {
	case o.User.set:
		return badf("user", "-user %s: dropping to another user and every capability after setup needs Linux (libcap); not on %s: start l2tap as the user it should run as", o.User.val, runtime.GOOS)
	case o.Seccomp.set && o.Seccomp.val:
		return badf("seccomp", "-seccomp: the system call filter needs Linux; not on %s: leave -seccomp out", runtime.GOOS)
	case o.IPPath.val == "packet":
		return badf("ip-path", "-ip-path packet: AF_PACKET sockets need Linux; not on %s: leave -ip-path out", runtime.GOOS)
	case o.Sched.set && o.Sched.val == "batch":
		return badf("sched", "-sched batch: SCHED_BATCH needs Linux; not on %s: leave -sched out", runtime.GOOS)
	}
	return nil
}

// checkSystemSession refuses the session options this system lacks.
func (o *Options) checkSystemSession() error {
	switch {
	case o.TAPDriver.val == driverKernel:
		return badf("tap-driver", "-tap-driver kernel: the /dev/net/tun driver needs Linux; on %s the TAP is water's: leave -tap-driver out", runtime.GOOS)
	case !o.UDP.val:
		return missingf("udp", "IP encapsulation (no -udp): on %s l2tap carries UDP encapsulation only (a portable UDP socket): add -udp, on the peer too", runtime.GOOS)
	case o.MTU.set:
		return badf("mtu", "-mtu %d: on %s l2tap does not configure the TAP (no netlink): leave -mtu out and set the MTU with the system's tools", o.MTU.val, runtime.GOOS)
	case o.MAC.set:
		return badf("mac", "-mac %s: on %s l2tap does not configure the TAP (no netlink): leave -mac out and set the MAC with the system's tools", o.MAC.val, runtime.GOOS)
	case o.Master.set:
		return badf("master", "-master %s: on %s l2tap does not configure the TAP (no netlink): leave -master out and bridge the TAP with the system's tools", o.Master.val, runtime.GOOS)
	case !o.IfName.set && runtime.GOOS != "windows":
		return missingf("ifname", "-ifname: on %s give the TAP's device name, tapN (e.g. -ifname tap0)", runtime.GOOS)
	}
	return nil
}

// openDevice opens a session's TAP through water. l2tap sets nothing on
// it: its MTU, addresses and up state are the system tools' job. An MTU
// above the one that fits the path (c.MTU) is logged.
func openDevice(_ *SessionConfig, c TAPConfig) (device, error) {
	name := c.Name
	if strings.Contains(name, "%") {
		name = "" // Windows: the first adapter of the driver
	}
	d, err := watertap.Open(watertap.Config{Name: name})
	if err != nil {
		return nil, usageError{fmt.Errorf("-ifname %s: %w", c.Name, err)}
	}
	mtu := 0
	if ifi, err := net.InterfaceByName(d.Name()); err == nil {
		mtu = ifi.MTU
	}
	if mtu > c.MTU {
		slog.Warn(fmt.Sprintf("TAP %s has MTU %d; frames above %d are fragmented on the underlay: set its MTU to %d", d.Name(), mtu, c.MTU, c.MTU), "tap", d.Name())
	}
	return waterEndpoint{d, mtu}, nil
}

// openSocket opens the portable UDP socket for a tunnel; offload is
// ignored.
func openSocket(e Endpoint, _, _ bool) (engine.Underlay, error) {
	c, err := underlay.OpenConn(underlay.Config{UDP: e.UDP, Local: e.Local, Port: e.LocalPort})
	if err != nil {
		return nil, fmt.Errorf("open tunnel socket on %s (check -src and -srcport): %w", underlay.AddrPortString(e.Local, e.LocalPort, true), err)
	}
	return connUnderlay{c}, nil
}

// PathMTU returns the MTU of the interface holding the local address
// that reaches dst: without netlink the route's own MTU is not known.
func PathMTU(dst netip.Addr) (int, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return 0, usagef("-dst %s: no route to it (%v); check the underlay addresses and routes", dst, err)
	}
	local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	c.Close()
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == local {
				return ifi.MTU, nil
			}
		}
	}
	return 0, fmt.Errorf("route to %s: no interface holds %s", dst, local)
}

// endpointDeleted reports the error of a TAP deleted under l2tap: water
// gives no distinct one here.
func endpointDeleted(error) bool { return false }

// lockDown has nothing to do: privileges, capabilities and seccomp are
// Linux's (and their options are refused by checkSystem).
func lockDown(*Config, []device, helper) error { return nil }

// startPrivHelper starts no helper: nothing is dropped that a reload or an
// attached TAP's restore would need.
func startPrivHelper(*Config, Opener) (helper, error) { return nil, nil }

// helperMode is never on here.
func helperMode(*Config, Opener) (bool, error) { return false, nil }

// chooseUser has nothing to choose: -user is refused here (checkSystem).
func chooseUser(*Config) {}

// openCircuitTAP refuses dynamic tunnels here: a circuit's carrier follows
// its session through Linux's TAP driver.
func openCircuitTAP(c TAPConfig) (circuitTAP, error) {
	return nil, usagef("-circuit: dynamic tunnels need Linux's TAP driver, not %s's; use a static session (-txsession)", runtime.GOOS)
}
