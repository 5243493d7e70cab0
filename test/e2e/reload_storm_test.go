//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stormConf writes a configuration file of one UDP tunnel from src to dst
// with a session per ID (both ways), each on TAP rs<ID>.
func stormConf(t *testing.T, path, src, dst string, ids []int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "control = \"off\"\n[[tunnel]]\nsrc = %q\ndst = %q\nudp = true\nsrcport = 1701\ndstport = 1701\n", src, dst)
	for _, id := range ids {
		fmt.Fprintf(&b, "  [[tunnel.session]]\n  txsession = %d\n  ifname = \"rs%d\"\n", id, id)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reloadDone matches the line that ends a reload, applied or refused.
var reloadDone = regexp.MustCompile(`(?m)^l2tap: SIGHUP: (configuration read again|.*nothing changes)`)

// hupAndWait sends p SIGHUP and waits for the line that ends that reload,
// the n-th such line of its log.
func hupAndWait(t *testing.T, p *proc, n int) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); len(reloadDone.FindAllString(p.stderr.String(), -1)) < n; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("reload %d: no end line within 10 s\n%s", n, p.stderr.String())
		}
	}
}

// heapLine matches the line -memprofile writes with each profile.
var heapLine = regexp.MustCompile(`(?m)^l2tap: heap profile written file=\S+ heap_bytes=(\d+)$`)

// TestReloadStorm runs one UDP tunnel from a file with a fixed session and
// eight more that come and go: at least 100 SIGHUPs, each with a random
// subset of the eight, every 10th with a broken file (which must be
// refused), while a ping every 20 ms crosses the fixed session. The first
// round and the last leave the fixed session alone; there the l2tap that
// reloads must be back where it was: RSS within 4 MiB, descriptors and
// goroutines equal. No echo may be lost. Its -memprofile heap profile,
// written on SIGUSR2 at both rounds, gives the live heap of each in the
// log.
func TestReloadStorm(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: 40 s of SIGHUPs; an echo is lost only if its
	// reply takes 2 s (ping -W 2), and RSS, descriptors and goroutines do
	// not depend on the host's load.
	t.Parallel()
	const (
		minReloads = 100
		pace       = 150 * time.Millisecond // between one reload's end and the next SIGHUP
		echoes     = 2000                   // 40 s of pings 20 ms apart
	)
	start := time.Now()
	a, b := vethPair(t, "rs")
	dir := t.TempDir()
	fa, fb, prof := filepath.Join(dir, "a.toml"), filepath.Join(dir, "b.toml"), filepath.Join(dir, "heap.prof")
	churn := []int{11, 12, 13, 14, 15, 16, 17, 18}
	stormConf(t, fa, "192.0.2.1", "192.0.2.2", append([]int{10}, churn...))
	stormConf(t, fb, "192.0.2.2", "192.0.2.1", []int{10})
	pa := startL2tap(t, a, "-config", fa, "-memprofile", prof)
	go func() { // the ready lines of the other sessions, which the log reader hands over one by one
		for {
			select {
			case <-pa.ready:
			case <-pa.done:
				return
			}
		}
	}()
	startL2tap(t, b, "-config", fb)
	a.ip(t, "addr", "add", "10.10.0.1/24", "dev", "rs10")
	b.ip(t, "addr", "add", "10.10.0.2/24", "dev", "rs10")
	if err := a.pingEventually(t, "10.10.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	reloads := 0
	// reload writes ids (or a broken file), signals a and waits for the
	// line that ends the reload.
	reload := func(ids []int, broken bool) {
		t.Helper()
		if broken {
			if err := os.WriteFile(fa, []byte("[[tunnel]]\nsrc = \n"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			stormConf(t, fa, "192.0.2.1", "192.0.2.2", append([]int{10}, ids...))
		}
		reloads++
		hupAndWait(t, pa, reloads)
	}
	// sample takes a's RSS, descriptors and goroutines (see sampleProc)
	// and its live heap from a profile written on SIGUSR2.
	heaps := 0
	sample := func() (soakSample, uint64) {
		t.Helper()
		s := sampleProc(t, pa)
		heaps++
		pa.cmd.Process.Signal(syscall.SIGUSR2)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if m := heapLine.FindAllStringSubmatch(pa.stderr.String(), -1); len(m) >= heaps {
				h, _ := strconv.ParseUint(m[heaps-1][1], 10, 64)
				return s, h
			}
			if time.Now().After(deadline) {
				t.Fatalf("no heap profile line within 5 s of SIGUSR2\n%s", pa.stderr.String())
			}
		}
	}

	ping := a.cmd("ping", "-q", "-i", "0.02", "-c", strconv.Itoa(echoes), "-W", "2", "10.10.0.2")
	pingOut := &syncBuffer{}
	ping.Stdout, ping.Stderr = pingOut, pingOut
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	pingDone := make(chan error, 1)
	go func() { pingDone <- ping.Wait() }()
	defer ping.Process.Kill()

	// The first round: every churned session removed, the fixed one left.
	reload(nil, false)
	first, firstHeap := sample()

	seed := uint64(time.Now().UnixNano())
	t.Logf("subsets from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 23))
	refused := 0
	var pingErr error
	pinging := true
	for pinging || reloads < minReloads {
		time.Sleep(pace)
		if reloads%10 == 9 {
			reload(nil, true)
			refused++
		} else {
			var ids []int
			for _, id := range churn {
				if rng.IntN(2) == 1 {
					ids = append(ids, id)
				}
			}
			reload(ids, false)
		}
		select {
		case pingErr = <-pingDone:
			pinging = false
		default:
		}
	}
	// The last round: as the first.
	reload(nil, false)
	last, lastHeap := sample()
	if pinging {
		pingErr = <-pingDone
	}

	if n := len(regexp.MustCompile(`(?m)^l2tap: SIGHUP: .*nothing changes`).FindAllString(pa.stderr.String(), -1)); n != refused {
		t.Errorf("%d reloads refused, want the %d broken files", n, refused)
	}
	for _, dev := range churn {
		if _, err := a.cmd("ip", "link", "show", fmt.Sprintf("rs%d", dev)).CombinedOutput(); err == nil {
			t.Errorf("TAP rs%d still there after the last round removed its session", dev)
		}
	}
	out := pingOut.String()
	want := fmt.Sprintf("%d packets transmitted, %d received", echoes, echoes)
	if pingErr != nil || !strings.Contains(out, want) {
		t.Errorf("the fixed session lost echoes during the reloads (%v):\n%s", pingErr, out)
	}
	t.Logf("%d reloads (%d broken files refused) in %v of wall time; ping: %s", reloads, refused,
		time.Since(start).Round(time.Second), strings.TrimSpace(out[max(0, strings.Index(out, "---")):]))
	t.Logf("first round: rss %d KiB, fds %d, goroutines %d, threads %d, live heap %d KiB", first.rssKiB, first.fds, first.gor, first.threads, firstHeap>>10)
	t.Logf("last round:  rss %d KiB, fds %d, goroutines %d, threads %d, live heap %d KiB", last.rssKiB, last.fds, last.gor, last.threads, lastHeap>>10)
	if last.rssKiB > first.rssKiB+4<<10 {
		t.Errorf("RSS grew from %d KiB to %d KiB over %d reloads (more than 4 MiB)", first.rssKiB, last.rssKiB, reloads)
	}
	if last.fds != first.fds {
		t.Errorf("%d descriptors after the storm, %d after the first round", last.fds, first.fds)
	}
	if last.gor != first.gor {
		t.Errorf("%d goroutines after the storm, %d after the first round", last.gor, first.gor)
	}
	// The profile SIGUSR2 wrote: gzip, as pprof writes it.
	if p, err := os.ReadFile(prof); err != nil || !bytes.HasPrefix(p, []byte{0x1f, 0x8b}) {
		t.Errorf("-memprofile %s: not a gzipped profile (%v)", prof, err)
	}
}
