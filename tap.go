//go:build linux

package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/tap"
	"golang.org/x/sys/unix"
)

// openTAP opens the TAP of a session, explaining permission errors.
func openTAP(c config.TAPConfig) (*tap.Device, error) {
	dev, err := tap.Open(c)
	if err != nil {
		return nil, explainTAPError(err)
	}
	if dev.Created {
		warnRandomMAC(&c, dev.Name)
	}
	return dev, nil
}

// warnRandomMAC warns that a TAP l2tap created, name, has a new random MAC
// because -mac persistent (the default) found no machine ID.
func warnRandomMAC(c *config.TAPConfig, name string) {
	if config.PersistentMACMissing(c) {
		slog.Warn("no machine ID to derive the TAP's MAC from: it is random and changes on every start; create the machine ID file (systemd-machine-id-setup), or give -mac ADDR",
			"tap", name, "file", config.MachineIDFile)
	}
}

// explainTAPError adds the missing capability to permission errors; every
// error of opening a TAP is one of its options, reported as such.
func explainTAPError(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return config.Usagef("%v: creating or configuring a TAP needs CAP_NET_ADMIN; run as root or grant it", err)
	}
	var ue config.UsageError
	if errors.As(err, &ue) {
		return err
	}
	return config.UsageError{Err: err}
}

// adoptTAP makes a session's TAP of the queues the privileged helper
// opened.
func adoptTAP(c config.TAPConfig, facts tap.Facts, files []*os.File, restore func()) (daemon.Device, error) {
	dev, err := tap.Adopt(c, facts, files, restore)
	if err != nil {
		return nil, err
	}
	return tapEndpoint{dev}, nil
}

// tapEndpoint is a tap.Device as the engine sees it.
type tapEndpoint struct{ *tap.Device }

func (t tapEndpoint) Name() string { return t.Device.Name }
func (t tapEndpoint) MTU() int     { return t.Device.MTU }
