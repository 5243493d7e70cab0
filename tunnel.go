package main

import (
	"fmt"
	"net/netip"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/offload"
)

// socketKey names the socket a tunnel needs: tunnels with the same key
// share one (for IP encapsulation, every tunnel on a local address).
type socketKey struct {
	udp   bool
	local netip.Addr
	port  uint16
}

// socketKeyOf is the socket tunnel ends e need.
func socketKeyOf(e config.TunnelEnds) socketKey {
	k := socketKey{udp: e.UDP, local: e.Local}
	if e.UDP {
		k.port = e.LocalPort
	}
	return k
}

// remoteOf is the peer's address and port as received packets show it.
func remoteOf(e config.TunnelEnds) netip.AddrPort {
	return netip.AddrPortFrom(e.Remote, e.RemotePort)
}

// AutoMTU returns the TAP MTU that lets a full frame cross the path to the
// peer, whose MTU is pmtu, unfragmented: the path MTU minus outer IP, UDP,
// L2TP and Ethernet headers, as Linux's l2tp_eth computes it.
func AutoMTU(pmtu int, ep config.TunnelEnds, h *Header) (int, error) {
	mtu := pmtu - ep.IPOverhead() - h.Len() - ethHeaderLen
	if max := offload.MaxFrame - ep.IPOverhead() - h.Len() - ethHeaderLen; mtu > max {
		mtu = max
	}
	if mtu < 68 {
		return 0, fmt.Errorf("path MTU %d to %s leaves %d for the TAP, below 68: raise the underlay MTU", pmtu, ep.Remote, mtu)
	}
	return mtu, nil
}

// hostOpener opens tunnels' sockets and sessions' endpoints on this
// system for Run (see Opener): its underlay half is here, its endpoint
// half in tapdriver.go.
type hostOpener struct{}

// Socket opens a tunnel's socket (see openSocket).
func (hostOpener) Socket(e config.TunnelEnds, offload, packet bool) (engine.Underlay, error) {
	return openSocket(e, offload, packet)
}

// PathMTU returns the MTU of the path to dst (see PathMTU).
func (hostOpener) PathMTU(dst netip.Addr) (int, error) { return PathMTU(dst) }
