package main

import (
	"net/netip"
	"syscall"

	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/underlay"
)

// connUnderlay is the portable underlay.Conn as the engine sees it; it has
// no segmentation offload to refuse, so noGSO is never called.
type connUnderlay struct{ *underlay.Conn }

func (c connUnderlay) NewSender(peer netip.AddrPort, _ int, fail func([]byte, syscall.Errno), _ func(syscall.Errno)) engine.Sender {
	return c.Conn.NewSender(peer, fail)
}
