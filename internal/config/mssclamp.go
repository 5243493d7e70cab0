package config

import (
	"strconv"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/offload"
)

// MSSClampMode is what -mss-clamp asks for.
type MSSClampMode uint8

const (
	// ClampDefault: no -mss-clamp; clamp as auto does when the endpoint's
	// MTU exceeds what fits the path (frames would fragment), else not.
	ClampDefault MSSClampMode = iota
	ClampAuto                 // clamp to what fits the path, whatever the MTU
	ClampOff                  // never clamp
	ClampFixed                // clamp to MSSClampConfig.MSS
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
	Mode MSSClampMode
	MSS  int // the ceiling of ClampFixed
}

// parseMSSClamp checks -mss-clamp's value.
func parseMSSClamp(t StringValue) (MSSClampConfig, error) {
	if !t.Given {
		return MSSClampConfig{}, nil
	}
	switch t.Val {
	case "auto":
		return MSSClampConfig{Mode: ClampAuto}, nil
	case "off":
		return MSSClampConfig{Mode: ClampOff}, nil
	}
	n, err := strconv.ParseUint(t.Val, 10, 32)
	if err != nil || n < minClampMSS || n > maxClampMSS {
		return MSSClampConfig{}, badf("mss-clamp", "-mss-clamp %q: want auto (the MSS that fits the path: the pseudowire's payload MTU - 40 for IPv4, - 60 for IPv6), off, or an MSS of %d to %d bytes for both",
			t.Val, minClampMSS, maxClampMSS)
	}
	return MSSClampConfig{Mode: ClampFixed, MSS: int(n)}, nil
}

// Resolve returns the engine's clamping for a session whose pseudowire
// carries frames of up to payload bytes behind the Ethernet header (the
// MTU AutoMTU computes, for the header the session sends) from an
// endpoint of MTU mtu.
func (m MSSClampConfig) Resolve(payload, mtu int) offload.MSSClamp {
	switch m.Mode {
	case ClampOff:
		return offload.MSSClamp{}
	case ClampFixed:
		return offload.MSSClamp{MSS: m.MSS}
	case ClampDefault:
		if mtu <= payload {
			return offload.MSSClamp{}
		}
	}
	return offload.MSSClamp{Frame: payload + l2tpv3.EthHeaderLen}
}
