//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/vhostuser"
	"github.com/l2tap/l2tap/internal/vmsocket"
	"golang.org/x/sys/unix"
)

// vhostEndpoint is a session's vhost-user backend as the engine sees it:
// internal/vhostuser's Backend, serving the frontends that connect to its
// listening socket (server) or connecting to the frontend's socket
// (client), one at a time, with the MTU the guest should use.
type vhostEndpoint struct {
	*vhostuser.Backend
	path   string
	client bool
	mtu    int
}

// openVhostUser makes session sc's backend: listening on its socket,
// owned by -owner and -group (server), or connecting to the frontend's.
func openVhostUser(sc *config.SessionConfig, mtu int) (daemon.Device, error) {
	if sc.VhostUser.Client {
		return adoptVhostUser(sc, mtu, nil)
	}
	f, err := bindVhostUser(sc)
	if err != nil {
		return nil, err
	}
	return adoptVhostUser(sc, mtu, f)
}

// bindVhostUser makes session sc's socket file, listening and not yet
// served, owned by -owner and -group, and returns it (see vmsocket.Bind:
// a stale file is replaced, a live one refused).
func bindVhostUser(sc *config.SessionConfig) (*os.File, error) {
	f, err := vmsocket.Bind(vmsocket.Config{Path: sc.VhostUser.Path, Type: vmsocket.Stream, UID: sc.TAP.Owner, GID: sc.TAP.Group})
	if err != nil {
		return nil, config.Usagef("-vhost-user %s: %v", sc.VhostUser.Path, err)
	}
	return f, nil
}

// adoptVhostUser makes session sc's backend serving f, a listening socket
// (the privileged helper's or bindVhostUser's), or, f nil, a client of
// the frontend's socket.
func adoptVhostUser(sc *config.SessionConfig, mtu int, f *os.File) (daemon.Device, error) {
	v := &vhostEndpoint{Backend: vhostuser.New(sc.VhostUser.Path), path: sc.VhostUser.Path, client: f == nil, mtu: mtu}
	v.SetMTU(mtu)
	if v.client {
		v.Dial(v.path)
		return v, nil
	}
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		unix.Unlink(v.path)
		return nil, config.Usagef("-vhost-user %s: %v", v.path, err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		unix.Unlink(v.path)
		return nil, config.Usagef("-vhost-user %s: not a unix socket", v.path)
	}
	ul.SetUnlinkOnClose(false) // Close unlinks, as the filter allows
	v.ServeListener(ul)
	return v, nil
}

// MTU is the MTU the guest should give its NIC.
func (v *vhostEndpoint) MTU() int { return v.mtu }

// VhostCounters returns the backend's counters, in the order of the
// daemon's vhost_* names.
func (v *vhostEndpoint) VhostCounters() []engine.Counter {
	st := v.Stats()
	return []engine.Counter{
		{Name: "vhost_frontends", Value: st.Connections},
		{Name: "vhost_frontends_refused", Value: st.Refused},
		{Name: "vhost_frontend_errors", Value: st.FrontendErrors},
		{Name: "vhost_no_buffers", Value: st.NoBuffers},
		{Name: "vhost_no_frontend", Value: st.NoFrontend},
	}
}

// Close ends the connection being served, ReadLoop and Write, and
// removes a server's socket file.
func (v *vhostEndpoint) Close() error {
	v.Backend.Close()
	if v.client {
		return nil
	}
	// Unlink, not os.Remove, which tries rmdir too: the seccomp filter
	// allows removing files only.
	if err := unix.Unlink(v.path); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", v.path, err)
	}
	return nil
}

// QEMUHint is the QEMU options that plug a VM into the backend: its
// memory shared (a memfd backend the size of its RAM, here 1G with -m
// 1G), the socket, the netdev and the NIC, whose host_mtu gives the guest
// the session's MTU (VIRTIO_NET_F_MTU). For a client, QEMU listens.
func (v *vhostEndpoint) QEMUHint() string {
	chardev := "socket,id=c0,path=" + v.path
	if v.client {
		chardev += ",server=on"
	}
	return "-m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem -chardev " + chardev +
		" -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,host_mtu=" + strconv.Itoa(v.mtu)
}
