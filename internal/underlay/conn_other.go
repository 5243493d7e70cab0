//go:build !linux && !windows

package underlay

import "syscall"

// connControl leaves the socket as the system makes it: the BSDs and macOS
// do not set DF on UDP unless asked.
func connControl(_, _ string, _ syscall.RawConn) error { return nil }
