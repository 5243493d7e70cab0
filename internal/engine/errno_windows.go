package engine

import (
	"fmt"
	"syscall"
)

// errnoName names e by its Windows error number: Winsock's codes have no
// short names in Go.
func errnoName(e syscall.Errno) string {
	return fmt.Sprintf("error %d", uintptr(e))
}
