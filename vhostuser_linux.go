//go:build linux

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/vhostuser"
	"github.com/l2tap/l2tap/internal/vmsocket"
	"golang.org/x/sys/unix"
)

// vhostEndpoint is a session's vhost-user backend as the engine sees it:
// internal/vhostuser's Backend, served the frontends that connect to its
// listening socket (server) or the connections it makes to the
// frontend's socket (client), one at a time, with the MTU the guest
// should use and the frames for the guest it refused counted.
type vhostEndpoint struct {
	*vhostuser.Backend
	path   string
	client bool
	mtu    int
	ln     *net.UnixListener // server: the socket frontends connect to
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	noBuffers, noFrontend atomic.Uint64
}

// The reconnection of a client: the first wait after a failed or ended
// connection, doubled up to the last.
const (
	vhostRetryFirst = 100 * time.Millisecond
	vhostRetryMax   = 2 * time.Second
)

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
	v := &vhostEndpoint{Backend: vhostuser.New(sc.VhostUser.Path), path: sc.VhostUser.Path, client: f == nil, mtu: mtu, done: make(chan struct{})}
	if f != nil {
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
		v.ln = ul
	}
	v.wg.Add(1)
	if v.client {
		go v.connectLoop()
	} else {
		go v.acceptLoop()
	}
	return v, nil
}

// acceptLoop serves the frontends that connect, one after the other. A
// failed accept (out of descriptors, say) is logged when the last one
// succeeded, not at each attempt, and tried again after a wait.
func (v *vhostEndpoint) acceptLoop() {
	defer v.wg.Done()
	failing := false
	for {
		c, err := v.ln.AcceptUnix()
		if err != nil {
			if v.closed() {
				return
			}
			if !failing {
				slog.Warn("vhost-user accept failed; trying again", "socket", v.path, "err", err)
				failing = true
			}
			if !v.wait(vhostRetryFirst) {
				return
			}
			continue
		}
		failing = false
		v.Serve(c)
	}
}

// connectLoop connects to the frontend's socket and serves it, again
// each time the connection ends, waiting longer between failures (up to
// vhostRetryMax); a failure is logged when the frontend was last
// reachable, not at each attempt.
func (v *vhostEndpoint) connectLoop() {
	defer v.wg.Done()
	addr := &net.UnixAddr{Name: v.path, Net: "unix"}
	wait, reachable := vhostRetryFirst, true
	for !v.closed() {
		c, err := net.DialUnix("unix", nil, addr)
		if err != nil {
			if reachable {
				slog.Warn("vhost-user frontend unreachable; connecting again until it answers", "socket", v.path, "err", err)
				reachable = false
			}
		} else {
			reachable, wait = true, vhostRetryFirst
			v.Serve(c)
		}
		if !v.wait(wait) {
			return
		}
		wait = min(2*wait, vhostRetryMax)
	}
}

// wait waits d, and reports false if the endpoint was closed meanwhile.
func (v *vhostEndpoint) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-v.done:
		return false
	case <-t.C:
		return true
	}
}

func (v *vhostEndpoint) closed() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// MTU is the MTU the guest should give its NIC.
func (v *vhostEndpoint) MTU() int { return v.mtu }

// Write is the backend's Write, counting the frames it refused.
func (v *vhostEndpoint) Write(frames [][]byte) (written, merged, bytes int, err error) {
	return v.WriteIntact(frames, nil)
}

// WriteIntact is the backend's WriteIntact, counting the frames it
// refused: for want of receive buffers, or of a frontend.
func (v *vhostEndpoint) WriteIntact(frames [][]byte, intact []bool) (written, merged, bytes int, err error) {
	written, merged, bytes, err = v.Backend.WriteIntact(frames, intact)
	if err != nil {
		refused := uint64(len(frames) - written)
		switch {
		case errors.Is(err, vhostuser.ErrNoBuffers):
			v.noBuffers.Add(refused)
		case errors.Is(err, vhostuser.ErrNoFrontend):
			v.noFrontend.Add(refused)
		}
	}
	return written, merged, bytes, err
}

// VhostCounters returns the backend's counters, in the order of the
// daemon's vhost_* names.
func (v *vhostEndpoint) VhostCounters() []engine.Counter {
	st := v.Stats()
	return []engine.Counter{
		{Name: "vhost_frontends", Value: st.Connections},
		{Name: "vhost_frontend_errors", Value: st.FrontendErrors},
		{Name: "vhost_no_buffers", Value: v.noBuffers.Load()},
		{Name: "vhost_no_frontend", Value: v.noFrontend.Load()},
	}
}

// Close ends the connection being served, ReadLoop and Write, and
// removes a server's socket file.
func (v *vhostEndpoint) Close() error {
	var err error
	v.once.Do(func() {
		close(v.done)
		if v.ln != nil {
			v.ln.Close()
		}
		v.Backend.Close()
		v.wg.Wait()
		if v.ln != nil {
			// Unlink, not os.Remove, which tries rmdir too: the seccomp
			// filter allows removing files only.
			if rerr := unix.Unlink(v.path); rerr != nil && rerr != unix.ENOENT {
				err = fmt.Errorf("remove %s: %w", v.path, rerr)
			}
		}
	})
	return err
}

// QEMUHint is the QEMU options that plug a VM into the backend: its
// memory shared (a memfd backend the size of its RAM, here 1G with -m
// 1G), the socket, the netdev and the NIC. For a client, QEMU listens.
func (v *vhostEndpoint) QEMUHint() string {
	chardev := "socket,id=c0,path=" + v.path
	if v.client {
		chardev += ",server=on"
	}
	return "-m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem -chardev " + chardev +
		" -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0"
}
