//go:build linux

package kernelpeer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2tap/l2tap/test/testenv"
)

// The vhost-user test's overlay: the VM's eth0 and the peer l2tap's TAP.
const (
	vhostVMAddr   = "10.77.0.1"
	vhostPeerAddr = "10.77.0.2"
	vhostPeerTAP  = "kpvu0"
	// vhostBlob is the size of each checksummed TCP transfer.
	vhostBlob = 4 << 20
)

// TestKernelPeerVhostUser boots the kernel-peer guest with its virtio-net
// NIC on QEMU's -netdev vhost-user at l2tap's -vhost-user socket, and
// sends traffic across the pseudowire to a second l2tap whose TAP sits in
// the test's namespace (the peer):
//
//	VM eth0 10.77.0.1 --vhost-user--> l2tap A --UDP 127.0.0.1--> l2tap B --TAP kpvu0 10.77.0.2
//
// With the guest's offloads on (ethtool -k eth0 in the guest shows TCP
// segmentation offload on) it checks pings of 56 and 1400 bytes and a
// 4 MiB TCP transfer each way whose SHA-256 both ends compute. Then QEMU
// is killed, a second VM boots on the same socket, and the same traffic
// passes again with l2tap A still the process it was; l2tap A must have
// cut the guests' superframes and served two frontends. It needs neither
// the shared kernel-peer guest nor KVM: two guest boots under TCG, about
// 50 s in all on a loaded 2-core machine.
func TestKernelPeerVhostUser(t *testing.T) {
	img, bin := needImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	ns, err := createNetns(ctx, "vhost")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Delete()
	dir := t.TempDir()
	sock := filepath.Join(dir, "vhost.sock")

	underlay := func(srcport, dstport int) []string {
		return []string{"-src", "127.0.0.1", "-dst", "127.0.0.1", "-udp",
			"-srcport", strconv.Itoa(srcport), "-dstport", strconv.Itoa(dstport),
			"-txsession", "1", "-rxsession", "1", "-control", "off"}
	}
	peer, err := StartL2tap(ctx, ns, bin, append(underlay(1702, 1701), "-ifname", vhostPeerTAP, "-mtu", "1500"), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Stop(5 * time.Second)
	for _, args := range [][]string{
		{"ip", "addr", "add", vhostPeerAddr + "/24", "dev", vhostPeerTAP},
		{"ip", "link", "set", vhostPeerTAP, "up"},
	} {
		if _, err := ns.Output(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	vhost, err := StartL2tap(ctx, ns, bin, append(underlay(1701, 1702), "-vhost-user", sock), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _ = vhost.Stop(5 * time.Second)
		}
	}()
	// The NIC's options as l2tap prints them (host_mtu), and the MTU it
	// computed for the guest (printed after the ready line: polled).
	nicOpts, mtu, err := vhostNICOptions(vhost.Stderr())
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		nicOpts, mtu, err = vhostNICOptions(vhost.Stderr())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("l2tap's NIC options %q, guest MTU %d", nicOpts, mtu)

	for round := 1; round <= 2; round++ {
		work := filepath.Join(dir, strconv.Itoa(round))
		if err := os.Mkdir(work, 0o700); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		vm, err := bootGuest(ctx, GuestConfig{Image: img, Netns: ns, WorkDir: work,
			VhostUser: sock, NICOptions: nicOpts, Addr4: vhostVMAddr + "/24", Addr6: "fd00:77::1/64"}, os.Getenv("KERNELPEER_ACCEL"))
		if err != nil {
			t.Fatalf("VM %d: boot on l2tap's vhost-user socket: %v\nl2tap:\n%s", round, err, vhost.Stderr())
		}
		t.Logf("VM %d on -vhost-user booted in %v", round, time.Since(start).Round(time.Millisecond))
		// The guest's NIC has l2tap's MTU (VIRTIO_NET_F_MTU), which the
		// frontend told l2tap (NET_SET_MTU) without a complaint.
		out, err := vm.MustRun("cat /sys/class/net/eth0/mtu")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out); got != strconv.Itoa(mtu) {
			t.Errorf("VM %d: eth0's MTU %s, want l2tap's %d", round, got, mtu)
		} else {
			t.Logf("VM %d: eth0's MTU %s, l2tap's", round, got)
		}
		start = time.Now()
		vhostTraffic(t, ctx, ns, vm, vhost, round)
		t.Logf("VM %d: traffic checked in %v", round, time.Since(start).Round(time.Millisecond))
		// Killed, not shut down: the backend sees the connection drop as
		// it would on a crash.
		if err := vm.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		vm.Close()
		select {
		case <-vhost.done:
			t.Fatalf("l2tap exited when QEMU was killed: %v\n%s", vhost.err, vhost.Stderr())
		default:
		}
	}

	if log := vhost.Stderr(); !regexp.MustCompile(`vhost-user features negotiated [^\n]*features="\[[^"]*\bMTU\b`).MatchString(log) ||
		strings.Contains(log, "another MTU than the session's") {
		t.Errorf("l2tap -vhost-user: the MTU feature not negotiated, or another MTU set:\n%s", log)
	}
	stopped = true
	c, err := vhost.Stop(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := peer.Stop(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Two 4 MiB transfers each way: at least that many MTU-sized frames.
	minFrames := uint64(2 * vhostBlob / 1500)
	if c["tx_packets"] < minFrames || c["rx_packets"] < minFrames {
		t.Errorf("l2tap -vhost-user carried too little: tx_packets %d rx_packets %d, want ≥ %d each", c["tx_packets"], c["rx_packets"], minFrames)
	}
	// The guests' TCP segmentation offload at work: superframes from the
	// transmit queue, cut by l2tap. Two frontends served, none misbehaved.
	if c["tx_superframes"] == 0 || c["vhost_frontends"] != 2 || c["vhost_frontend_errors"] != 0 {
		t.Errorf("l2tap -vhost-user: tx_superframes %d (want > 0), vhost_frontends %d (want 2), vhost_frontend_errors %d (want 0)",
			c["tx_superframes"], c["vhost_frontends"], c["vhost_frontend_errors"])
	}
	for name, counters := range map[string]Counters{"-vhost-user": c, "peer": pc} {
		if sum, which := counters.Drops(); sum != 0 {
			t.Errorf("l2tap %s dropped %d frames: %s", name, sum, which)
		}
	}
	t.Logf("l2tap -vhost-user: tx_packets %d rx_packets %d tx_superframes %d rx_coalesced %d vhost_frontends %d",
		c["tx_packets"], c["rx_packets"], c["tx_superframes"], c["rx_coalesced"], c["vhost_frontends"])
}

// vhostNICOptions returns the options after netdev=n0 of the
// virtio-net-pci device in the QEMU options an l2tap -vhost-user printed
// in its log, and the guest MTU it printed, which host_mtu must give.
func vhostNICOptions(log string) (opts string, mtu int, err error) {
	m := regexp.MustCompile(`connect a VM with [^\n]*qemu="[^"]* -device virtio-net-pci,netdev=n0((?:,[^ ",]+)*)" guest_mtu=([0-9]+)`).FindStringSubmatch(log)
	if m == nil {
		return "", 0, fmt.Errorf("no QEMU options with a virtio-net-pci device and guest_mtu in l2tap's log:\n%s", log)
	}
	mtu, _ = strconv.Atoi(m[2])
	if !strings.Contains(m[1]+",", ",host_mtu="+m[2]+",") {
		return "", 0, fmt.Errorf("the printed virtio-net-pci options %q lack host_mtu=%s", m[1], m[2])
	}
	return m[1], mtu, nil
}

// vhostTraffic checks the VM's offloads and passes the pings and the two
// transfers between it and the peer.
func vhostTraffic(t *testing.T, ctx context.Context, ns *Netns, vm *Guest, l *L2tap, round int) {
	t.Helper()
	// A guest command that fails shows the guest's console and QEMU's
	// state beside l2tap's log.
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("VM %d: "+format+"\n%s\nl2tap:\n%s", append(append([]any{round}, args...), vmState(vm), l.Stderr())...)
	}
	k, err := vm.MustRun("ethtool -k eth0")
	if err != nil {
		fail("ethtool -k eth0: %v", err)
	}
	for _, feature := range []string{"tx-checksumming", "tcp-segmentation-offload", "rx-checksumming"} {
		if !regexp.MustCompile(`(?m)^` + feature + `: on`).MatchString(k) {
			t.Errorf("VM %d: ethtool -k eth0 does not show %s on:\n%s", round, feature, k)
		}
	}
	feats, _, _ := vm.Run("cat /sys/bus/virtio/devices/*/features")
	t.Logf("VM %d: virtio features (bit 0 first) %s; %s", round, strings.TrimSpace(feats),
		strings.Join(regexp.MustCompile(`(?m)^(tcp-segmentation-offload|tx-checksumming|generic-receive-offload): .*$`).FindAllString(k, -1), ", "))

	for _, size := range []int{56, 1400} {
		opts := PingOpts{Count: 3, Size: size, Deadline: 30}
		res, err := GuestPing(vm, vhostPeerAddr, opts)
		if err != nil || !res.Answered(opts) {
			t.Fatalf("VM %d: %d-byte ping to the peer %s: %v %v\n%s\nl2tap:\n%s", round, size, vhostPeerAddr, res, err, res.Output, l.Stderr())
		}
		t.Logf("VM %d: %d-byte pings %v", round, size, res)
	}

	// VM to peer: the guest's TCP segmentation offload hands l2tap
	// superframes.
	out, err := vm.MustRun(fmt.Sprintf("dd if=/dev/urandom of=/tmp/blob bs=65536 count=%d 2>/dev/null && sha256sum /tmp/blob", vhostBlob/65536))
	if err != nil {
		fail("make the blob: %v", err)
	}
	sent, _, _ := strings.Cut(strings.TrimSpace(out), " ")
	got := make(chan hashResult, 1)
	ln, err := listenIn(ns, vhostPeerAddr+":5001")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer ln.Close()
		got <- receiveHash(ln, 2*time.Minute)
	}()
	start := time.Now()
	if out, st, err := vm.RunTimeout("nc "+vhostPeerAddr+" 5001 </tmp/blob", 2*time.Minute); err != nil || st != 0 {
		fail("nc to the peer: status %d %v: %s", st, err, out)
	}
	r := <-got
	if r.err != nil || r.n != vhostBlob || r.sum != sent {
		t.Fatalf("VM %d to peer: received %d bytes sha256 %s (%v), sent %d sha256 %s", round, r.n, r.sum, r.err, vhostBlob, sent)
	}
	t.Logf("VM %d to peer: %d bytes, sha256 %s at both ends, in %v", round, r.n, sent, time.Since(start).Round(time.Millisecond))

	// Peer to VM: l2tap fills the guest's receive queue.
	if _, err := vm.MustRun("rm -f /tmp/rx /tmp/rx.done; (nc -l -p 5002 >/tmp/rx; echo $? >/tmp/rx.done) </dev/null >/dev/null 2>&1 &"); err != nil {
		fail("start nc -l: %v", err)
	}
	blob := make([]byte, vhostBlob)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(blob)
	start = time.Now()
	if err := sendIn(ns, vhostVMAddr+":5002", blob, 2*time.Minute); err != nil {
		fail("peer to VM: %v", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if out, st, err := vm.Run("cat /tmp/rx.done"); err != nil {
			fail("after the peer's transfer: %v", err)
		} else if st == 0 && strings.TrimSpace(out) != "" {
			break
		}
		if time.Now().After(deadline) {
			fail("nc -l did not end after the peer closed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err = vm.MustRun("stat -c %s /tmp/rx && sha256sum /tmp/rx")
	if err != nil {
		fail("hash what the peer sent: %v", err)
	}
	fields := strings.Fields(out)
	if len(fields) < 2 || fields[0] != strconv.Itoa(vhostBlob) || fields[1] != hex.EncodeToString(want[:]) {
		t.Fatalf("peer to VM %d: the VM has %q, want %d bytes sha256 %x", round, out, vhostBlob, want)
	}
	t.Logf("peer to VM %d: %d bytes, sha256 %x at both ends, in %v", round, vhostBlob, want, time.Since(start).Round(time.Millisecond))
}

// vmState says whether QEMU still runs (and how it ended) and shows the
// end of the guest's console, for a failure's message.
func vmState(vm *Guest) string {
	state := "QEMU running"
	select {
	case <-vm.exited:
		state = fmt.Sprintf("QEMU exited: %v: %s", vm.waitErr, vm.qemuOut.String())
	case <-time.After(2 * time.Second):
	}
	return state + "; console:\n" + vm.ConsoleTail(30)
}

// hashResult is what receiveHash read.
type hashResult struct {
	n   int64
	sum string
	err error
}

// receiveHash accepts one connection on ln and returns the length and
// SHA-256 of what it carried up to its end.
func receiveHash(ln net.Listener, timeout time.Duration) hashResult {
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(timeout))
	}
	c, err := ln.Accept()
	if err != nil {
		return hashResult{err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	h := sha256.New()
	n, err := io.Copy(h, c)
	return hashResult{n: n, sum: hex.EncodeToString(h.Sum(nil)), err: err}
}

// listenIn listens on TCP addr inside ns.
func listenIn(ns *Netns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	return ln, err
}

// sendIn connects from ns to addr (retrying until it listens), writes
// blob, closes its sending half and waits for the other end to close.
func sendIn(ns *Netns, addr string, blob []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var c net.Conn
	for {
		err := inNetns(ns, func() (err error) {
			c, err = net.DialTimeout("tcp4", addr, 10*time.Second)
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !errors.Is(err, unix.ECONNREFUSED) {
			return fmt.Errorf("connect to %s: %w", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write(blob); err != nil {
		return fmt.Errorf("send to %s: %w", addr, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return fmt.Errorf("close the sending half to %s: %w", addr, err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		return fmt.Errorf("wait for %s to close: %w", addr, err)
	}
	return nil
}

// inNetns runs f on an OS thread moved into ns. Sockets f creates stay in
// ns and may be used from any goroutine. The thread is moved back before
// it is unlocked: it must not end with its goroutine, as the children
// started from it (QEMU, l2tap: Pdeathsig) would be killed with it.
func inNetns(ns *Netns, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's namespace: %w", err)
			return
		}
		defer unix.Close(home)
		fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace %s: %w", ns.Name, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", ns.Name, err)
			return
		}
		err = f()
		// Back home, the thread may serve other goroutines again; if
		// not, it stays locked and ends with this goroutine.
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// vhostImage is the guest image and the l2tap binary for tests that boot their
// own guests and need not the shared one.
var vhostImage struct {
	once sync.Once
	img  Image
	bin  string
	err  error
}

// needImage returns the guest image and an l2tap binary without booting
// the shared guest; like needGuest it skips under -short and skips (fails
// under CI=true) when a prerequisite is missing.
func needImage(t *testing.T) (Image, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short (make unit): the test needs root and boots a VM")
	}
	vhostImage.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
		defer cancel()
		if vhostImage.err = CheckHost(); vhostImage.err != nil {
			return
		}
		if env.image.Kernel != "" && env.l2tapBin != "" && env.l2tapErr == nil {
			vhostImage.img, vhostImage.bin = env.image, env.l2tapBin
			return
		}
		if vhostImage.bin = os.Getenv("L2TAP_BIN"); vhostImage.bin == "" {
			root, err := filepath.Abs("../..")
			if err != nil {
				vhostImage.err = err
				return
			}
			dir, err := os.MkdirTemp(env.workDir, "vhost-")
			if err != nil {
				vhostImage.err = err
				return
			}
			if vhostImage.bin, vhostImage.err = testenv.BuildL2tap(ctx, root, dir); vhostImage.err != nil {
				return
			}
		}
		vhostImage.img, vhostImage.err = BuildImage(ctx, ".")
	})
	if vhostImage.err != nil {
		if errors.Is(vhostImage.err, ErrMissingPrereq) && !testenv.InCI() {
			t.Skipf("guest image unavailable: %v", vhostImage.err)
		}
		t.Fatalf("guest image or l2tap unavailable: %v", vhostImage.err)
	}
	return vhostImage.img, vhostImage.bin
}
