//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vmStandIn is a QEMU with no guest that stands in for a VM whose NIC is
// on an l2tap socket: a hub joins its socket netdev to a tap netdev on a
// persistent TAP in a test namespace, so that frames sent on the TAP go
// to l2tap's socket and the reverse. It runs as root (it opens
// /dev/net/tun) with umask 0, so that l2tap, running as nobody, may send
// to its datagram socket.

type vmStandIn struct {
	t      *testing.T
	ns     netns
	netdev string // the socket netdev's options
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan error
}

// startVMStandIn makes the persistent TAP dev in ns with the overlay
// address addr, and starts QEMU on it.
func startVMStandIn(t *testing.T, ns netns, dev, addr, netdev string) *vmStandIn {
	t.Helper()
	ns.ip(t, "tuntap", "add", "dev", dev, "mode", "tap")
	ns.ip(t, "addr", "add", addr, "dev", dev)
	ns.ip(t, "link", "set", dev, "up")
	v := &vmStandIn{t: t, ns: ns, netdev: netdev}
	v.start(dev)
	t.Cleanup(v.kill)
	return v
}

func (v *vmStandIn) start(dev string) {
	v.t.Helper()
	v.out = &syncBuffer{}
	args := []string{"-c", `umask 0 && exec "$@"`, "sh", "qemu-system-x86_64",
		"-M", "none", "-nodefaults", "-display", "none",
		"-netdev", fmt.Sprintf("tap,id=t,ifname=%s,script=no,downscript=no", dev),
		"-netdev", v.netdev + ",id=s",
		"-netdev", "hubport,id=ht,hubid=0,netdev=t",
		"-netdev", "hubport,id=hs,hubid=0,netdev=s"}
	v.cmd = v.ns.cmd("sh", args...)
	v.cmd.Stdout, v.cmd.Stderr = v.out, v.out
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	v.exited = make(chan error, 1)
	go func() { v.exited <- v.cmd.Wait() }()
}

func (v *vmStandIn) kill() {
	if v.cmd == nil {
		return
	}
	v.cmd.Process.Kill()
	<-v.exited
	v.cmd = nil
}

// socketDir is a directory for the sockets of one test, owned by nobody.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "l2tap-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run(t, "chown", "nobody:nogroup", dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestQEMUSocket plugs a QEMU stand-in for a VM (see vmStandIn) into
// l2tap's -socket, both stream and dgram, with l2tap as nobody under the
// default seccomp filter, and pings across the pseudowire to a second
// l2tap on a TAP and to QEMU's own -netdev l2tpv3; then QEMU is killed and
// started again, and traffic flows again without restarting l2tap; a
// second client is refused while the first is served.
func TestQEMUSocket(t *testing.T) {
	requireTools(t, true, "qemu-system-x86_64", "setpriv", "ping")
	// Beside other tests: traffic resumes about 0.25 s after QEMU's
	// restart; the 10 s bound leaves ample slack for a busy host.
	t.Parallel()
	for _, typ := range []string{"stream", "dgram"} {
		for _, peer := range []string{"l2tap", "qemu"} {
			t.Run(typ+"-"+peer, func(t *testing.T) { testQEMUSocket(t, typ, peer) })
		}
	}
}

func testQEMUSocket(t *testing.T, typ, peer string) {
	a, b := vethPair(t, "qs")
	dir := socketDir(t)
	sock := filepath.Join(dir, "vm.sock")
	pa := startL2tap(t, a, "-udp", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-srcport", "1701", "-dstport", "1701",
		"-txsession", "1", "-socket", sock, "-socket-type", typ, "-user", "nobody", "-owner", "nobody", "-control", "off")
	if !strings.Contains(<-readyLine(pa), "socket="+sock) {
		t.Errorf("ready line names no socket=%s", sock)
	}
	netdev := "stream,server=off,addr.type=unix,addr.path=" + sock
	if typ == "dgram" {
		netdev = fmt.Sprintf("dgram,local.type=unix,local.path=%s/vm-vm.sock,remote.type=unix,remote.path=%s", dir, sock)
	}
	// The option l2tap prints is the one used here, id apart.
	waitLog(t, pa, "connect a VM with socket=.* "+regexp.QuoteMeta(`qemu="-netdev `+strings.Replace(netdev, ",", ",id=n0,", 1)), 10*time.Second)
	var pb *proc
	if peer == "l2tap" {
		pb = startL2tap(t, b, "-udp", "-src", "192.0.2.2", "-dst", "192.0.2.1", "-srcport", "1701", "-dstport", "1701",
			"-txsession", "1", "-ifname", "qsb")
		b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "qsb")
	} else {
		startQEMU(t, b, "qsb", qemuEncaps["udp4"]+",txsession=1,rxsession=1")
		b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "qsb")
		b.ip(t, "link", "set", "qsb", "up")
	}
	vm := startVMStandIn(t, a, "qsa", "10.1.0.1/24", netdev)
	if typ == "stream" {
		waitLog(t, pa, regexp.QuoteMeta("VM connected"), 10*time.Second)
	}
	if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
		t.Fatalf("%v\nl2tap:\n%s\nqemu:\n%s", err, pa.stderr.String(), vm.out.String())
	}
	pingAll(t, pingCheck{a, "10.1.0.2", 56}, pingCheck{a, "10.1.0.2", 1400}, pingCheck{b, "10.1.0.1", 1400})

	// A second client while the first is served: a QEMU run by nobody,
	// whom -owner lets connect, and refused; another user may not connect.
	if typ == "stream" {
		qemu := []string{"qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none", "-netdev", netdev + ",id=s"}
		second := exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups"}, qemu...)...)
		out := &syncBuffer{}
		second.Stdout, second.Stderr = out, out
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		waitLog(t, pa, regexp.QuoteMeta("a second VM connected while one is served: refused"), 10*time.Second)
		second.Process.Kill()
		second.Wait()
		var st syscall.Stat_t
		if err := syscall.Stat(sock, &st); err != nil || st.Mode&0o777 != 0o600 || st.Uid != uint32(lookupUID(t, "nobody")) {
			t.Errorf("socket file: mode %o uid %d (%v), want 0600 and nobody's", st.Mode&0o777, st.Uid, err)
		}
	} else {
		c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "other.sock"), Net: "unixgram"}, &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		c.Write(make([]byte, 60))
		c.Close()
		waitLog(t, pa, regexp.QuoteMeta("refused (one VM per socket)"), 10*time.Second)
	}
	pingAll(t, pingCheck{a, "10.1.0.2", 56})

	// QEMU killed and started again: served again, l2tap untouched.
	vm.kill()
	if typ == "stream" {
		waitLog(t, pa, regexp.QuoteMeta("VM disconnected"), 10*time.Second)
	}
	start := time.Now()
	vm.start("qsa")
	// Probes 200 ms apart: the time from QEMU's start to the first reply.
	for a.cmd("ping", "-c", "1", "-W", "0.2", "10.1.0.2").Run() != nil {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("after QEMU's restart: no reply in 10 s\nl2tap:\n%s\nqemu:\n%s", pa.stderr.String(), vm.out.String())
		}
	}
	t.Logf("%s, peer %s: traffic again %v after QEMU's restart", typ, peer, time.Since(start).Round(time.Millisecond))
	pingAll(t, pingCheck{a, "10.1.0.2", 1400})

	c := pa.stop(t)
	if c["tx_packets"] < 10 || c["rx_packets"] < 10 || c["socket_bad_frames"] != 0 {
		t.Errorf("socket side counters: %v", c)
	}
	if want := map[string]uint64{"stream": 0, "dgram": 1}[typ]; c["socket_refused"] != want {
		t.Errorf("socket_refused %d, want %d", c["socket_refused"], want)
	}
	if pb != nil {
		if cb := pb.stop(t); cb["rx_packets"] < 10 {
			t.Errorf("TAP side counters: %v", cb)
		}
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after l2tap's exit: %v", err)
	}
}

// readyLine returns l2tap's ready line, which startL2tap has seen.
func readyLine(p *proc) <-chan string {
	c := make(chan string, 1)
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.HasPrefix(l, "l2tap: ready") {
			c <- l
			return c
		}
	}
	c <- ""
	return c
}

// lookupUID returns a user's uid.
func lookupUID(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSocketFile: a -socket file something listens on refuses the start
// in one line; a stale one is replaced; a setup that fails after the
// socket was made (a later session's TAP) removes it; a clean exit too.
func TestSocketFile(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "sf")
	// l2tap runs as its default account once set up: the file is removed
	// at exit where that account may write (see Least privilege).
	dir := accountDir(t)
	sock := filepath.Join(dir, "vm.sock")
	udp := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1", "-control", "off"}
	gone := func(t *testing.T, why string) {
		t.Helper()
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: socket file %v", why, err)
		}
	}

	// Stale: bound, then closed without removing the file.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	p := startL2tap(t, a, append(udp, "-socket", sock)...)
	// Live: a second l2tap on the same socket is refused.
	runBad(t, a, append(slices.Clone(udp[:len(udp)-2]), "-srcport", "1702", "-dstport", "1702", "-socket", sock),
		"-socket "+sock, "in use")
	p.stop(t)
	gone(t, "after a clean exit")

	// A setup error after the socket was made: the next session's TAP
	// cannot be made (an interface of that name that is no TAP).
	cfg := filepath.Join(dir, "l2tap.toml")
	os.WriteFile(cfg, []byte(`[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
[[tunnel.session]]
txsession = 1
socket = "`+sock+`"
[[tunnel.session]]
txsession = 2
ifname = "ua"
`), 0o644)
	out, err := a.cmd(l2tapBinary(t), "-config", cfg, "-control", "off").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a TAP") {
		t.Errorf("want a setup error naming the TAP, got %v: %s", err, out)
	}
	gone(t, "after a failed setup")
}

// TestSocketReload: SIGHUP adds a -socket session to a running l2tap (as
// nobody, under the default seccomp filter, which must let a reload make
// the socket), a QEMU-like client is served there, and a second SIGHUP
// removes the session and its file.
func TestSocketReload(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "sr")
	dir := socketDir(t)
	sock := filepath.Join(dir, "vm.sock")
	cfg := filepath.Join(dir, "l2tap.toml")
	base := "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\nifname = \"sr0\"\n"
	if err := os.WriteFile(cfg, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startL2tap(t, a, "-config", cfg, "-control", "off", "-user", "nobody")
	os.WriteFile(cfg, []byte(base+"[[tunnel.session]]\ntxsession = 2\nsocket = \""+sock+"\"\nowner = \"nobody\"\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, regexp.QuoteMeta("added socket="+sock), 10*time.Second)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("connect to the socket added on reload: %v\n%s", err, p.stderr.String())
	}
	waitLog(t, p, regexp.QuoteMeta("VM connected socket="+sock), 10*time.Second)
	c.Close()
	os.WriteFile(cfg, []byte(base), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, regexp.QuoteMeta("removed socket="+sock), 10*time.Second)
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after its session was removed: %v", err)
	}
	p.stop(t)
}
