package config

import (
	"testing"

	"github.com/l2tap/l2tap/internal/offload"
)

// TestMSSClampResolve checks what each -mss-clamp gives for a path whose
// payload MTU is 1450 (UDP over a 1500-byte IPv4 underlay), with the TAP
// at the automatic MTU, at 1500, and below the path's.
func TestMSSClampResolve(t *testing.T) {
	const payload = 1450
	cases := []struct {
		flag string // "" for none
		mtu  int
		want offload.MSSClamp
	}{
		{"", 1450, offload.MSSClamp{}},
		{"", 1400, offload.MSSClamp{}},
		{"", 1451, offload.MSSClamp{Frame: 1464}},
		{"", 1500, offload.MSSClamp{Frame: 1464}},
		{"auto", 1450, offload.MSSClamp{Frame: 1464}},
		{"auto", 9000, offload.MSSClamp{Frame: 1464}},
		{"off", 1500, offload.MSSClamp{}},
		{"1300", 1450, offload.MSSClamp{MSS: 1300}},
		{"88", 9000, offload.MSSClamp{MSS: 88}},
		{"65495", 1500, offload.MSSClamp{MSS: 65495}},
	}
	for _, c := range cases {
		m, err := parseMSSClamp(StringValue{Val: c.flag, Given: c.flag != ""})
		if err != nil {
			t.Fatalf("-mss-clamp %q: %v", c.flag, err)
		}
		if got := m.Resolve(payload, c.mtu); got != c.want {
			t.Errorf("-mss-clamp %q with MTU %d: %+v, want %+v", c.flag, c.mtu, got, c.want)
		}
	}
	for _, bad := range []string{"", "on", "87", "65496", "0x500", "1e3", "-1", "auto "} {
		if _, err := parseMSSClamp(StringValue{Val: bad, Given: true}); err == nil {
			t.Errorf("-mss-clamp %q accepted", bad)
		}
	}
}
