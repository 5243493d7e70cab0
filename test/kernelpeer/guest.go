//go:build linux

package kernelpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Underlay addresses: the guest's eth0 and the namespace's TAP facing it.
const (
	HostAddr4  = "192.0.2.1"
	GuestAddr4 = "192.0.2.2"
	HostAddr6  = "2001:db8::1"
	GuestAddr6 = "2001:db8::2"
)

// GuestConfig describes how to boot a guest.
type GuestConfig struct {
	Image   Image
	Netns   *Netns
	TapName string // TAP created in Netns and handed to QEMU, e.g. "kptap0"
	WorkDir string // holds the command socket and the console log
	// Accel is the QEMU accelerator: "tcg" (default) or "kvm". KVM is
	// faster where the host CPU exposes virtualisation to us; where it
	// does not, /dev/kvm may exist but a guest kernel hangs at boot.
	Accel       string
	BootTimeout time.Duration // default 3 minutes
	// Netdev, when set, backs the NIC instead of a TAP: QEMU -netdev
	// options without the id (such as an l2tap -socket's "stream,..."),
	// and TapName is not used.
	Netdev string
	// VhostUser, when set, backs the NIC instead of a TAP or Netdev: the
	// path of a vhost-user backend's socket (QEMU connects to it), with
	// the guest's memory in a shared memfd as vhost-user needs.
	VhostUser string
	// NICOptions are more options of the virtio-net-pci device, each
	// after a comma (such as ",host_mtu=1450" from l2tap's printed QEMU
	// options).
	NICOptions string
	// Addr4 and Addr6 are eth0's addresses with their prefixes; default
	// GuestAddr4/24 and GuestAddr6/64.
	Addr4, Addr6 string
}

// Guest is a running QEMU guest that serves shell commands.
type Guest struct {
	cmd        *exec.Cmd
	conn       net.Conn
	consoleLog string
	exited     chan struct{} // closed when QEMU exits
	waitErr    error         // QEMU's exit status, valid after exited is closed
	qemuOut    bytes.Buffer  // QEMU's stdout and stderr, to read after exited is closed

	mu     sync.Mutex
	buf    []byte // bytes received but not yet consumed
	seq    int
	broken error // set when the channel lost sync; every later Run fails
}

const readyMarker = "\n@@KP-READY@@\n"

var endMarker = regexp.MustCompile(`\n@@KP-END ([0-9a-z]+) ([0-9]+)@@\n`)

// Boot creates cfg.TapName in cfg.Netns, starts QEMU inside the namespace
// with its NIC on that TAP and waits until the guest reports ready. On
// error nothing is left running and the TAP is deleted again.
func Boot(ctx context.Context, cfg GuestConfig) (*Guest, error) {
	if cfg.Accel == "" {
		cfg.Accel = "tcg"
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = 3 * time.Minute
	}
	if cfg.Addr4 == "" {
		cfg.Addr4 = GuestAddr4 + "/24"
	}
	if cfg.Addr6 == "" {
		cfg.Addr6 = GuestAddr6 + "/64"
	}
	ns := cfg.Netns
	netdev := "tap,id=n0,ifname=" + cfg.TapName + ",script=no,downscript=no"
	if cfg.Netdev != "" {
		netdev = cfg.Netdev + ",id=n0"
	}
	nic := "virtio-net-pci,netdev=n0,romfile=" + cfg.NICOptions
	var memory []string
	if cfg.VhostUser != "" {
		cfg.Netdev = "vhost-user"
		netdev = "vhost-user,id=n0,chardev=vu0"
		memory = []string{"-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
			"-chardev", "socket,id=vu0,path=" + cfg.VhostUser}
		// QEMU 7.2 under TCG crashes in vhost_net_start when the guest
		// enables MSI-X on a vhost-user NIC: legacy interrupts.
		nic += ",vectors=0"
	}
	for _, args := range [][]string{
		{"ip", "tuntap", "add", "dev", cfg.TapName, "mode", "tap"},
		{"ip", "addr", "add", HostAddr4 + "/24", "dev", cfg.TapName},
		{"ip", "addr", "add", HostAddr6 + "/64", "dev", cfg.TapName, "nodad"},
		{"ip", "link", "set", cfg.TapName, "up"},
	} {
		if cfg.Netdev != "" {
			break
		}
		if _, err := ns.Output(ctx, args...); err != nil {
			_, _ = ns.Output(context.Background(), "ip", "link", "del", cfg.TapName)
			return nil, fmt.Errorf("set up underlay TAP: %w", err)
		}
	}

	sockPath := filepath.Join(cfg.WorkDir, "cmd.sock")
	_ = os.Remove(sockPath)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on command socket: %w", err)
	}
	defer ln.Close()

	g := &Guest{
		consoleLog: filepath.Join(cfg.WorkDir, "console.log"),
		exited:     make(chan struct{}),
	}
	args := []string{
		"qemu-system-x86_64",
		"-nographic", "-nodefaults", "-no-reboot",
		"-accel", cfg.Accel,
		"-m", "256",
		"-kernel", cfg.Image.Kernel,
		"-initrd", cfg.Image.Initrd,
		"-append", "console=ttyS0 panic=-1 quiet kp.addr4=" + cfg.Addr4 + " kp.addr6=" + cfg.Addr6,
		"-serial", "file:" + g.consoleLog,
		"-chardev", "socket,id=cmd,path=" + sockPath,
		"-serial", "chardev:cmd",
	}
	args = append(args, memory...)
	args = append(args, "-netdev", netdev, "-device", nic)
	g.cmd = ns.Command(context.Background(), args...)
	qemuOut := &g.qemuOut
	g.cmd.Stdout = qemuOut
	g.cmd.Stderr = qemuOut
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	go func() {
		g.waitErr = g.cmd.Wait()
		close(g.exited)
	}()

	fail := func(err error) (*Guest, error) {
		g.kill()
		if cfg.Netdev == "" {
			_, _ = ns.Output(context.Background(), "ip", "link", "del", cfg.TapName)
		}
		return nil, fmt.Errorf("%w\nqemu output: %s\nconsole tail:\n%s", err, qemuOut.String(), g.ConsoleTail(30))
	}

	deadline := time.Now().Add(cfg.BootTimeout)
	accepted := make(chan net.Conn, 1)
	go func() {
		_ = ln.SetDeadline(deadline)
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	select {
	case c, ok := <-accepted:
		if !ok {
			return fail(errors.New("qemu did not connect to the command socket"))
		}
		g.conn = c
	case <-g.exited:
		return fail(fmt.Errorf("qemu exited at startup: %v", g.waitErr))
	case <-ctx.Done():
		return fail(ctx.Err())
	}

	if err := g.readUntil(deadline, func(b []byte) int {
		if i := bytes.Index(b, []byte(readyMarker)); i >= 0 {
			return i + len(readyMarker)
		}
		return -1
	}); err != nil {
		return fail(fmt.Errorf("wait for guest ready (accel %s): %w", cfg.Accel, err))
	}
	return g, nil
}

// readUntil reads from the command channel into g.buf until match returns
// the index just past what it was looking for, then drops the bytes up to
// that index. It fails at the deadline or when QEMU exits.
func (g *Guest) readUntil(deadline time.Time, match func([]byte) int) error {
	chunk := make([]byte, 4096)
	for {
		if n := match(g.buf); n >= 0 {
			g.buf = g.buf[n:]
			return nil
		}
		if err := g.conn.SetReadDeadline(deadline); err != nil {
			return fmt.Errorf("set read deadline: %w", err)
		}
		n, err := g.conn.Read(chunk)
		g.buf = append(g.buf, chunk[:n]...)
		if err != nil {
			select {
			case <-g.exited:
				return fmt.Errorf("qemu exited (%v): %w", g.waitErr, err)
			default:
			}
			return fmt.Errorf("read command channel: %w", err)
		}
	}
}

// DefaultRunTimeout bounds one guest command in Run. A TCG guest that
// make test runs niced beside test/e2e can be starved for tens of
// seconds on a busy host (a 60 s bound was once outrun by a cat), so the
// bound is for a hung guest, not a slow one.
const DefaultRunTimeout = 3 * time.Minute

// Run executes cmd with sh in the guest and returns its combined output
// and exit status. cmd must be a single line; its standard input is
// /dev/null. err reports a failure of the channel, not of the command: a
// command that exits non-zero returns its status and a nil error.
func (g *Guest) Run(cmd string) (output string, exitStatus int, err error) {
	return g.RunTimeout(cmd, DefaultRunTimeout)
}

// RunTimeout is Run with an explicit timeout. After a timeout the channel
// is out of step with the guest and every later call fails.
func (g *Guest) RunTimeout(cmd string, timeout time.Duration) (output string, exitStatus int, err error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", -1, fmt.Errorf("guest command must be one line: %q", cmd)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.broken != nil {
		return "", -1, fmt.Errorf("guest command channel unusable: %w", g.broken)
	}
	g.seq++
	id := strconv.FormatInt(int64(g.seq), 36)
	if err := g.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return "", -1, fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := g.conn.Write([]byte(id + ":" + cmd + "\n")); err != nil {
		g.broken = fmt.Errorf("write %q: %w", cmd, err)
		return "", -1, g.broken
	}
	var out string
	status := -1
	err = g.readUntil(time.Now().Add(timeout), func(b []byte) int {
		for _, m := range endMarker.FindAllSubmatchIndex(b, -1) {
			if string(b[m[2]:m[3]]) != id {
				continue
			}
			out = string(b[:m[0]])
			status, _ = strconv.Atoi(string(b[m[4]:m[5]]))
			return m[1]
		}
		return -1
	})
	if err != nil {
		g.broken = fmt.Errorf("run %q: %w", cmd, err)
		return "", -1, g.broken
	}
	return out, status, nil
}

// MustRun runs cmd and returns its output, failing with the output when
// the command exits non-zero or the channel fails.
func (g *Guest) MustRun(cmd string) (string, error) {
	out, st, err := g.Run(cmd)
	if err != nil {
		return out, err
	}
	if st != 0 {
		return out, fmt.Errorf("guest: %s: exit status %d: %s", cmd, st, out)
	}
	return out, nil
}

// ConsoleTail returns the last n lines of the guest's serial console.
func (g *Guest) ConsoleTail(n int) string {
	data, err := os.ReadFile(g.consoleLog)
	if err != nil {
		return fmt.Sprintf("(no console log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops QEMU (by PID) and closes the command channel. It is safe to
// call more than once.
func (g *Guest) Close() error {
	if g.conn != nil {
		_ = g.conn.Close()
	}
	g.kill()
	return nil
}

func (g *Guest) kill() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}
