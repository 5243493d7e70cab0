package daemon

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/l2tpv3"
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
func AutoMTU(pmtu int, ep config.TunnelEnds, h *l2tpv3.Header) (int, error) {
	mtu := pmtu - ep.IPOverhead() - h.Len() - l2tpv3.EthHeaderLen
	if max := offload.MaxFrame - ep.IPOverhead() - h.Len() - l2tpv3.EthHeaderLen; mtu > max {
		mtu = max
	}
	if mtu < 68 {
		return 0, fmt.Errorf("path MTU %d to %s leaves %d for the TAP, below 68: raise the underlay MTU", pmtu, ep.Remote, mtu)
	}
	return mtu, nil
}

// cookieSizes is how the ready and session lines show a session's cookies:
// "8B" when both directions have the same length, else "TXB/RXB" (the
// bytes sent, then the bytes expected), such as "4B/0B".
func cookieSizes(h *l2tpv3.Header) string {
	if h.TxCookieLen == h.RxCookieLen {
		return strconv.Itoa(h.TxCookieLen) + "B"
	}
	return strconv.Itoa(h.TxCookieLen) + "B/" + strconv.Itoa(h.RxCookieLen) + "B"
}
