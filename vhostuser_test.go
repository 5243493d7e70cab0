//go:build linux

package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
)

// vhostSession is a session on the vhost-user socket path, its file
// owned as made.
func vhostSession(path string, client bool) *config.SessionConfig {
	sc := &config.SessionConfig{VhostUser: config.VhostUserConfig{Path: path, Client: client}}
	sc.TAP.Owner, sc.TAP.Group = -1, -1
	return sc
}

// waitFrontends polls the endpoint's vhost_frontends until it is n.
func waitFrontends(t *testing.T, v *vhostEndpoint, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); v.Stats().Connections != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d frontends served, want %d", v.Stats().Connections, n)
		}
	}
}

// TestVhostUserServer: a server's socket file is made, serves the
// frontends that connect in turn, and is removed at Close; frames for a
// guest without a frontend are refused and counted as vhost_no_frontend.
func TestVhostUserServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vm.vhost")
	dev, err := openVhostUser(vhostSession(path, false), 1450)
	if err != nil {
		t.Fatal(err)
	}
	v := dev.(*vhostEndpoint)
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v, %v; want a socket, mode 0600", fi, err)
	}
	if v.MTU() != 1450 {
		t.Errorf("MTU %d, want 1450", v.MTU())
	}
	if h := v.QEMUHint(); !strings.HasSuffix(h, " -device virtio-net-pci,netdev=n0,host_mtu=1450") {
		t.Errorf("QEMU options %q: the NIC lacks host_mtu=1450", h)
	}
	frames := [][]byte{make([]byte, 60), make([]byte, 1514), make([]byte, 60)}
	if n, _, _, err := v.Write(frames); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write without a frontend: %d, %v; want 0 and a closed way", n, err)
	}
	for i := uint64(1); i <= 2; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		waitFrontends(t, v, i)
		c.Close()
	}
	want := []engine.Counter{{Name: "vhost_frontends", Value: 2}, {Name: "vhost_frontends_refused"}, {Name: "vhost_frontend_errors"}, {Name: "vhost_no_buffers"}, {Name: "vhost_no_frontend", Value: 3}}
	if got := v.VhostCounters(); len(got) != len(want) {
		t.Errorf("counters %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("counter %v, want %v", got[i], want[i])
			}
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close: %v", err)
	}
	// A live socket is not taken over by a second backend.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if d, err := openVhostUser(vhostSession(path, false), 1450); err == nil {
		d.Close()
		t.Fatal("a second backend took over a socket something listens on")
	}
}

// TestVhostUserClient: a client connects to the frontend's socket, again
// each time the frontend ends the connection, and again once the
// frontend listens after being gone; Close ends it promptly and leaves
// the frontend's file alone.
func TestVhostUserClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qemu.vhost")
	dev, err := openVhostUser(vhostSession(path, true), 1450)
	if err != nil {
		t.Fatal(err)
	}
	v := dev.(*vhostEndpoint)
	defer v.Close()
	accept := func(ln net.Listener) net.Conn {
		t.Helper()
		got := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				close(got)
				return
			}
			got <- c
		}()
		select {
		case c, ok := <-got:
			if !ok {
				t.Fatal("accept failed")
			}
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("the client did not connect in 10 s")
			return nil
		}
	}
	// The frontend appears after the client started.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 2; i++ {
		c := accept(ln)
		waitFrontends(t, v, i)
		c.Close()
	}
	// The frontend gone and back.
	ln.Close()
	if ln, err = net.Listen("unix", path); err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	defer ln.Close()
	c := accept(ln)
	waitFrontends(t, v, 3)
	start := time.Now()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the frontend's connection after Close: read %d, %v; want it closed", n, err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("the frontend's socket file after Close: %v", err)
	}
}
