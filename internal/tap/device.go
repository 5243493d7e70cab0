//go:build linux

// Package tap owns the Linux TAP device a session's frames enter and leave
// by: creating it (or attaching to one that exists), its queues, the
// virtio-net header and the offloads the kernel grants, and reading and
// writing frames in batches, cutting superframes into frames on the way
// in and coalescing frames into superframes on the way out (through
// internal/offload). A Device is an endpoint of the engine.
//
// Which interface does what. /dev/net/tun ioctls (golang.org/x/sys/unix)
// create the TAP or attach to one (TUNSETIFF, once per queue), set the
// owner and group of a TAP l2tap creates, and set the virtio-net header
// size, its byte order and the offloads (TUNSETVNETHDRSZ, TUNSETVNETLE,
// TUNSETOFFLOAD). Netlink (vishvananda/netlink) looks at an interface that
// exists (is it a TAP, is it multi-queue), sets the MTU, the MAC of a TAP
// l2tap creates (mac.go), the bridge master and the up state, and gives an
// attached TAP its MTU and state back.
//
// netlink.Tuntap (v1.3.1) is not used to create the TAP, though it takes a
// mode, flags, queues, owner and group: the kernel refuses RTM_NEWLINK for
// tun and tap ("tun/tap creation via rtnetlink is not supported"), so its
// LinkAdd issues the same ioctls inside the library, and there it
//   - formats the errno of a refused TUNSETIFF into its message instead of
//     wrapping it, so EBUSY (a TAP in use), EPERM (no CAP_NET_ADMIN) and
//     EINVAL (retry without IFF_VNET_HDR) can no longer be told apart;
//   - always issues TUNSETOWNER and TUNSETGROUP, with 0 when none is asked
//     (the kernel refuses -1), so every TAP it creates has user and group
//     root, and the kernel lets a TAP's owner or group attach without
//     CAP_NET_ADMIN, where l2tap leaves a TAP without owner or group unless
//     -owner or -group says;
//   - leaves the descriptor open when one of those two ioctls fails, which
//     keeps the non-persistent TAP alive after a failed start;
//   - given a name that exists, attaches to that TAP and overwrites its
//     owner and group, so it cannot serve -attach either, and it has no call
//     to open further queues of a TAP it did not create.
//
// Its descriptors would do (it sets O_NONBLOCK before os.NewFile, so Go's
// poller drives them), and the virtio-net and offload ioctls would stay in
// any case. Creating through it would change the errors, the ownership and
// the clean failure; the ioctls are a few lines.
package tap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/l2tap/l2tap/internal/offload"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Device is an open TAP carrying Ethernet frames without a packet-info header.
type Device struct {
	Name    string
	Created bool // l2tap created the TAP; closing it removes it
	MTU     int
	queues  []queue // one descriptor per queue; most TAPs have one
	restore func()  // undoes changes to an attached TAP
	// VnetHdr is set when every read and write carries a virtio_net_hdr.
	VnetHdr bool
	// Offloads holds the TUN_F_* flags the kernel accepted.
	Offloads int
	w        *writer
	// superframes and offloadErrors count offloaded reads cut into frames
	// and those dropped as malformed (see ReadStats).
	superframes, offloadErrors atomic.Uint64
}

// queue is one descriptor of a TAP, with the state of the loop reading it.
type queue struct {
	file *os.File
	rc   syscall.RawConn
	rd   *reader
}

// Queues returns the number of queues; Read takes each in turn.
func (t *Device) Queues() int { return len(t.queues) }

// WrapRestore hands the function that gives an attached TAP its state back
// on Close to wrap, which returns the function to call instead (one that
// raises a capability around it, say). It reports whether there is such a
// function: a TAP l2tap created needs none.
func (t *Device) WrapRestore(wrap func(restore func()) func()) bool {
	if t.restore == nil {
		return false
	}
	t.restore = wrap(t.restore)
	return true
}

// ifreq mirrors struct ifreq for the TUN ioctls that take flags.
type ifreq struct {
	name  [unix.IFNAMSIZ]byte
	flags uint16
	_     [22]byte
}

// Open creates or attaches the TAP described by cfg and brings it up.
// A TAP it creates is not persistent: the kernel removes it when l2tap
// exits, however it exits. On error nothing is left behind.
func Open(cfg Config) (_ *Device, err error) {
	if len(cfg.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("TAP name %q is %d bytes; Linux allows at most %d", cfg.Name, len(cfg.Name), unix.IFNAMSIZ-1)
	}
	multi := cfg.Queues > 1
	existing, lerr := netlink.LinkByName(cfg.Name)
	if lerr == nil {
		tt, ok := existing.(*netlink.Tuntap)
		if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
			return nil, fmt.Errorf("interface %q exists and is not a TAP; choose another -ifname", cfg.Name)
		}
		switch isMulti := tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0; {
		case multi && !isMulti:
			return nil, fmt.Errorf("-queues %d: TAP %q has a single queue; recreate it with 'ip tuntap add dev %s mode tap multi_queue' or drop -queues", cfg.Queues, cfg.Name, cfg.Name)
		case isMulti:
			multi = true // a multi-queue TAP only takes multi-queue descriptors
		}
	} else if cfg.Attach {
		return nil, fmt.Errorf("-attach: no TAP named %q; create it with 'ip tuntap add dev %s mode tap' or drop -attach", cfg.Name, cfg.Name)
	}

	var req ifreq
	copy(req.name[:], cfg.Name)
	req.flags = unix.IFF_TAP | unix.IFF_NO_PI
	if multi {
		req.flags |= unix.IFF_MULTI_QUEUE
	}
	if cfg.Offload {
		req.flags |= unix.IFF_VNET_HDR
	}
	q, err := openQueue(&req)
	if errors.Is(err, unix.EINVAL) && cfg.Offload {
		req.flags &^= unix.IFF_VNET_HDR
		q, err = openQueue(&req)
	}
	if e, ok := err.(syscall.Errno); ok { // the kernel refused the TAP itself
		if e == unix.EBUSY {
			return nil, fmt.Errorf("TAP %q is in use by another program", cfg.Name)
		}
		return nil, fmt.Errorf("create TAP %q: %w", cfg.Name, e)
	}
	if err != nil {
		return nil, err
	}
	tap := &Device{Name: unix.ByteSliceToString(req.name[:]), Created: existing == nil, queues: []queue{q}}
	// On any error below: let go of the queues (a TAP l2tap created goes
	// with them) and give an attached TAP its state back.
	defer func() {
		if err != nil {
			tap.closeQueues()
			tap.undo()
		}
	}()
	var cerr error
	if err := q.rc.Control(func(fd uintptr) { cerr = tap.configure(int(fd), cfg, req.flags) }); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	// Further queues attach to the device by name with the same flags.
	for i := 1; i < cfg.Queues; i++ {
		q, err := openQueue(&req)
		if err != nil {
			return nil, fmt.Errorf("open queue %d of TAP %q: %w", i, tap.Name, err)
		}
		tap.queues = append(tap.queues, q)
	}
	link, err := netlink.LinkByName(tap.Name)
	if err != nil {
		return nil, fmt.Errorf("find TAP %q: %w", tap.Name, err)
	}
	attrs := *link.Attrs()
	if !tap.Created {
		tap.restore = func() {
			netlink.LinkSetMTU(link, attrs.MTU)
			if attrs.Flags&net.FlagUp == 0 {
				netlink.LinkSetDown(link)
			}
		}
	}
	tap.MTU = attrs.MTU
	if cfg.MTU > 0 && cfg.MTU != attrs.MTU {
		if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
			return nil, fmt.Errorf("set MTU %d on TAP %q: %w", cfg.MTU, tap.Name, err)
		}
		tap.MTU = cfg.MTU
	}
	if mac := cfg.MACFor(tap.Name); tap.Created && mac != nil {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return nil, fmt.Errorf("set MAC %s on TAP %q: %w", mac, tap.Name, err)
		}
	}
	if cfg.Master != "" {
		br, err := netlink.LinkByName(cfg.Master)
		if err != nil {
			return nil, fmt.Errorf("-master %s: no such interface", cfg.Master)
		}
		if err := netlink.LinkSetMaster(link, br); err != nil {
			return nil, fmt.Errorf("-master %s: enslave TAP %q: %w", cfg.Master, tap.Name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bring TAP %q up: %w", tap.Name, err)
	}
	for i := range tap.queues {
		tap.queues[i].rd = newReader(tap.VnetHdr)
	}
	tap.w = newWriter(tap, cfg.Offload, cfg.CoalesceUDP)
	return tap, nil
}

// configure sets up the device through one of its descriptors, fd: the
// virtio-net header and offloads when flags has IFF_VNET_HDR, and the owner
// and group of a TAP l2tap creates.
func (t *Device) configure(fd int, cfg Config, flags uint16) error {
	if flags&unix.IFF_VNET_HDR != 0 {
		offloads, err := setOffloads(fd)
		if err != nil {
			return fmt.Errorf("TAP %q: %w", t.Name, err)
		}
		t.Offloads, t.VnetHdr = offloads, true
	}
	if !t.Created {
		return nil
	}
	if cfg.Owner >= 0 {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, cfg.Owner); err != nil {
			return fmt.Errorf("set owner of TAP %q: %w", t.Name, err)
		}
	}
	if cfg.Group >= 0 {
		if err := unix.IoctlSetInt(fd, unix.TUNSETGROUP, cfg.Group); err != nil {
			return fmt.Errorf("set group of TAP %q: %w", t.Name, err)
		}
	}
	return nil
}

// openQueue opens /dev/net/tun and attaches it to the TAP that req names,
// with req's flags; the kernel writes the TAP's name into req (a %d pattern
// resolved). A refusal of the attach is returned as the bare errno.
func openQueue(req *ifreq) (queue, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return queue{}, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(req))); e != 0 {
		unix.Close(fd)
		return queue{}, e
	}
	q := queue{file: os.NewFile(uintptr(fd), "/dev/net/tun")}
	if q.rc, err = q.file.SyscallConn(); err != nil {
		q.file.Close()
		return queue{}, err
	}
	return q, nil
}

// setOffloads sets the virtio-net header size and byte order (little-endian,
// see offload.VnetHdr) and enables the richest set of offloads the kernel takes:
// checksum, TSO and, where present, USO. It returns the TUN_F_* flags in
// force.
func setOffloads(fd int) (int, error) {
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, offload.VnetHdrLen); err != nil {
		return 0, fmt.Errorf("set virtio-net header size: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETLE, 1); err != nil {
		return 0, fmt.Errorf("set virtio-net header byte order to little-endian: %w", err)
	}
	return chooseOffloads(func(flags int) bool {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETOFFLOAD, uintptr(flags))
		return e == 0
	}), nil
}

// offloadSets are the TUN_F_* sets offered to the kernel, richest first:
// USO arrived in Linux 6.2, TSO and checksum offload long before.
var offloadSets = []int{offload.TunCsum | offload.TunTSO4 | offload.TunTSO6 | offload.TunUSO4 | offload.TunUSO6, offload.TunCsum | offload.TunTSO4 | offload.TunTSO6, offload.TunCsum, 0}

// chooseOffloads returns the first of offloadSets that try accepts, or 0.
func chooseOffloads(try func(flags int) bool) int {
	for _, f := range offloadSets {
		if try(f) {
			return f
		}
	}
	return 0
}

// dropOffloads hands an attached TAP back without offloads and with the
// kernel's default virtio-net byte order: whoever uses it next may not read
// virtio-net headers, and must get no superframes. It does nothing once the
// TAP is closed.
func (t *Device) dropOffloads() {
	if t.VnetHdr && !t.Created {
		t.queues[0].rc.Control(func(fd uintptr) {
			unix.Syscall(unix.SYS_IOCTL, fd, unix.TUNSETOFFLOAD, 0)
			unix.IoctlSetPointerInt(int(fd), unix.TUNSETVNETLE, 0)
		})
	}
}

func (t *Device) undo() {
	if t.restore != nil {
		t.restore()
		t.restore = nil
	}
}

// Close detaches from the TAP: one l2tap created disappears, an attached one
// gets its MTU and up/down state back.
func (t *Device) Close() error {
	t.dropOffloads()
	err := t.closeQueues()
	t.undo()
	return err
}

// closeQueues closes every queue's descriptor, which stops the loops
// reading them; a TAP l2tap created goes away with the last one.
func (t *Device) closeQueues() error {
	var err error
	for _, q := range t.queues {
		if e := q.file.Close(); err == nil {
			err = e
		}
	}
	return err
}

// SetCarrier turns the TAP's carrier on or off (TUNSETCARRIER): with the
// carrier off the kernel sends nothing into the TAP and tells its users
// (a bridge, a routing daemon) that the link is down. Frames written to
// the TAP still arrive. The kernel turns the carrier on again when a TAP
// is attached to.
func (t *Device) SetCarrier(on bool) error {
	v := 0
	if on {
		v = 1
	}
	var err error
	if cerr := t.queues[0].rc.Control(func(fd uintptr) {
		err = unix.IoctlSetPointerInt(int(fd), unix.TUNSETCARRIER, v)
	}); cerr != nil {
		return fmt.Errorf("TAP %q: %w", t.Name, cerr)
	}
	if err != nil {
		return fmt.Errorf("set carrier of TAP %q: %w", t.Name, err)
	}
	return nil
}

// PauseReads ends every ReadLoop of the device (they return nil, as when
// it is closed) without closing it: the TAP stays, with its carrier and
// configuration, for a later session. ResumeReads lets ReadLoop run
// again. Go's poller implements the pause with an expired read deadline,
// so neither makes a system call.
func (t *Device) PauseReads() {
	for _, q := range t.queues {
		q.file.SetReadDeadline(time.Unix(1, 0))
	}
}

// ResumeReads undoes PauseReads; call it once the loops have returned.
func (t *Device) ResumeReads() {
	for _, q := range t.queues {
		q.file.SetReadDeadline(time.Time{})
	}
}
