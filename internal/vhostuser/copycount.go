//go:build linux

package vhostuser

import "sync/atomic"

// copyCount, when set, counts the bytes of frames the data path copies:
// from guest memory, into guest memory, and between its own buffers. It is
// a test hook, nil in production (one load and a branch per copy), set
// before any ReadLoop or Write runs.
var copyCount *atomic.Uint64

// countCopy adds n copied bytes to copyCount, if set.
func countCopy(n int) {
	if c := copyCount; c != nil {
		c.Add(uint64(n))
	}
}
