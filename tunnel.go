//go:build linux

package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/underlay"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// openSocket opens the socket for a tunnel, explaining errors in terms of
// its options; packet asks for the packet path of IP encapsulation over
// IPv4 (-ip-path packet).
func openSocket(e config.TunnelEnds, offload, packet bool) (engine.Underlay, error) {
	s, err := underlay.Open(underlay.Config{UDP: e.UDP, Local: e.Local, Port: e.LocalPort, Offload: offload, PacketPath: packet})
	if err != nil {
		return nil, explainTunnelError(e, err)
	}
	return &socketUnderlay{s}, nil
}

// adoptSocket makes a tunnel's socket of f, one the privileged helper
// opened.
func adoptSocket(e config.TunnelEnds, offload bool, f *os.File) (engine.Underlay, error) {
	s, err := underlay.FromFile(underlay.Config{UDP: e.UDP, Local: e.Local, Port: e.LocalPort, Offload: offload}, f)
	if err != nil {
		return nil, explainTunnelError(e, err)
	}
	return &socketUnderlay{s}, nil
}

// socketUnderlay is an underlay.Socket as the engine sees it.
type socketUnderlay struct{ *underlay.Socket }

func (s *socketUnderlay) NewSender(peer netip.AddrPort, maxPkts int, fail func([]byte, syscall.Errno), noGSO func(syscall.Errno)) engine.Sender {
	if s.Socket.PacketPath() {
		return s.Socket.NewPacketSender(peer, maxPkts, fail, noGSO)
	}
	return s.Socket.NewSender(peer, maxPkts, fail, noGSO)
}

// PathMTU returns the MTU of the route to dst: the route's own MTU if set,
// else the MTU of its outgoing interface.
func PathMTU(dst netip.Addr) (int, error) {
	routes, err := netlink.RouteGet(dst.AsSlice())
	if err != nil || len(routes) == 0 {
		return 0, config.Usagef("-dst %s: no route to it (%v); check the underlay addresses and routes", dst, err)
	}
	r := routes[0]
	if r.MTU > 0 {
		return r.MTU, nil
	}
	link, err := netlink.LinkByIndex(r.LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("route to %s: interface %d: %w", dst, r.LinkIndex, err)
	}
	return link.Attrs().MTU, nil
}

// explainTunnelError turns socket errors into advice naming the flag to change.
func explainTunnelError(ep config.TunnelEnds, err error) error {
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return config.Usagef("-srcport %d: %s is already in use by another program; pick another -srcport or stop that program",
			ep.LocalPort, underlay.AddrPortString(ep.Local, ep.LocalPort, true))
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return config.Usagef("-src %s: no interface on this host has that address; give a local address", ep.Local)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if !ep.UDP {
			return config.Usagef("IP encapsulation needs a raw socket: run as root or grant CAP_NET_RAW (or use -udp)")
		}
		return config.Usagef("-srcport %d: ports below 1024 need CAP_NET_BIND_SERVICE; run as root or pick a port above 1023", ep.LocalPort)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		return config.Usagef("-ipv6: this host has no IPv6; drop -ipv6 and use IPv4 addresses")
	}
	return fmt.Errorf("open tunnel socket: %w", err)
}
