package main

import (
	"strconv"

	"github.com/l2tap/l2tap/internal/offload"
)

// mssClampMode is what -mss-clamp asks for.
type mssClampMode uint8

const (
	// clampDefault: no -mss-clamp; clamp as auto does when the endpoint's
	// MTU exceeds what fits the path (frames would fragment), else not.
	clampDefault mssClampMode = iota
	clampAuto                 // clamp to what fits the path, whatever the MTU
	clampOff                  // never clamp
	clampFixed                // clamp to MSSClampConfig.MSS
)

// The MSS values -mss-clamp N accepts: Linux's TCP_MIN_MSS, and the
// largest an IPv4 packet can carry.
const (
	minClampMSS = 88
	maxClampMSS = 65535 - 40
)

// MSSClampConfig is a session's -mss-clamp: whether and how far the MSS
// option of TCP SYNs and SYN-ACKs crossing the pseudowire is lowered.
type MSSClampConfig struct {
	Mode mssClampMode
	MSS  int // the ceiling of clampFixed
}

// parseMSSClamp checks -mss-clamp's value.
func parseMSSClamp(t text) (MSSClampConfig, error) {
	if !t.set {
		return MSSClampConfig{}, nil
	}
	switch t.val {
	case "auto":
		return MSSClampConfig{Mode: clampAuto}, nil
	case "off":
		return MSSClampConfig{Mode: clampOff}, nil
	}
	n, err := strconv.ParseUint(t.val, 10, 32)
	if err != nil || n < minClampMSS || n > maxClampMSS {
		return MSSClampConfig{}, badf("mss-clamp", "-mss-clamp %q: want auto (the MSS that fits the path: the pseudowire's payload MTU - 40 for IPv4, - 60 for IPv6), off, or an MSS of %d to %d bytes for both",
			t.val, minClampMSS, maxClampMSS)
	}
	return MSSClampConfig{Mode: clampFixed, MSS: int(n)}, nil
}

// resolve returns the engine's clamping for a session whose pseudowire
// carries frames of up to payload bytes behind the Ethernet header (the
// MTU AutoMTU computes, for the header the session sends) from an
// endpoint of MTU mtu.
func (m MSSClampConfig) resolve(payload, mtu int) offload.MSSClamp {
	switch m.Mode {
	case clampOff:
		return offload.MSSClamp{}
	case clampFixed:
		return offload.MSSClamp{MSS: m.MSS}
	case clampDefault:
		if mtu <= payload {
			return offload.MSSClamp{}
		}
	}
	return offload.MSSClamp{Frame: payload + ethHeaderLen}
}

// String is the clamping as the ready line shows it: off, or the largest
// MSS for IPv4 and IPv6 of untagged frames.
func mssClampString(c offload.MSSClamp) string {
	switch {
	case !c.Enabled():
		return "off"
	case c.Frame == 0:
		return strconv.Itoa(c.MSS)
	}
	v4, v6 := c.Frame-ethHeaderLen-40, c.Frame-ethHeaderLen-60
	if c.MSS > 0 {
		v4, v6 = min(v4, c.MSS), min(v6, c.MSS)
	}
	return strconv.Itoa(v4) + "/" + strconv.Itoa(v6)
}
