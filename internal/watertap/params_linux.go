package watertap

import "github.com/songgao/water"

// params names the TAP; water creates it without persistence (it goes
// with the descriptor), multi-queue or owner, and with IFF_NO_PI.
func params(wc *water.Config, c Config) {
	wc.Name = c.Name
}
