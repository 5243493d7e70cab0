//go:build unix

package status

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxSocketPath is the longest path a unix socket address holds
// (sun_path is 108 bytes on Linux with its terminating zero).
const MaxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// inode is the inode number of a file, where the system has one.
func inode(fi os.FileInfo) (uint64, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), true
	}
	return 0, false
}
