package status

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPeerState: a tunnel's control channel state appears in show's text,
// in the JSON (and back), and as the gauge l2tap_tunnel_peer_up; a tunnel
// without a control channel has none of it.
func TestPeerState(t *testing.T) {
	s := fake()
	s.Tunnels[0].Peer = "down"
	s.Tunnels[0].DownSince = "2026-01-02T03:04:05Z"
	var b strings.Builder
	if err := WriteText(&b, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if lines[3] != "  control channel: peer down since 2026-01-02T03:04:05Z" {
		t.Errorf("line 4: %q\n%s", lines[3], b.String())
	}
	if strings.Count(b.String(), "control channel") != 1 {
		t.Errorf("control channel shown for a tunnel without one:\n%s", b.String())
	}
	s.Tunnels[1].Peer = "up"
	b.Reset()
	WriteText(&b, s)
	if !strings.Contains(b.String(), "encap ip\n  control channel: peer up\n") {
		t.Errorf("up tunnel:\n%s", b.String())
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Tunnels[0].Peer != "down" || back.Tunnels[0].DownSince != s.Tunnels[0].DownSince || back.Tunnels[1].Peer != "up" || back.Tunnels[1].DownSince != "" {
		t.Errorf("JSON round trip: %+v", back.Tunnels)
	}
	if !strings.Contains(string(js), `"peer":"down","down_since":"2026-01-02T03:04:05Z"`) {
		t.Errorf("JSON: %s", js)
	}
	fams, _ := scrape(t, func() Snapshot { return s })
	f := fams["l2tap_tunnel_peer_up"]
	if f == nil || len(f.Metric) != 2 {
		t.Fatalf("l2tap_tunnel_peer_up: %v", f)
	}
	for _, m := range f.Metric {
		want := 0.0
		if m.Label[0].GetValue() == s.Tunnels[1].Name {
			want = 1
		}
		if m.Gauge.GetValue() != want {
			t.Errorf("%s: %v, want %v", m.Label[0].GetValue(), m.Gauge.GetValue(), want)
		}
	}
	s = fake()
	if fams, _ := scrape(t, func() Snapshot { return s }); fams["l2tap_tunnel_peer_up"] != nil {
		t.Error("gauge without a control channel")
	}
}
