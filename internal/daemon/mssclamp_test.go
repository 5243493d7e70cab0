package daemon

import (
	"testing"

	"github.com/l2tap/l2tap/internal/offload"
)

// TestMSSClampString checks how the ready line shows a session's clamping:
// off, a fixed MSS, or the MSS for IPv4 and IPv6 that a frame size leaves
// (a 1464-byte frame: 1450 bytes of payload behind the Ethernet header),
// the smaller of both where both are set.
func TestMSSClampString(t *testing.T) {
	for _, c := range []struct {
		clamp offload.MSSClamp
		want  string
	}{
		{offload.MSSClamp{}, "off"},
		{offload.MSSClamp{Frame: 1464}, "1410/1390"},
		{offload.MSSClamp{MSS: 1300}, "1300"},
		{offload.MSSClamp{MSS: 88}, "88"},
		{offload.MSSClamp{Frame: 1464, MSS: 1400}, "1400/1390"},
	} {
		if got := mssClampString(c.clamp); got != c.want {
			t.Errorf("%+v: %q, want %q", c.clamp, got, c.want)
		}
	}
}
