//go:build linux

package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

const dynTunnelTOML = "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n"

// TestDynamicConfigFile: a file with a dynamic tunnel gives the checked
// values; its mistakes are reported at their line, naming the key.
func TestDynamicConfigFile(t *testing.T) {
	c, err := parseConfig("d.toml", []byte(dynTunnelTOML+`hostname = "a"
peer-hostname = "b"
secret = "s3cret"
digest = "sha1"
role = "responder"
hello = 5
[[tunnel.session]]
circuit = "vm1"
ifname = "vm1"
[[tunnel.session]]
circuit = "vm2"
counter = true
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.Tunnels[0]
	d := tc.Dynamic
	if d == nil || d.HostName != "a" || d.PeerName != "b" || string(d.Secret) != "s3cret" || d.Digest != l2tpv3.DigestSHA1 ||
		d.Initiator || d.Hello.Seconds() != 5 {
		t.Errorf("dynamic config %+v", d)
	}
	if len(tc.Sessions) != 2 || tc.Sessions[0].Circuit != "vm1" || tc.Sessions[1].Circuit != "vm2" ||
		tc.Sessions[1].Header.Sublayer != l2tpv3.SublayerCounter || tc.Sessions[0].Header.TxCookieLen != 8 || tc.Sessions[0].Header.RxCookieLen != 8 {
		t.Errorf("sessions %+v", tc.Sessions)
	}
	// Defaults: the machine's host name, MD5, both roles, 60 s.
	c, err = parseConfig("d.toml", []byte(dynTunnelTOML+"[[tunnel.session]]\ncircuit = \"vm1\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if d := c.Tunnels[0].Dynamic; d.HostName != host || d.Digest != l2tpv3.DigestMD5 || !d.Initiator || d.Hello.Seconds() != 60 || d.Secret != nil {
		t.Errorf("defaults %+v", d)
	}

	for _, tc := range []struct {
		name, file string
		line       int
		want       string
	}{
		{"secret-twice", dynTunnelTOML + "secret = \"x\"\nsecret-file = \"/etc/hostname\"\n[[tunnel.session]]\ncircuit = \"vm1\"\n", 4, "secret and secret-file both given"},
		{"secret-in-session", dynTunnelTOML + "[[tunnel.session]]\ncircuit = \"vm1\"\nsecret = \"x\"\n", 6, "secret (value hidden): a tunnel key"},
		{"secret-static", dynTunnelTOML + "secret = \"x\"\n[[tunnel.session]]\ntxsession = 1\n", 4, "secret is for dynamic sessions: add circuit NAME"},
		{"circuit-txsession", dynTunnelTOML + "[[tunnel.session]]\ncircuit = \"vm1\"\ntxsession = 3\n", 6, "circuit with txsession"},
		{"mixed-static-after", dynTunnelTOML + "[[tunnel.session]]\ncircuit = \"vm1\"\n[[tunnel.session]]\ntxsession = 3\n", 6, "[[tunnel.session]] without circuit: the tunnel's session at line 4 has circuit \"vm1\""},
		{"mixed-dynamic-after", dynTunnelTOML + "[[tunnel.session]]\ntxsession = 3\n[[tunnel.session]]\ncircuit = \"vm1\"\n", 7, "circuit \"vm1\": the tunnel's session at line 4 is static"},
		{"same-circuit", dynTunnelTOML + "[[tunnel.session]]\ncircuit = \"vm1\"\n[[tunnel.session]]\ncircuit = \"vm1\"\n", 7, "circuit \"vm1\": the session at line 4 names this circuit too"},
		{"digest-bad", dynTunnelTOML + "digest = \"crc\"\n[[tunnel.session]]\ncircuit = \"vm1\"\n", 4, `digest "crc": want md5`},
		{"role-bad", dynTunnelTOML + "role = 3\n[[tunnel.session]]\ncircuit = \"vm1\"\n", 4, "role 3: want a string"},
		{"router-id-bad", dynTunnelTOML + "router-id = \"::1\"\n[[tunnel.session]]\ncircuit = \"vm1\"\n", 4, `router-id "::1": want an IPv4 address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("d.toml", []byte(tc.file), nil)
			want := fmt.Sprintf("d.toml:%d: %s", tc.line, tc.want)
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v, want one line starting %q", err, want)
			}
			if _, ok := err.(UsageError); !ok {
				t.Errorf("%T is not a usage error", err)
			}
		})
	}
}

// TestDynamicSecretMode: a secret in a file that others may read is
// taken, with a warning naming the file and the fix; at mode 0600 there
// is none.
func TestDynamicSecretMode(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	for _, mode := range []os.FileMode{0o644, 0o600} {
		logs.Reset()
		cf := filepath.Join(dir, "l2tap.toml")
		os.Remove(cf)
		if err := os.WriteFile(cf, []byte(dynTunnelTOML+"secret = \"x\"\n[[tunnel.session]]\ncircuit = \"vm1\"\n"), mode); err != nil {
			t.Fatal(err)
		}
		sf := filepath.Join(dir, "secret")
		os.Remove(sf)
		if err := os.WriteFile(sf, []byte("y\n"), mode); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfigFile(cf)
		if err != nil || string(c.Tunnels[0].Dynamic.Secret) != "x" {
			t.Fatalf("%v %+v", err, c)
		}
		o := Options{}
		for k, v := range map[string]string{"src": "192.0.2.1", "dst": "192.0.2.2", "circuit": "vm1", "secret-file": sf} {
			flagValues(&o)[k].Set(v)
		}
		c, err = o.Config()
		if err != nil || string(c.Tunnels[0].Dynamic.Secret) != "y" {
			t.Fatalf("%v %+v", err, c)
		}
		warned := strings.Count(logs.String(), "other users may read it: chmod 600")
		if mode == 0o644 && (warned != 2 || !strings.Contains(logs.String(), cf+":4: secret") || !strings.Contains(logs.String(), "-secret-file "+sf)) {
			t.Errorf("mode %o: want two warnings naming the files:\n%s", mode, logs.String())
		}
		if mode == 0o600 && warned != 0 {
			t.Errorf("mode 0600: warned:\n%s", logs.String())
		}
	}
}

// TestRouterID: -router-id as an IPv4 address, a decimal or 0x number, or
// a file's integer; without it the tunnel's local address gives it.
func TestRouterID(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  uint32
	}{
		{"192.0.2.1", 0xc0000201},
		{"10.0.0.7", 0x0a000007},
		{"1", 1},
		{"0x12345678", 0x12345678},
		{"4294967295", 0xffffffff},
	} {
		args := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-circuit", "vm1", "-router-id", tc.value}
		var o Options
		parseFlags(t, &o, args...)
		c, err := o.Config()
		if err != nil {
			t.Fatalf("-router-id %s: %v", tc.value, err)
		}
		if got := c.Tunnels[0].Dynamic.RouterID; got != tc.want {
			t.Errorf("-router-id %s: %#x, want %#x", tc.value, got, tc.want)
		}
	}
	c, err := parseConfig("d.toml", []byte(dynTunnelTOML+"router-id = 0x0a000001\n[[tunnel.session]]\ncircuit = \"vm1\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Tunnels[0].Dynamic.RouterID; got != 0x0a000001 {
		t.Errorf("file router-id = 0x0a000001: %#x", got)
	}
	for _, tc := range []struct {
		dc    DynamicConfig
		local string
		want  uint32
	}{
		{DynamicConfig{}, "192.0.2.1", 0xc0000201},
		{DynamicConfig{}, "2001:db8::c000:201", 0xc0000201},
		{DynamicConfig{RouterID: 7}, "192.0.2.1", 7},
	} {
		if got := tc.dc.AnnouncedRouterID(netip.MustParseAddr(tc.local)); got != tc.want {
			t.Errorf("router ID of %+v on %s: %#x, want %#x", tc.dc, tc.local, got, tc.want)
		}
	}
}
