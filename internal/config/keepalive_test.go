//go:build linux

package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHelloConfigFile: the control channel's tunnel keys give the same
// KeepaliveConfig as the flags, per tunnel.
func TestHelloConfigFile(t *testing.T) {
	restore := lookupNetIP
	t.Cleanup(func() { lookupNetIP = restore })
	lookupNetIP = fakeLookup
	file := filepath.Join(t.TempDir(), "l2tap.toml")
	body := "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nrxtunnel = 0x10\ntxtunnel = 32\nhello = 5\nhello-required = false\nhello-retries = 3\n" +
		"[[tunnel.session]]\ntxsession = 1\n" +
		"[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.3\"\n[[tunnel.session]]\ntxsession = 2\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfigFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := KeepaliveConfig{LocalID: 16, PeerID: 32, Hello: 5 * time.Second, Retries: 3, Required: false}
	if got := c.Tunnels[0].Keepalive; got != want {
		t.Errorf("first tunnel: %+v, want %+v", got, want)
	}
	if got := c.Tunnels[1].Keepalive; got != (KeepaliveConfig{}) {
		t.Errorf("second tunnel: %+v, want none", got)
	}
	var o Options
	set := flag.NewFlagSet("l2tap", flag.ContinueOnError)
	for _, f := range Flags(&o) {
		f.Apply(set)
	}
	if err := set.Parse([]string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1", "-rxtunnel", "0x10", "-txtunnel", "32", "-hello", "5", "-hello-required=off", "-hello-retries", "3"}); err != nil {
		t.Fatal(err)
	}
	fc, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.Tunnels[0].Keepalive; got != want {
		t.Errorf("flags: %+v, want %+v", got, want)
	}
}
