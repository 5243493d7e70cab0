package daemon

import (
	"strconv"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/offload"
)

// mssClampString is the clamping as the ready line shows it: off, or the largest
// MSS for IPv4 and IPv6 of untagged frames.
func mssClampString(c offload.MSSClamp) string {
	switch {
	case !c.Enabled():
		return "off"
	case c.Frame == 0:
		return strconv.Itoa(c.MSS)
	}
	v4, v6 := c.Frame-l2tpv3.EthHeaderLen-40, c.Frame-l2tpv3.EthHeaderLen-60
	if c.MSS > 0 {
		v4, v6 = min(v4, c.MSS), min(v6, c.MSS)
	}
	return strconv.Itoa(v4) + "/" + strconv.Itoa(v6)
}
