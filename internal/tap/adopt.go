//go:build linux

package tap

import (
	"errors"
	"fmt"
	"os"
)

// Facts are what a Device learnt while opening its TAP, which its
// descriptors alone do not say: with them and the descriptors, Adopt
// makes the same Device in another process (one that cannot open TAPs).
type Facts struct {
	Name     string `json:"name"`
	Created  bool   `json:"created"`
	MTU      int    `json:"mtu"`
	VnetHdr  bool   `json:"vnet_hdr"`
	Offloads int    `json:"offloads"`
}

// Facts returns the device's facts, for Adopt.
func (t *Device) Facts() Facts {
	return Facts{Name: t.Name, Created: t.Created, MTU: t.MTU, VnetHdr: t.VnetHdr, Offloads: t.Offloads}
}

// Files returns the descriptors of the device's queues, in order. They
// stay the device's.
func (t *Device) Files() []*os.File {
	files := make([]*os.File, len(t.queues))
	for i, q := range t.queues {
		files[i] = q.file
	}
	return files
}

// Adopt makes a Device of descriptors another process opened for cfg
// (files, one per queue, non-blocking, as Open makes them) and the facts
// it reported. restore, when not nil, gives an attached TAP its state back
// on Close. On error the files are closed.
func Adopt(cfg Config, f Facts, files []*os.File, restore func()) (_ *Device, err error) {
	t := &Device{Name: f.Name, Created: f.Created, MTU: f.MTU, VnetHdr: f.VnetHdr, Offloads: f.Offloads, restore: restore}
	defer func() {
		if err != nil {
			for _, file := range files {
				file.Close()
			}
		}
	}()
	if len(files) == 0 || len(files) > MaxQueues {
		return nil, fmt.Errorf("TAP %q: %d queues handed over", f.Name, len(files))
	}
	if f.VnetHdr && !cfg.Offload {
		return nil, errors.New("TAP " + f.Name + ": a virtio-net header without -offload")
	}
	for _, file := range files {
		q := queue{file: file}
		if q.rc, err = file.SyscallConn(); err != nil {
			return nil, err
		}
		q.rd = newReader(t.VnetHdr)
		t.queues = append(t.queues, q)
	}
	t.w = newWriter(t, cfg.Offload, cfg.CoalesceUDP)
	return t, nil
}
