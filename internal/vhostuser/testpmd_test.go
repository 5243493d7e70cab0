//go:build linux

package vhostuser

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTestpmd runs DPDK's dpdk-testpmd as the frontend, with its
// net_virtio_user device on the backend's socket in io forwarding: every
// frame the backend writes into its receive queue comes back on its
// transmit queue. Frames of 64 to 9000 bytes must return intact. It needs
// root, the dpdk package and 2 MiB huge pages (it reserves 512), and runs
// only with L2TAP_TEST_TESTPMD=1: it is not part of make test yet.
func TestTestpmd(t *testing.T) {
	if os.Getenv("L2TAP_TEST_TESTPMD") != "1" {
		t.Skip("set L2TAP_TEST_TESTPMD=1 to run dpdk-testpmd as a frontend (root, the dpdk package, huge pages)")
	}
	pmd, err := exec.LookPath("dpdk-testpmd")
	if err != nil {
		t.Fatal("dpdk-testpmd not found: apt-get install dpdk")
	}
	if err := os.WriteFile("/proc/sys/vm/nr_hugepages", []byte("512"), 0); err != nil {
		t.Fatalf("reserve huge pages: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "vhost.sock")
	b, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got [][]byte
	token := make(chan struct{}, 1)
	done := make(chan error, 1)
	arena := make([]byte, 1<<20)
	pkts := make([][]byte, 64)
	go func() {
		done <- b.ReadLoop(0, arena, 0, pkts, func(p [][]byte) error {
			mu.Lock()
			for _, f := range p {
				got = append(got, append([]byte(nil), f...))
			}
			mu.Unlock()
			select {
			case token <- struct{}{}:
			default:
			}
			return nil
		}, nil)
	}()
	t.Cleanup(func() { b.Close(); <-done })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, pmd, "-l", "0-1", "-n", "1", "--no-pci", "--single-file-segments",
		"-m", "512", "--file-prefix=l2tapvh"+filepath.Base(dir), "--huge-dir", hugeDir(t),
		"--vdev=net_virtio_user0,path="+path+",queues=1,mrg_rxbuf=1,in_order=0",
		"--", "--forward-mode=io", "--auto-start", "--max-pkt-len=9600", "--mbuf-size=2048",
		"--enable-scatter", "--stats-period=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
		t.Logf("testpmd output:\n%s", out.String())
	}()

	// Wait for testpmd to start both rings.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b.q[rxQueue].mu.Lock()
		ready := b.q[rxQueue].ready() && b.q[rxQueue].enabled
		b.q[rxQueue].mu.Unlock()
		b.q[txQueue].mu.Lock()
		ready = ready && b.q[txQueue].ready()
		b.q[txQueue].mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("testpmd did not start the rings")
		}
		time.Sleep(50 * time.Millisecond)
	}
	feats, proto := b.Features()
	t.Logf("negotiated features %#x %v, protocol features %#x", feats, FeatureNames(feats), proto)

	var want [][]byte
	for i, n := range []int{64, 65, 128, 1500, 1514, 2048, 4000, 8000, 9000} {
		want = append(want, testFrame(i, n))
	}
	var sent [][]byte
	for _, w := range want {
		// testpmd posts its buffers asynchronously: retry a refused frame.
		for {
			n, _, _, err := b.Write([][]byte{w})
			if n == 1 {
				sent = append(sent, w)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Write of %d bytes: %v", len(w), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(sent) {
			break
		}
		select {
		case <-token:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d frames came back", n, len(sent))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	equalFrames(t, got, sent)
	if s := b.Stats(); s.FrontendErrors != 0 || s.OffloadErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// hugeDir returns a hugetlbfs mount, mounting one in a temporary directory
// if none is mounted.
func hugeDir(t *testing.T) string {
	m, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(m), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "hugetlbfs" {
			return f[1]
		}
	}
	d := t.TempDir()
	if out, err := exec.Command("mount", "-t", "hugetlbfs", "nodev", d).CombinedOutput(); err != nil {
		t.Fatalf("mount hugetlbfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", d).Run() })
	return d
}
