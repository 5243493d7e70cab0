package watertap

import "github.com/songgao/water"

// params picks the tap-windows6 adapter: by component ID (the driver's)
// and, if given, the adapter's name.
func params(wc *water.Config, c Config) {
	wc.ComponentID = "tap0901"
	if c.ComponentID != "" {
		wc.ComponentID = c.ComponentID
	}
	wc.InterfaceName = c.Name
}
