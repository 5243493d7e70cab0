//go:build linux

package main

import (
	"os"
	"path/filepath"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/vmsocket"
)

// vmEndpoint is a session's socket as the engine sees it, with the MTU
// the VM should use.
type vmEndpoint struct {
	*vmsocket.Socket
	mtu int
}

// MTU is the MTU the VM should give its NIC.
func (v *vmEndpoint) MTU() int { return v.mtu }

// openVMSocket makes a session's socket, owned by the TAP's -owner and
// -group.
func openVMSocket(sc *config.SessionConfig, mtu int) (daemon.Device, error) {
	s, err := vmsocket.Listen(vmSocketConfig(sc))
	if err != nil {
		return nil, config.Usagef("-socket %s: %v", sc.Socket.Path, err)
	}
	return &vmEndpoint{s, mtu}, nil
}

// adoptVMSocket makes a session's socket of f, one the privileged helper
// bound.
func adoptVMSocket(sc *config.SessionConfig, mtu int, f *os.File) (daemon.Device, error) {
	s, err := vmsocket.FromFile(vmsocket.Config{Path: sc.Socket.Path, Type: sc.Socket.Type}, f)
	if err != nil {
		return nil, config.Usagef("-socket %s: %v", sc.Socket.Path, err)
	}
	return &vmEndpoint{s, mtu}, nil
}

// bindVMSocket makes a session's socket file, not yet served, and returns
// it.
func bindVMSocket(sc *config.SessionConfig) (*os.File, error) {
	f, err := vmsocket.Bind(vmSocketConfig(sc))
	if err != nil {
		return nil, config.Usagef("-socket %s: %v", sc.Socket.Path, err)
	}
	return f, nil
}

// vmSocketConfig is the socket of session sc, owned by the TAP's -owner
// and -group.
func vmSocketConfig(sc *config.SessionConfig) vmsocket.Config {
	return vmsocket.Config{Path: sc.Socket.Path, Type: sc.Socket.Type, UID: sc.TAP.Owner, GID: sc.TAP.Group}
}

// QEMUHint is the QEMU options that plug a VM into the socket.
func (v *vmEndpoint) QEMUHint() string {
	vm := v.Name() + ".vm"
	if v.Type() == vmsocket.Dgram {
		vm = filepath.Join(filepath.Dir(v.Name()), "vm-"+filepath.Base(v.Name()))
	}
	return v.QEMUOption("n0", vm) + " -device virtio-net-pci,netdev=n0"
}
