//go:build linux

package vhostuser

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestGuestPair boots two kernel-peer guests, each on a backend of its
// own, the backends joined by the test (A's transmit queue written to
// B's receive queue and back), and sends 4 MiB over TCP from one to the
// other: the sender's TSO superframes are cut into frames by one backend,
// which the other coalesces again for the receiver. The data must arrive
// intact (its MD5 on both sides), with superframes both ways. Only with
// L2TAP_TEST_QEMU_VHOST=1.
func TestGuestPair(t *testing.T) {
	if os.Getenv("L2TAP_TEST_QEMU_VHOST") != "1" {
		t.Skip("set L2TAP_TEST_QEMU_VHOST=1 to boot guests on the backend")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
	}
	kernel, initrd := guestImage(t)
	dir := t.TempDir()
	var bs [2]*Backend
	for i := range bs {
		b, err := Listen(filepath.Join(dir, fmt.Sprintf("vhost%d.sock", i)))
		if err != nil {
			t.Fatal(err)
		}
		bs[i] = b
	}
	var written, merged atomic.Int64
	var loops [2]chan error
	for i := range bs {
		from, to := bs[i], bs[1-i]
		loops[i] = make(chan error, 1)
		go func(done chan error) {
			arena := make([]byte, 1<<20)
			pkts := make([][]byte, 64)
			done <- from.ReadLoop(0, arena, 0, pkts, func(p [][]byte) error {
				n, m, _, _ := to.Write(p)
				written.Add(int64(n))
				merged.Add(int64(m))
				return nil
			}, nil)
		}(loops[i])
	}
	defer func() {
		for i := range bs {
			bs[i].Close()
			<-loops[i]
		}
	}()
	var gs [2]*guestShell
	for i := range gs {
		gs[i] = bootGuest(t, qemu, kernel, initrd, bs[i].Name(), filepath.Join(dir, fmt.Sprint(i)), i)
	}
	for i := range bs {
		waitFor(t, "both guests' rings", func() bool { return bs[i].running() })
	}
	a, b := gs[0], gs[1]
	// busybox nc ends when either side's input ends: the receiver's input
	// stays open, or its end would close the sender's early.
	b.run(t, "sleep 600 | nc -l -p 5000 > /tmp/r 2>/dev/null &", 30*time.Second)
	a.run(t, "dd if=/dev/urandom of=/tmp/s bs=64k count=64 2>/dev/null", 60*time.Second)
	sum := a.run(t, "md5sum < /tmp/s", 30*time.Second)
	start := time.Now()
	a.run(t, "nc 192.0.2.3 5000 < /tmp/s > /dev/null 2>&1 &", 30*time.Second)
	var got string
	deadline := time.Now().Add(180 * time.Second)
	for {
		got = b.run(t, "md5sum < /tmp/r", 30*time.Second)
		if got == sum || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for i := range bs {
		t.Logf("guest %d's backend: %+v", i, bs[i].Stats())
	}
	t.Logf("guest 0: %s", a.run(t, "grep Tcp: /proc/net/snmp", 30*time.Second))
	t.Logf("guest 1: %s", b.run(t, "grep Tcp: /proc/net/snmp", 30*time.Second))
	if got != sum {
		t.Fatalf("received MD5 %q, sent %q (%s bytes)", got, sum, b.run(t, "wc -c < /tmp/r", 30*time.Second))
	}
	t.Logf("4 MiB intact within %v, MD5 %s; frames written %d, merged %d", time.Since(start), sum, written.Load(), merged.Load())
	if bs[0].Stats().Superframes == 0 || merged.Load() == 0 {
		t.Errorf("no superframes cut (%d) or frames merged (%d)", bs[0].Stats().Superframes, merged.Load())
	}
}

// guestImage builds (once) the kernel-peer guest and returns its kernel
// and initramfs.
func guestImage(t *testing.T) (kernel, initrd string) {
	img, err := exec.Command("bash", "../../test/kernelpeer/build.sh").Output()
	if err != nil {
		t.Fatalf("build the guest image: %v", err)
	}
	for _, l := range strings.Split(string(img), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			switch k {
			case "VMLINUZ":
				kernel = v
			case "INITRAMFS":
				initrd = v
			}
		}
	}
	return kernel, initrd
}

// guestShell is the kernel-peer guest's command channel (see
// test/kernelpeer/init): "ID:COMMAND\n" in, output and
// "\n@@KP-END ID STATUS@@\n" out.
type guestShell struct {
	conn net.Conn
	buf  []byte
	seq  int
}

var endMark = regexp.MustCompile(`\n@@KP-END ([0-9]+) ([0-9]+)@@\n`)

// bootGuest starts QEMU with the guest's NIC on the vhost-user socket
// sock, eth0 at 192.0.2.2+i, and returns its command channel once it
// answers.
func bootGuest(t *testing.T, qemu, kernel, initrd, sock, dir string, i int) *guestShell {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmdSock := filepath.Join(dir, "cmd.sock")
	console := filepath.Join(dir, "console.log")
	cmd := exec.Command(qemu, "-nographic", "-nodefaults", "-no-reboot", "-accel", "tcg",
		"-m", "256", "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
		"-kernel", kernel, "-initrd", initrd,
		"-append", fmt.Sprintf("console=ttyS0 panic=-1 kp.addr4=192.0.2.%d/24 kp.addr6=2001:db8::%d/64", 2+i, 2+i),
		"-serial", "file:"+console,
		"-chardev", "socket,id=cmd,path="+cmdSock+",server=on,wait=off", "-serial", "chardev:cmd",
		"-chardev", "socket,id=c0,path="+sock,
		"-netdev", "vhost-user,id=n0,chardev=c0",
		// Legacy interrupts: see TestGuest.
		"-device", fmt.Sprintf("virtio-net-pci,netdev=n0,romfile=,vectors=0,mac=52:54:00:00:00:%02x", 2+i))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			c, _ := os.ReadFile(console)
			t.Logf("guest %d: QEMU (%v): %s\nconsole:\n%s", i, cmd.ProcessState, out.String(), c)
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c, err := net.Dial("unix", cmdSock)
		if err == nil {
			g := &guestShell{conn: c}
			t.Cleanup(func() { c.Close() })
			// The guest answers once its init serves commands.
			if _, ok := g.try("true", 5*time.Second); ok {
				return g
			}
			c.Close()
		}
		select {
		case <-exited:
			t.Fatalf("guest %d: QEMU exited", i)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest %d did not answer", i)
		}
	}
}

// try runs command in the guest and returns its output, and false if the
// guest did not answer in time.
func (g *guestShell) try(command string, timeout time.Duration) (string, bool) {
	g.seq++
	id := fmt.Sprint(g.seq)
	g.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := g.conn.Write([]byte(id + ":" + command + "\n")); err != nil {
		return "", false
	}
	chunk := make([]byte, 4096)
	for {
		for _, m := range endMark.FindAllSubmatchIndex(g.buf, -1) {
			if string(g.buf[m[2]:m[3]]) == id {
				out := string(g.buf[:m[0]])
				g.buf = g.buf[m[1]:]
				return strings.TrimSpace(out), true
			}
		}
		n, err := g.conn.Read(chunk)
		g.buf = append(g.buf, chunk[:n]...)
		if err != nil {
			return "", false
		}
	}
}

func (g *guestShell) run(t *testing.T, command string, timeout time.Duration) string {
	t.Helper()
	out, ok := g.try(command, timeout)
	if !ok {
		t.Fatalf("guest: %s: no answer", command)
	}
	return out
}
