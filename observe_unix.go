//go:build unix

package main

import (
	"os"
	"syscall"
)

// inode is the inode number of a file, where the system has one.
func inode(fi os.FileInfo) (uint64, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), true
	}
	return 0, false
}
