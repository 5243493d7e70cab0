package watertap

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// open opens the tap(4) device /dev/NAME (water has no FreeBSD TAP); the
// kernel creates interface NAME on first open and destroys it on close
// unless net.link.tap.up_on_open and friends say otherwise. Each read
// returns one frame and each write sends one, as on Linux.
func open(c Config) (io.ReadWriteCloser, string, error) {
	if !strings.HasPrefix(c.Name, "tap") || strings.ContainsAny(c.Name, "%/") {
		return nil, "", fmt.Errorf("open TAP %q: on FreeBSD the name is tapN (tap0, tap1, ...)", c.Name)
	}
	f, err := os.OpenFile("/dev/"+c.Name, os.O_RDWR, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open TAP %q: %w", c.Name, err)
	}
	return f, c.Name, nil
}
