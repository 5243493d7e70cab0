package underlay

import (
	"syscall"
	"unsafe"
)

// sioUDPConnReset is SIO_UDP_CONNRESET (mstcpip.h).
const sioUDPConnReset = syscall.IOC_IN | syscall.IOC_VENDOR | 12

// connControl turns off SIO_UDP_CONNRESET: otherwise an ICMP port
// unreachable from a peer that is down fails the next receive with
// WSAECONNRESET, on a socket serving every peer.
func connControl(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		off := uint32(0)
		var ret uint32
		syscall.WSAIoctl(syscall.Handle(fd), sioUDPConnReset, (*byte)(unsafe.Pointer(&off)), 4, nil, 0, &ret, nil, 0)
	})
}
