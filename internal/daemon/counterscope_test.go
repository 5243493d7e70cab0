//go:build linux

package daemon

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/control"
	"github.com/l2tap/l2tap/internal/engine"
)

// TestCountersThatApply checks that a session's counters lines, their JSON
// and l2tap show list only the counters that apply to it: no control_*
// without a control channel, the keepalive's but not the dynamic tunnel's
// with -hello, all of them on a dynamic tunnel, no socket_* on a TAP; and
// that the metrics' snapshot still has every counter (zero where it does
// not apply), for stable series.
func TestCountersThatApply(t *testing.T) {
	quietLogs(t)
	allControl := map[string]bool{}
	for _, n := range CounterNames() {
		if strings.HasPrefix(n, "control_") {
			allControl[n] = true
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, p *process, tun *engine.Tunnel)
		vhost   bool     // the sessions are vhost-user backends
		present []string // counters lines and show must have these
		absent  []string // and not these
	}{
		{"static", func(*testing.T, *process, *engine.Tunnel) {}, false,
			[]string{"rx_packets", "rx_control", "tx_peer_down", "procs_raised"},
			[]string{"control_rx", "control_tx", "control_hellos_sent", "control_peer_down", "control_connections", "socket_bad_frames", "socket_refused", "pcap_dropped",
				"vhost_frontends", "vhost_frontends_refused", "vhost_frontend_errors", "vhost_no_buffers", "vhost_no_frontend"}},
		{"vhost-user", func(*testing.T, *process, *engine.Tunnel) {}, true,
			[]string{"rx_packets", "vhost_frontends", "vhost_frontends_refused", "vhost_frontend_errors", "vhost_no_buffers", "vhost_no_frontend"},
			[]string{"control_rx", "socket_bad_frames", "socket_refused"}},
		{"hello", func(_ *testing.T, p *process, tun *engine.Tunnel) {
			p.addControl(&config.TunnelConfig{Keepalive: config.KeepaliveConfig{LocalID: 1, PeerID: 1, Hello: time.Minute, Retries: 3}}, tun)
		}, false,
			[]string{"rx_packets", "control_rx", "control_tx", "control_hellos_sent", "control_peer_down"},
			[]string{"control_connections", "control_sessions_up", "control_auth_failed", "socket_bad_frames"}},
		{"dynamic", func(t *testing.T, p *process, tun *engine.Tunnel) {
			dt := &dynTunnel{proc: p, tunnel: tun, name: "192.0.2.2:1701"}
			d, err := control.NewDynamic(control.PeerConfig{HostName: "a", RouterID: 1}, dt, dynTransport(tun.SendControl, time.Minute), nil)
			if err != nil {
				t.Fatal(err)
			}
			dt.control = d
			p.dyn = append(p.dyn, dt)
		}, false,
			[]string{"rx_packets", "control_rx", "control_hellos_sent", "control_connections", "control_sessions_up", "control_auth_failed"},
			[]string{"socket_bad_frames", "socket_refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testProcess(t)
			tk, tun := staticTunnel(p)
			tc.setup(t, p, tun)
			// Two sessions, so that the per-session lines are printed too.
			for id := uint32(1); id <= 2; id++ {
				var dev Device = newChurnEndpoint(fmt.Sprintf("ct%d", id))
				if tc.vhost {
					dev = vhostTestEndpoint{dev}
				}
				l := &live{key: sessionKey{tk, id}, dev: dev, tunnel: tun}
				l.sc.Header.TxSession, l.sc.Header.RxSession = id, id
				p.pending = append(p.pending, l)
			}
			if n := len(p.start()); n != 2 {
				t.Fatalf("started %d sessions, want 2", n)
			}

			var text bytes.Buffer
			p.writeCounters(&text)
			lines := map[string]bool{}
			for _, c := range p.totals() {
				lines[c.Name] = true
			}
			json := p.countersJSON()
			show := p.snapshot(false)
			if len(show.Tunnels) != 1 || len(show.Tunnels[0].Sessions) != 2 {
				t.Fatalf("show: %d tunnels, want 1 with 2 sessions: %+v", len(show.Tunnels), show)
			}
			inShow := func(name string) bool {
				if _, ok := show.Tunnels[0].Counters.Get("tunnel_" + name); ok {
					return true
				}
				_, ok := show.Tunnels[0].Sessions[0].Counters.Get(name)
				return ok
			}
			inJSONSession := func(name string) bool {
				_, ok := json.Sessions[0].Counters.Get(name)
				return ok
			}
			for _, n := range tc.present {
				_, inJSON := json.Counters.Get(n)
				if !lines[n] || !strings.Contains(text.String(), "\n"+n+" ") && !strings.HasPrefix(text.String(), n+" ") || !inJSON {
					t.Errorf("counter %s missing from the counters lines or their JSON:\n%s", n, text.String())
				}
				if n != "procs_raised" && !inShow(n) {
					t.Errorf("counter %s missing from l2tap show", n)
				}
			}
			for _, n := range tc.absent {
				_, inJSON := json.Counters.Get(n)
				if lines[n] || strings.Contains(text.String(), n) || inJSON || inJSONSession(n) {
					t.Errorf("counter %s does not apply, yet is printed:\n%s", n, text.String())
				}
				if inShow(n) {
					t.Errorf("counter %s does not apply, yet l2tap show lists it", n)
				}
			}
			// The metrics keep every counter: the same series for every tunnel.
			all := p.snapshot(true)
			for n := range allControl {
				if _, ok := all.Tunnels[0].Counters.Get("tunnel_" + n); !ok {
					t.Errorf("metrics snapshot lacks tunnel_%s", n)
				}
			}
			for _, n := range append([]string{"socket_bad_frames", "socket_refused"}, vhostCounterNames...) {
				if _, ok := all.Tunnels[0].Sessions[0].Counters.Get(n); !ok {
					t.Errorf("metrics snapshot lacks session counter %s", n)
				}
			}
			if tc.vhost {
				// Each session's own, summed in the totals.
				for i, n := range vhostCounterNames {
					if v, _ := json.Counters.Get(n); v != 2*uint64(i+1) {
						t.Errorf("total %s %d, want %d", n, v, 2*(i+1))
					}
				}
			}
			t.Logf("%s: %d total counter lines, %d control_*", tc.name, len(p.totals()), strings.Count(text.String(), "\ncontrol_"))
		})
	}
}

// vhostTestEndpoint is an endpoint with a vhost-user backend's counters,
// each the number of its place in vhostCounterNames.
type vhostTestEndpoint struct{ Device }

func (vhostTestEndpoint) VhostCounters() []engine.Counter {
	c := make([]engine.Counter, len(vhostCounterNames))
	for i, n := range vhostCounterNames {
		c[i] = engine.Counter{Name: n, Value: uint64(i + 1)}
	}
	return c
}
