//go:build unix

package underlay

import "syscall"

// TransientSendError reports errors that come and go with the network:
// a full queue, an ICMP error from the peer, a route that is down.
func TransientSendError(e syscall.Errno) bool {
	switch e {
	case syscall.ENOBUFS, syscall.EAGAIN, syscall.ECONNREFUSED, syscall.ENETUNREACH, syscall.EHOSTUNREACH,
		syscall.ENETDOWN, syscall.EHOSTDOWN, syscall.EPERM, syscall.ENOMEM:
		return true
	}
	return false
}
