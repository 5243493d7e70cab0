//go:build linux

package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/status"
)

// TestVhostUserFlags checks -vhost-user and -vhost-user-mode into the
// session's VhostUserConfig, and their refusals: each a one-line usage
// error naming the flag, the value and the fix.
func TestVhostUserFlags(t *testing.T) {
	base := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}
	const path = "/run/l2tap/vm0.vhost"
	for _, tc := range []struct {
		name    string
		args    []string
		want    VhostUserConfig
		wantErr []string // each in the one-line error, its key first
	}{
		{"none", nil, VhostUserConfig{}, nil},
		{"server", []string{"-vhost-user", path}, VhostUserConfig{Path: path}, nil},
		{"server-named", []string{"-vhost-user", path, "-vhost-user-mode", "server"}, VhostUserConfig{Path: path}, nil},
		{"server-owner", []string{"-vhost-user", path, "-owner", "0", "-group", "0"}, VhostUserConfig{Path: path}, nil},
		{"client", []string{"-vhost-user", path, "-vhost-user-mode", "client"}, VhostUserConfig{Path: path, Client: true}, nil},
		{"mode-alone", []string{"-vhost-user-mode", "client"}, VhostUserConfig{}, []string{"vhost-user", "-vhost-user-mode client without -vhost-user", "add -vhost-user PATH"}},
		{"mode-bad", []string{"-vhost-user", path, "-vhost-user-mode", "listen"}, VhostUserConfig{}, []string{"vhost-user-mode", `"listen"`, "server", "client"}},
		{"empty", []string{"-vhost-user", ""}, VhostUserConfig{}, []string{"vhost-user", `-vhost-user ""`, "give the path"}},
		{"too-long", []string{"-vhost-user", "/" + strings.Repeat("v", 107)}, VhostUserConfig{}, []string{"vhost-user", "at most 107 bytes"}},
		{"longest", []string{"-vhost-user", "/" + strings.Repeat("v", status.MaxSocketPath-1)}, VhostUserConfig{Path: "/" + strings.Repeat("v", status.MaxSocketPath-1)}, nil},
		{"socket", []string{"-vhost-user", path, "-socket", "/run/vm.sock"}, VhostUserConfig{}, []string{"socket", "-socket /run/vm.sock with -vhost-user " + path, "drop one"}},
		{"ifname", []string{"-vhost-user", path, "-ifname", "vm0"}, VhostUserConfig{}, []string{"ifname", "-ifname vm0 with -vhost-user", "drop one"}},
		{"master", []string{"-vhost-user", path, "-master", "br0"}, VhostUserConfig{}, []string{"master", "-master br0 with -vhost-user"}},
		{"mtu", []string{"-vhost-user", path, "-mtu", "1400"}, VhostUserConfig{}, []string{"mtu", "-mtu 1400 with -vhost-user"}},
		{"queues", []string{"-vhost-user", path, "-queues", "2"}, VhostUserConfig{}, []string{"queues", "-queues 2 with -vhost-user"}},
		{"offload", []string{"-vhost-user", path, "-offload", "off"}, VhostUserConfig{}, []string{"offload", "-offload off with -vhost-user"}},
		{"mac", []string{"-vhost-user", path, "-mac", "02:00:5e:10:00:01"}, VhostUserConfig{}, []string{"mac", "-mac 02:00:5e:10:00:01 with -vhost-user", "drop -mac"}},
		{"client-owner", []string{"-vhost-user", path, "-vhost-user-mode", "client", "-owner", "0"}, VhostUserConfig{}, []string{"owner", "-owner 0 with -vhost-user-mode client", "drop -owner"}},
		{"client-group", []string{"-vhost-user", path, "-vhost-user-mode", "client", "-group", "0"}, VhostUserConfig{}, []string{"group", "-group 0 with -vhost-user-mode client"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			parseFlags(t, &o, append(append([]string{}, base...), tc.args...)...)
			_, sc, err := o.session()
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("accepted: %+v", sc.VhostUser)
				}
				var ue UsageError
				if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") {
					t.Errorf("not a one-line usage error: %v", err)
				}
				var oe *optionError
				if !errors.As(err, &oe) || oe.Key != tc.wantErr[0] {
					t.Errorf("error %q names %v, want %s", err, oe, tc.wantErr[0])
				}
				for _, w := range tc.wantErr[1:] {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.VhostUser != tc.want {
				t.Fatalf("VhostUser %+v, want %+v", sc.VhostUser, tc.want)
			}
			cfg := Config{Tunnels: []TunnelConfig{{Sessions: []SessionConfig{sc}}}}
			if cfg.UsesSockets() != (tc.want.Path != "") || cfg.UsesVhostUserClient() != tc.want.Client {
				t.Errorf("UsesSockets %v, UsesVhostUserClient %v for %+v", cfg.UsesSockets(), cfg.UsesVhostUserClient(), tc.want)
			}
		})
	}
}
