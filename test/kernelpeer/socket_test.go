//go:build linux

package kernelpeer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestKernelPeerSocket boots a second guest, the VM, with its virtio-net
// NIC on QEMU's -netdev stream to l2tap's -socket instead of a TAP, and
// pings from it across the pseudowire to the kernel peer's l2tp_eth:
//
//	VM guest eth0 10.77.0.1 --stream socket--> l2tap (netns) --UDP--> kernel guest l2tpeth0 10.77.0.2
//
// It logs the VM's boot time and the ping's.
func TestKernelPeerSocket(t *testing.T) {
	g, bin := needL2tap(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := PeerSession{UDP: true, Session: 111, Sublayer: SublayerNone}
	guestSession(t, g, p)
	sock := filepath.Join(env.workDir, "vm.sock")
	port := strconv.Itoa(L2TPPort)
	args := []string{"-src", p.Remote(), "-dst", p.Local(), "-udp", "-srcport", port, "-dstport", port,
		"-txsession", strconv.FormatUint(uint64(p.Session), 10), "-socket", sock, "-control", "off"}
	l, err := StartL2tap(ctx, env.ns, bin, args, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _ = l.Stop(5 * time.Second)
		}
	})

	dir := t.TempDir()
	start := time.Now()
	vm, err := bootGuest(ctx, GuestConfig{Image: env.image, Netns: env.ns, WorkDir: dir,
		Netdev: "stream,server=off,addr.type=unix,addr.path=" + sock,
		Addr4:  fmt.Sprintf("%s/%d", HostOverlayAddr, OverlayPrefix), Addr6: "fd00:77::1/64"},
		os.Getenv("KERNELPEER_ACCEL"))
	if err != nil {
		t.Fatalf("boot the VM on l2tap's socket: %v\nl2tap:\n%s", err, l.Stderr())
	}
	defer vm.Close()
	boot := time.Since(start)

	start = time.Now()
	res, err := GuestPing(vm, PeerAddr, PingOpts{Count: 3, Deadline: 20})
	if err != nil || res.Received == 0 {
		t.Fatalf("ping from the VM to the kernel peer %s: %v %v\n%s\nl2tap:\n%s", PeerAddr, res, err, res.Output, l.Stderr())
	}
	pingTime := time.Since(start)
	bigOpts := PingOpts{Count: 3, Size: 1400, Deadline: 20}
	big, err := GuestPing(vm, PeerAddr, bigOpts)
	if err != nil || !big.Answered(bigOpts) {
		t.Errorf("1400-byte ping from the VM: %v %v\n%s", big, err, big.Output)
	}
	stopped = true
	c, err := l.Stop(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c["tx_packets"] < 3 || c["rx_packets"] < 3 || c["socket_bad_frames"] != 0 {
		t.Errorf("l2tap counters: %v", c)
	}
	t.Logf("VM on -socket booted in %v (TCG unless KERNELPEER_ACCEL says otherwise); pings %v then %v (1400 bytes) in %v; l2tap tx_packets %d rx_packets %d",
		boot.Round(time.Millisecond), res, big, pingTime.Round(time.Millisecond), c["tx_packets"], c["rx_packets"])
}
