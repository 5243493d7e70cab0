// Package watertap is a session endpoint on a TAP opened through
// github.com/songgao/water, the portable TAP of systems other than Linux:
// tap-windows6 on Windows, tuntaposx on macOS, /dev/net/tun on Linux (where
// l2tap's own internal/tap is the fast path and this one is selected by
// -tap-driver water). Its data path is the plainest there is: one frame per
// read and per write, one queue, no virtio-net header, no offloads. It
// allocates nothing per frame. Interface settings (MTU, addresses, up
// state, bridges) are left to the system's tools, or to the caller.
//
// water (v0.0.0-20200317203138-2b4b6d7c09d8, its latest) has no TAP for
// FreeBSD; there Open opens the tap(4) device /dev/NAME itself, which
// FreeBSD creates on first open.
package watertap

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
)

// maxFrame is the largest frame read: a TAP's MTU can reach 65535.
const maxFrame = 65535

// Config says which TAP to open.
type Config struct {
	// Name is the interface name: on Linux any name, a %d pattern picking
	// a free number; on macOS tapN (tuntaposx); on FreeBSD tapN; on
	// Windows the adapter's name in the network connections (empty: the
	// first adapter of ComponentID).
	Name string
	// ComponentID is the Windows driver's component ID (empty: tap0901,
	// OpenVPN's tap-windows6). Other systems ignore it.
	ComponentID string
}

// Device is an open TAP carrying Ethernet frames one per read and write.
// It implements the engine's Endpoint.
type Device struct {
	rw     io.ReadWriteCloser
	name   string
	closed atomic.Bool
}

// Open opens the TAP that c names (see open for each system).
func Open(c Config) (*Device, error) {
	rw, name, err := open(c)
	if err != nil {
		return nil, err
	}
	return &Device{rw: rw, name: name}, nil
}

// Name is the interface's name as the system gave it.
func (d *Device) Name() string { return d.name }

// Queues is 1: water opens one queue.
func (d *Device) Queues() int { return 1 }

// ReadLoop reads one frame at a time into arena after headroom bytes and
// hands it to send as a batch of one (pkts[0], headroom included), until
// the device is closed (it returns nil) or a read fails (it returns the
// error). It returns send's error if send fails. q must be 0; frames
// are never malformed here, so dropped is not called.
func (d *Device) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	buf := arena[headroom:min(len(arena), headroom+maxFrame)]
	for {
		n, err := d.rw.Read(buf)
		if err != nil {
			if d.closed.Load() || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		if n == 0 {
			continue
		}
		pkts[0] = arena[:headroom+n]
		if err := send(pkts[:1]); err != nil {
			return err
		}
	}
}

// Write writes each frame with one write. It returns the frames and bytes
// the TAP took, 0 merged, and the first error of the frames it refused,
// having tried every frame; os.ErrClosed at once when the device is closed.
// One goroutine writes at a time.
func (d *Device) Write(frames [][]byte) (written, merged, bytes int, err error) {
	for _, f := range frames {
		if d.closed.Load() {
			return written, 0, bytes, os.ErrClosed
		}
		n, e := d.rw.Write(f)
		if e != nil {
			if errors.Is(e, os.ErrClosed) {
				return written, 0, bytes, os.ErrClosed
			}
			if err == nil {
				err = e
			}
			continue
		}
		written++
		bytes += n
	}
	return written, 0, bytes, err
}

// ReadStats returns zeros: there are no superframes to cut.
func (d *Device) ReadStats() (superframes, offloadErrors uint64) { return 0, 0 }

// Close ends ReadLoop and Write; a TAP the system made for this device
// disappears with it.
func (d *Device) Close() error {
	if d.closed.Swap(true) {
		return os.ErrClosed
	}
	return d.rw.Close()
}
