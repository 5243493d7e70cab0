package underlay

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// connControl clears DF as Socket does (Linux sets it on UDP by default):
// like Linux's l2tp, an oversized frame is fragmented rather than lost.
func connControl(network, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		if network == "udp6" {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT)
		} else {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
		}
	})
}
