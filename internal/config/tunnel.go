package config

import (
	"net/netip"

	"github.com/l2tap/l2tap/internal/underlay"
)

// TunnelEnds is the underlay of one tunnel: its two ends, where packets
// come from and go.
type TunnelEnds struct {
	UDP        bool
	Local      netip.Addr
	Remote     netip.Addr
	LocalPort  uint16 // UDP only
	RemotePort uint16 // UDP only
}

// IPOverhead is the size of the outer IP (and UDP) headers per packet.
func (e TunnelEnds) IPOverhead() int {
	n := 20
	if e.Remote.Is6() {
		n = 40
	}
	if e.UDP {
		n += 8
	}
	return n
}

// PeerName names the tunnel's peer in log lines: its address, with the
// port for UDP (as the engine's lines name it).
func (e TunnelEnds) PeerName() string {
	return underlay.AddrPortString(e.Remote, e.RemotePort, e.UDP)
}
