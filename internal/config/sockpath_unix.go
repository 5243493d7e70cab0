//go:build unix

package config

import "golang.org/x/sys/unix"

// MaxSocketPath is the longest path a unix socket address holds
// (sun_path is 108 bytes on Linux with its terminating zero).
const MaxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1
