//go:build !linux && !darwin && !windows && !freebsd

package watertap

import (
	"fmt"
	"io"
	"runtime"
)

// open fails: water has no TAP for this system.
func open(c Config) (io.ReadWriteCloser, string, error) {
	return nil, "", fmt.Errorf("open TAP %q: water has no TAP on %s", c.Name, runtime.GOOS)
}
