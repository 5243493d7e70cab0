//go:build unix

package engine

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// errnoName names e as C does (ECONNREFUSED), or by number if Go knows no
// name for it.
func errnoName(e syscall.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}
