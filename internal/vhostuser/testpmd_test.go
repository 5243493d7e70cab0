//go:build linux

package vhostuser

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
// transmit queue. Frames of 64 to 9000 bytes must return intact, without
// and with the offloads negotiated. It needs root, the dpdk-dev package
// (dpdk-testpmd) and 2 MiB huge pages (it reserves 512), and runs only
// with L2TAP_TEST_TESTPMD=1: it is not part of make test yet.
func TestTestpmd(t *testing.T) {
	if os.Getenv("L2TAP_TEST_TESTPMD") != "1" {
		t.Skip("set L2TAP_TEST_TESTPMD=1 to run dpdk-testpmd as a frontend (root, dpdk-dev, huge pages)")
	}
	pmd, err := exec.LookPath("dpdk-testpmd")
	if err != nil {
		t.Fatal("dpdk-testpmd not found: apt-get install dpdk-dev")
	}
	const nr = "/proc/sys/vm/nr_hugepages"
	old, err := os.ReadFile(nr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nr, []byte("512"), 0); err != nil {
		t.Fatalf("reserve huge pages: %v", err)
	}
	t.Cleanup(func() { os.WriteFile(nr, old, 0) })
	huge := hugeDir(t)
	for _, tc := range []struct {
		name string
		args []string
		want uint64 // features that must be negotiated
	}{
		{"plain", nil, FeatVersion1 | FeatNetMrgRxbuf | FeatProtocolFeats},
		// virtio's Rx and Tx offload capabilities: checksums, LRO, TSO.
		{"offloads", []string{"--rx-offloads=0x201c", "--tx-offloads=0x2c"}, FeatVersion1 | FeatNetMrgRxbuf | FeatProtocolFeats |
			FeatNetCsum | FeatNetGuestCsum | FeatNetGuestTSO4 | FeatNetGuestTSO6 | FeatNetHostTSO4 | FeatNetHostTSO6},
	} {
		t.Run(tc.name, func(t *testing.T) { testpmdRun(t, pmd, huge, tc.args, tc.want) })
	}
}

func testpmdRun(t *testing.T, pmd, huge string, args []string, want uint64) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vhost.sock")
	// DPDK keeps its runtime files under /var/run/dpdk/PREFIX.
	prefix := fmt.Sprintf("l2tapvh%d-%s", os.Getpid(), filepath.Base(t.Name()))
	t.Cleanup(func() { os.RemoveAll(filepath.Join("/var/run/dpdk", prefix)) })
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
	// stdbuf: testpmd's output line by line, not when its buffer fills.
	cmd := exec.CommandContext(ctx, "stdbuf", "-oL", pmd, "-l", "0-1", "-n", "1", "--no-pci", "--single-file-segments",
		"-m", "512", "--file-prefix="+prefix, "--huge-dir", huge,
		"--vdev=net_virtio_user0,path="+path+",queues=1,mrg_rxbuf=1,in_order=0",
		"--", "--forward-mode=io", "--auto-start", "--max-pkt-len=9600", "--mbuf-size=2048",
		"--enable-scatter", "--no-flush-rx")
	cmd.Args = append(cmd.Args, args...)
	// SIGINT: testpmd stops forwarding and prints its totals.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	// testpmd runs until its input ends: an open pipe keeps it.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var outMu sync.Mutex
	var out strings.Builder
	forwarding := make(chan struct{})
	go func() {
		s := bufio.NewScanner(pr)
		seen := false
		for s.Scan() {
			outMu.Lock()
			out.WriteString(s.Text() + "\n")
			outMu.Unlock()
			if !seen && strings.Contains(s.Text(), "Press enter to exit") {
				seen = true
				close(forwarding)
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	defer func() {
		cancel()
		<-exited
		outMu.Lock()
		t.Logf("testpmd output:\n%s", out.String())
		outMu.Unlock()
	}()

	// testpmd configures its port (renegotiating the features), starts
	// it and then forwards.
	select {
	case <-forwarding:
	case <-exited:
		t.Fatal("testpmd exited")
	case <-time.After(60 * time.Second):
		t.Fatal("testpmd did not start forwarding")
	}
	feats, proto := b.Features()
	t.Logf("negotiated features %#x %v, protocol features %#x", feats, FeatureNames(feats), proto)
	if feats&want != want || proto != ProtoFeatReplyAck {
		t.Errorf("features %v, protocol %#x; want %v and REPLY_ACK", FeatureNames(feats), proto, FeatureNames(want))
	}

	var sent [][]byte
	deadline := time.Now().Add(30 * time.Second)
	for i, n := range []int{64, 65, 128, 1500, 1514, 2048, 4000, 8000, 9000} {
		w := testFrame(i, n)
		// testpmd posts its buffers on its own: retry a refused frame.
		for {
			if n, _, _, err := b.Write([][]byte{w}); n == 1 {
				sent = append(sent, w)
				break
			} else if time.Now().After(deadline) {
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
	if s := b.Stats(); s.FrontendErrors != 0 || s.OffloadErrors != 0 || s.Connections != 1 {
		t.Errorf("stats %+v, want 1 connection, no errors", s)
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
