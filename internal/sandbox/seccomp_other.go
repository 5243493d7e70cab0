//go:build linux && !amd64

package sandbox

import "golang.org/x/sys/unix"

// dataPathFilter and helperFilter have no list for this architecture:
// its system call numbers, and the calls the Go runtime makes on it, have
// not been checked, and a wrong list would kill l2tap in normal
// operation. The caller then runs without a filter and says so.
func dataPathFilter(Options) ([]unix.SockFilter, error) { return nil, nil }

func helperFilter(int) ([]unix.SockFilter, error) { return nil, nil }
