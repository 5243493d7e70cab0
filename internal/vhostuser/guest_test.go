//go:build linux

package vhostuser

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/offload"
)

// TestGuest boots the kernel-peer Debian guest (test/kernelpeer) under
// QEMU with its virtio-net NIC on -netdev vhost-user at the backend's
// socket, records the features its driver negotiates, and has the guest
// answer an ARP request and pings of 56 and 1400 bytes written into its
// receive queue, the answers read from its transmit queue. It needs
// qemu-system-x86_64 and Debian's apt for the image, and runs only with
// L2TAP_TEST_QEMU_VHOST=1: not in make test yet.
func TestGuest(t *testing.T) {
	if os.Getenv("L2TAP_TEST_QEMU_VHOST") != "1" {
		t.Skip("set L2TAP_TEST_QEMU_VHOST=1 to boot a guest on the backend")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
	}
	kernel, initrd := guestImage(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "vhost.sock")
	if testing.Verbose() {
		old := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
		defer slog.SetDefault(old)
	}
	b, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan []byte, 1024)
	done := make(chan error, 1)
	arena := make([]byte, 1<<20)
	pkts := make([][]byte, 64)
	go func() {
		done <- b.ReadLoop(0, arena, 0, pkts, func(p [][]byte) error {
			for _, f := range p {
				select {
				case frames <- append([]byte(nil), f...):
				default:
				}
			}
			return nil
		}, nil)
	}()
	defer func() { b.Close(); <-done }()

	// The second QEMU comes after the first was killed: the backend,
	// not restarted, serves it.
	for round := 1; round <= 2; round++ {
		bootAndPing(t, b, round, qemu, kernel, initrd, filepath.Join(dir, fmt.Sprint(round)), frames)
	}
	waitFor(t, "the last connection's end", func() bool {
		b.connMu.Lock()
		defer b.connMu.Unlock()
		return b.conn == nil
	})
	if s := b.Stats(); s.Connections != 2 {
		t.Errorf("%d connections, want 2", s.Connections)
	}
	if s := b.Stats(); s.FrontendErrors != 0 || s.OffloadErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// bootAndPing boots the guest on b (its files in dir) as the backend's
// connection number round, checks its rings start, and has it answer an ARP request and two pings; it kills QEMU.
func bootAndPing(t *testing.T, b *Backend, round int, qemu, kernel, initrd, dir string, frames chan []byte) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	console := filepath.Join(dir, "console.log")
	cmd := exec.Command(qemu, "-nographic", "-nodefaults", "-no-reboot", "-accel", "tcg",
		"-m", "256", "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 kp.addr4=192.0.2.2/24 kp.addr6=2001:db8::2/64",
		"-serial", "file:"+console,
		// The guest serves commands on its second port: a socket nobody
		// connects to keeps it waiting.
		"-chardev", "socket,id=cmd,path="+filepath.Join(dir, "cmd.sock")+",server=on,wait=off", "-serial", "chardev:cmd",
		"-chardev", "socket,id=c0,path="+b.Name(),
		"-netdev", "vhost-user,id=n0,chardev=c0",
		// QEMU 7.2 under TCG crashes when the guest enables MSI-X on a
		// vhost-user NIC (with DPDK's backend too): legacy interrupts.
		"-device", "virtio-net-pci,netdev=n0,romfile=,vectors=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			c, _ := os.ReadFile(console)
			t.Logf("QEMU (%v): %s\nconsole:\n%s", cmd.ProcessState, out.String(), c)
		}
	}()

	// The guest's init brings eth0 up: both rings run.
	deadline := time.Now().Add(3 * time.Minute)
	for b.Stats().Connections < uint64(round) || !b.running() {
		select {
		case <-exited:
			t.Fatal("QEMU exited")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the guest did not start its rings")
		}
	}
	feats, proto := b.Features()
	t.Logf("negotiated features %#x %v, protocol features %#x", feats, FeatureNames(feats), proto)

	hostMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	arp := make([]byte, 60)
	copy(arp, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(arp[6:], hostMAC)
	copy(arp[12:], []byte{0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1})
	copy(arp[22:], hostMAC)
	copy(arp[28:], []byte{192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2})
	var guestMAC []byte
	await(t, b, arp, frames, "an ARP reply", func(f []byte) bool {
		if len(f) >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && bytes.Equal(f[28:32], []byte{192, 0, 2, 2}) {
			guestMAC = append([]byte(nil), f[22:28]...)
			return true
		}
		return false
	})
	t.Logf("guest MAC %s", net.HardwareAddr(guestMAC))
	for seq, size := range []int{56, 1400} {
		req := icmpEcho(hostMAC, guestMAC, uint16(seq+1), size)
		await(t, b, req, frames, "an echo reply", func(f []byte) bool {
			return len(f) == len(req) && f[23] == 1 && f[34] == 0 && bytes.Equal(f[38:], req[38:]) &&
				offload.CsumFold(offload.CsumAdd(0, f[34:])) == 0xffff
		})
		t.Logf("ping of %d bytes answered", size)
	}
}

// running reports whether both rings run.
func (b *Backend) running() bool {
	ok := true
	for i := range b.q {
		q := &b.q[i]
		q.mu.Lock()
		ok = ok && q.ready() && q.enabled
		q.mu.Unlock()
	}
	return ok
}

// await writes frame to the guest until a frame read from it satisfies
// match.
func await(t *testing.T, b *Backend, frame []byte, frames chan []byte, what string, match func([]byte) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	b.Write([][]byte{frame})
	for {
		select {
		case f := <-frames:
			if match(f) {
				return
			}
		case <-tick.C:
			b.Write([][]byte{frame})
		case <-deadline:
			t.Fatalf("no %s from the guest", what)
		}
	}
}

// icmpEcho returns an Ethernet/IPv4 ICMP echo request of size payload
// bytes from 192.0.2.1 to 192.0.2.2.
func icmpEcho(src, dst []byte, seq uint16, size int) []byte {
	f := make([]byte, 14+20+8+size)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:34]
	copy(ip, []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2})
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+size))
	binary.BigEndian.PutUint16(ip[4:], seq)
	offload.PutCsum(ip[10:], offload.CsumAdd(0, ip))
	icmp := f[34:]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], 0x4c32)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	for i := 8; i < len(icmp); i++ {
		icmp[i] = byte(i)
	}
	offload.PutCsum(icmp[2:], offload.CsumAdd(0, icmp))
	return f
}
