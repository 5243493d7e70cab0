package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TAPConfig says which TAP to use and how to set it up.
type TAPConfig struct {
	Name   string // interface name; may hold a %d pattern
	Attach bool   // the TAP must already exist
	MTU    int    // 0 leaves the MTU as it is
	Owner  int    // -1 for none
	Group  int    // -1 for none
	Master string // bridge to enslave the TAP to, or ""
}

// TAP is an open TAP device carrying Ethernet frames without a packet-info header.
type TAP struct {
	Name    string
	Created bool // l2tap created the TAP; closing it removes it
	MTU     int
	file    *os.File
	rc      syscall.RawConn
	restore func() // undoes changes to an attached TAP
}

// ifreq mirrors struct ifreq for the TUN ioctls that take flags.
type ifreq struct {
	name  [unix.IFNAMSIZ]byte
	flags uint16
	_     [22]byte
}

// OpenTAP creates or attaches the TAP described by cfg and brings it up.
// A TAP it creates is not persistent: the kernel removes it when l2tap
// exits, however it exits. On error nothing is left behind.
func OpenTAP(cfg TAPConfig) (_ *TAP, err error) {
	if len(cfg.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("TAP name %q is %d bytes; Linux allows at most %d", cfg.Name, len(cfg.Name), unix.IFNAMSIZ-1)
	}
	existing, lerr := netlink.LinkByName(cfg.Name)
	if lerr == nil {
		if tt, ok := existing.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
			return nil, fmt.Errorf("interface %q exists and is not a TAP; choose another -ifname", cfg.Name)
		}
	} else if cfg.Attach {
		return nil, fmt.Errorf("-attach: no TAP named %q; create it with 'ip tuntap add dev %s mode tap' or drop -attach", cfg.Name, cfg.Name)
	}

	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	var req ifreq
	copy(req.name[:], cfg.Name)
	req.flags = unix.IFF_TAP | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); e != 0 {
		if e == unix.EBUSY {
			return nil, fmt.Errorf("TAP %q is in use by another program", cfg.Name)
		}
		return nil, fmt.Errorf("create TAP %q: %w", cfg.Name, e)
	}
	tap := &TAP{Name: unix.ByteSliceToString(req.name[:]), Created: existing == nil}
	if tap.Created {
		if cfg.Owner >= 0 {
			if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, cfg.Owner); err != nil {
				return nil, fmt.Errorf("set owner of TAP %q: %w", tap.Name, err)
			}
		}
		if cfg.Group >= 0 {
			if err := unix.IoctlSetInt(fd, unix.TUNSETGROUP, cfg.Group); err != nil {
				return nil, fmt.Errorf("set group of TAP %q: %w", tap.Name, err)
			}
		}
	}
	link, err := netlink.LinkByName(tap.Name)
	if err != nil {
		return nil, fmt.Errorf("find TAP %q: %w", tap.Name, err)
	}
	attrs := *link.Attrs()
	if !tap.Created {
		tap.restore = func() {
			netlink.LinkSetMTU(link, attrs.MTU)
			if attrs.Flags&(1<<0) == 0 { // was down
				netlink.LinkSetDown(link)
			}
		}
	}
	tap.MTU = attrs.MTU
	if cfg.MTU > 0 && cfg.MTU != attrs.MTU {
		if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
			tap.undo()
			return nil, fmt.Errorf("set MTU %d on TAP %q: %w", cfg.MTU, tap.Name, err)
		}
		tap.MTU = cfg.MTU
	}
	if cfg.Master != "" {
		br, err := netlink.LinkByName(cfg.Master)
		if err != nil {
			tap.undo()
			return nil, fmt.Errorf("-master %s: no such interface", cfg.Master)
		}
		if err := netlink.LinkSetMaster(link, br); err != nil {
			tap.undo()
			return nil, fmt.Errorf("-master %s: enslave TAP %q: %w", cfg.Master, tap.Name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		tap.undo()
		return nil, fmt.Errorf("bring TAP %q up: %w", tap.Name, err)
	}
	tap.file = os.NewFile(uintptr(fd), "/dev/net/tun")
	if tap.rc, err = tap.file.SyscallConn(); err != nil {
		tap.file.Close()
		tap.undo()
		return nil, err
	}
	return tap, nil
}

func (t *TAP) undo() {
	if t.restore != nil {
		t.restore()
		t.restore = nil
	}
}

// Close detaches from the TAP: one l2tap created disappears, an attached one
// gets its MTU and up/down state back.
func (t *TAP) Close() error {
	err := t.file.Close()
	t.undo()
	return err
}

// TAPReader reads frames from a TAP into a batch, as many as are ready.
type TAPReader struct {
	tap      *TAP
	b        *Batch
	headroom int // bytes left free before each frame
	errno    syscall.Errno
	fn       func(fd uintptr) bool
}

// NewReader prepares to read frames into b, each at offset headroom.
func (t *TAP) NewReader(b *Batch, headroom int) *TAPReader {
	r := &TAPReader{tap: t, b: b, headroom: headroom}
	r.fn = r.read
	return r
}

func (r *TAPReader) read(fd uintptr) bool {
	b := r.b
	for b.N < len(b.Bufs) {
		buf := b.Bufs[b.N][r.headroom:]
		n, _, e := unix.Syscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e != 0 {
			if e == unix.EAGAIN || e == unix.EINTR {
				return b.N > 0
			}
			r.errno = e
			return true
		}
		b.Lens[b.N] = int(n)
		b.N++
	}
	return true
}

// Read blocks until at least one frame is ready, then fills the batch with
// every ready frame (up to its size). Lens[i] is the frame length; the frame
// is Bufs[i][headroom:headroom+Lens[i]].
func (r *TAPReader) Read() error {
	r.b.N, r.errno = 0, 0
	if err := r.tap.rc.Read(r.fn); err != nil {
		return os.ErrClosed // the poller fails only once the file is closed
	}
	if r.errno != 0 && r.b.N == 0 {
		return fmt.Errorf("read TAP %q: %w", r.tap.Name, r.errno)
	}
	return nil
}

// TAPWriter writes single frames to a TAP.
type TAPWriter struct {
	tap   *TAP
	frame []byte
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// NewWriter prepares to write frames to t.
func (t *TAP) NewWriter() *TAPWriter {
	w := &TAPWriter{tap: t}
	w.fn = w.write
	return w
}

func (w *TAPWriter) write(fd uintptr) bool {
	_, _, e := unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.frame[0])), uintptr(len(w.frame)))
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	w.errno = e
	return true
}

// Write hands one Ethernet frame to the kernel. A frame the kernel refuses
// returns its errno; a closed TAP returns os.ErrClosed.
func (w *TAPWriter) Write(frame []byte) error {
	w.frame, w.errno = frame, 0
	if err := w.tap.rc.Write(w.fn); err != nil {
		return os.ErrClosed // the poller fails only once the file is closed
	}
	if w.errno != 0 {
		return w.errno
	}
	return nil
}

var errNotTAP = errors.New("not a TAP")
