package main

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
		str  string
	}{
		{"", 1450, offload.MSSClamp{}, "off"},
		{"", 1400, offload.MSSClamp{}, "off"},
		{"", 1451, offload.MSSClamp{Frame: 1464}, "1410/1390"},
		{"", 1500, offload.MSSClamp{Frame: 1464}, "1410/1390"},
		{"auto", 1450, offload.MSSClamp{Frame: 1464}, "1410/1390"},
		{"auto", 9000, offload.MSSClamp{Frame: 1464}, "1410/1390"},
		{"off", 1500, offload.MSSClamp{}, "off"},
		{"1300", 1450, offload.MSSClamp{MSS: 1300}, "1300"},
		{"88", 9000, offload.MSSClamp{MSS: 88}, "88"},
		{"65495", 1500, offload.MSSClamp{MSS: 65495}, "65495"},
	}
	for _, c := range cases {
		m, err := parseMSSClamp(text{val: c.flag, set: c.flag != ""})
		if err != nil {
			t.Fatalf("-mss-clamp %q: %v", c.flag, err)
		}
		got := m.resolve(payload, c.mtu)
		if got != c.want || mssClampString(got) != c.str {
			t.Errorf("-mss-clamp %q with MTU %d: %+v (%s), want %+v (%s)", c.flag, c.mtu, got, mssClampString(got), c.want, c.str)
		}
	}
	for _, bad := range []string{"", "on", "87", "65496", "0x500", "1e3", "-1", "auto "} {
		if _, err := parseMSSClamp(text{val: bad, set: true}); err == nil {
			t.Errorf("-mss-clamp %q accepted", bad)
		}
	}
}
