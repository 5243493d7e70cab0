//go:build linux

package vhostuser

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestQEMUConnects starts QEMU, without a guest (paused before the first
// instruction), with a virtio-net device on -netdev vhost-user at the
// backend's socket: QEMU must negotiate its protocol features and stay up,
// and after it is killed a second QEMU must be served by the same backend.
// Rings start only when a guest driver does, so no frames move. It needs
// qemu-system-x86_64 and runs only with L2TAP_TEST_QEMU_VHOST=1: not in
// make test yet.
func TestQEMUConnects(t *testing.T) {
	if os.Getenv("L2TAP_TEST_QEMU_VHOST") != "1" {
		t.Skip("set L2TAP_TEST_QEMU_VHOST=1 to run QEMU as a frontend")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
	}
	path := filepath.Join(t.TempDir(), "vhost.sock")
	b, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for round := 1; round <= 2; round++ {
		cmd := exec.Command(qemu, "-nographic", "-nodefaults", "-S", "-accel", "tcg",
			"-m", "256", "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
			"-numa", "node,memdev=mem",
			"-chardev", "socket,id=c0,path="+path,
			"-netdev", "vhost-user,id=n0,chardev=c0",
			"-device", "virtio-net-pci,netdev=n0,romfile=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, proto := b.Features()
			if b.Stats().Connections == uint64(round) && proto == ProtoFeatReplyAck {
				break
			}
			select {
			case <-exited:
				t.Fatalf("round %d: QEMU exited: %s", round, out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-exited
				t.Fatalf("round %d: QEMU did not negotiate: %d connections; %s", round, b.Stats().Connections, out.String())
			}
		}
		// QEMU stays up with what was negotiated.
		select {
		case <-exited:
			t.Fatalf("round %d: QEMU exited: %s", round, out.String())
		case <-time.After(time.Second):
		}
		cmd.Process.Kill()
		<-exited
		t.Logf("round %d: QEMU negotiated protocol features REPLY_ACK", round)
	}
	waitFor(t, "the last connection's end", func() bool {
		b.connMu.Lock()
		defer b.connMu.Unlock()
		return b.conn == nil
	})
	if s := b.Stats(); s.Connections != 2 || s.FrontendErrors != 0 {
		t.Errorf("stats %+v, want 2 connections, no errors", s)
	}
}
