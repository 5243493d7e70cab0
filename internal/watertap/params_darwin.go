package watertap

import "github.com/songgao/water"

// params picks tuntaposx, the only macOS driver water has a TAP for
// (the system's utun is layer 3 only); its devices are named tapN.
func params(wc *water.Config, c Config) {
	wc.Name = c.Name
	wc.Driver = water.MacOSDriverTunTapOSX
}
