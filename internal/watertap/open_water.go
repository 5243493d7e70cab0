//go:build linux || darwin || windows

package watertap

import (
	"fmt"
	"io"

	"github.com/songgao/water"
)

// open opens the TAP through water.
func open(c Config) (io.ReadWriteCloser, string, error) {
	wc := water.Config{DeviceType: water.TAP}
	params(&wc, c)
	ifce, err := water.New(wc)
	if err != nil {
		return nil, "", fmt.Errorf("open TAP %q through water: %w", c.Name, err)
	}
	return ifce, ifce.Name(), nil
}
