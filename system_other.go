//go:build !linux

package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/underlay"
	"github.com/l2tap/l2tap/internal/watertap"
)

// Off Linux, l2tap is the portable data path: water's TAP and a UDP
// socket from Go's net package; internal/config refuses the options that
// need Linux.

// openDevice opens a session's TAP through water. l2tap sets nothing on
// it: its MTU, addresses and up state are the system tools' job. An MTU
// above the one that fits the path (c.MTU) is logged.
func openDevice(_ *config.SessionConfig, c config.TAPConfig) (daemon.Device, error) {
	name := c.Name
	if strings.Contains(name, "%") {
		name = "" // Windows: the first adapter of the driver
	}
	d, err := watertap.Open(watertap.Config{Name: name})
	if err != nil {
		return nil, config.UsageError{Err: fmt.Errorf("-ifname %s: %w", c.Name, err)}
	}
	mtu := 0
	if ifi, err := net.InterfaceByName(d.Name()); err == nil {
		mtu = ifi.MTU
	}
	if mtu > c.MTU {
		slog.Warn("TAP MTU above the tunnel's: larger frames are fragmented on the underlay", "tap", d.Name(), "mtu", mtu, "want_mtu", c.MTU)
	}
	return waterEndpoint{d, mtu}, nil
}

// openSocket opens the portable UDP socket for a tunnel; offload is
// ignored.
func openSocket(e config.TunnelEnds, _, _ bool) (engine.Underlay, error) {
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
		return 0, config.Usagef("-dst %s: no route to it (%v); check the underlay addresses and routes", dst, err)
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

// openCircuitTAP refuses dynamic tunnels here: a circuit's carrier follows
// its session through Linux's TAP driver.
func openCircuitTAP(c config.TAPConfig) (daemon.CircuitTAP, error) {
	return nil, config.Usagef("-circuit: dynamic tunnels need Linux's TAP driver, not %s's; use a static session (-txsession)", runtime.GOOS)
}
