package underlay

import "syscall"

// Winsock's error codes for the conditions of TransientSendError
// (winerror.h); the syscall package names only a few of them.
const (
	wsaEWouldBlock   syscall.Errno = 10035
	wsaENetDown      syscall.Errno = 10050
	wsaENetUnreach   syscall.Errno = 10051
	wsaEConnReset    syscall.Errno = 10054 // an ICMP port unreachable, on UDP
	wsaENoBufs       syscall.Errno = 10055
	wsaEConnRefused  syscall.Errno = 10061
	wsaEHostDown     syscall.Errno = 10064
	wsaEHostUnreach  syscall.Errno = 10065
	wsaEAccess       syscall.Errno = 10013
	errNotEnoughMemo syscall.Errno = 8 // ERROR_NOT_ENOUGH_MEMORY
)

// TransientSendError reports errors that come and go with the network:
// a full queue, an ICMP error from the peer, a route that is down.
func TransientSendError(e syscall.Errno) bool {
	switch e {
	case wsaEWouldBlock, wsaENetDown, wsaENetUnreach, wsaEConnReset, wsaENoBufs, wsaEConnRefused,
		wsaEHostDown, wsaEHostUnreach, wsaEAccess, errNotEnoughMemo:
		return true
	}
	return false
}
