//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/l2tap/l2tap/test/testenv"
)

// binPath is the l2tap binary built once, in binDir, for the tests that
// run it.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain runs the tests from the module's root, where they find the
// scripts, docs, Makefile and testdata they use by relative path (as the
// commands in the README are run), and removes the binary built for them
// once they are done. The test binary run again as a helper process
// starts there already.
func TestMain(m *testing.M) {
	root, err := moduleRoot()
	if err == nil {
		err = os.Chdir(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// moduleRoot is the nearest directory at or above the working directory
// whose go.mod declares this module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/l2tap/l2tap\n")) {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("no go.mod of github.com/l2tap/l2tap at or above the working directory")
		}
		dir = up
	}
}

// l2tapBinary builds l2tap (the module root's package main) into a
// temporary directory, once per test run.
func l2tapBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "l2tap-test-")
		if binErr == nil {
			binPath, binErr = testenv.BuildL2tap(context.Background(), ".", binDir)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// requireTools is testenv.RequireTools: fail under CI, else skip, when
// root (if root is true) or a tool is missing; skip tests needing root
// under -short.
func requireTools(t *testing.T, root bool, tools ...string) {
	t.Helper()
	testenv.RequireTools(t, root, tools...)
}

// run executes a command and fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns is a network namespace created for one test and deleted after it.
type netns string

var nsSeq struct {
	sync.Mutex
	n int
}

// newNetns creates a namespace with loopback up; it is deleted at cleanup.
func newNetns(t *testing.T, prefix string) netns {
	t.Helper()
	nsSeq.Lock()
	nsSeq.n++
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), nsSeq.n)
	nsSeq.Unlock()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return netns(name)
}

// ip runs "ip -n ns args...".
func (n netns) ip(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", string(n)}, args...)...)
}

// exec builds a command that runs inside the namespace.
func (n netns) cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", string(n), name}, args...)...)
}

// ping sends count echo requests of size bytes and reports whether all came back.
func (n netns) ping(t *testing.T, dst string, count, size int) error {
	t.Helper()
	args := []string{"-c", strconv.Itoa(count), "-i", "0.2", "-W", "2", "-s", strconv.Itoa(size)}
	if strings.Contains(dst, ":") {
		args = append(args, "-6")
	}
	out, err := n.cmd("ping", append(args, dst)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s (size %d) from %s: %v\n%s", dst, size, n, err, out)
	}
	return nil
}

// pingCheck is one ping across a pseudowire: count 3 of size bytes.
type pingCheck struct {
	from netns
	dst  string
	size int
}

// pingAll runs every check and reports each failure as a test error; it
// returns whether all passed.
func pingAll(t *testing.T, checks ...pingCheck) bool {
	t.Helper()
	ok := true
	for _, c := range checks {
		if err := c.from.ping(t, c.dst, 3, c.size); err != nil {
			t.Error(err)
			ok = false
		}
	}
	return ok
}

// overlayPings are the usual checks across an overlay of 10.1.0.1 (a) and
// 10.1.0.2 (b): each way, 56 and 1400 bytes, then extra.
func overlayPings(a, b netns, extra ...pingCheck) []pingCheck {
	return append([]pingCheck{
		{a, "10.1.0.2", 56},
		{b, "10.1.0.1", 56},
		{a, "10.1.0.2", 1400},
		{b, "10.1.0.1", 1400},
	}, extra...)
}

// pingEventually retries a single ping for up to d, to let ARP/ND settle.
func (n netns) pingEventually(t *testing.T, dst string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := n.ping(t, dst, 1, 56)
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// vethPair joins two new namespaces with a veth pair carrying 192.0.2.1/24,
// 2001:db8::1/64 (a) and 192.0.2.2/24, 2001:db8::2/64 (b).
func vethPair(t *testing.T, prefix string) (a, b netns) {
	t.Helper()
	a, b = newNetns(t, prefix+"a"), newNetns(t, prefix+"b")
	run(t, "ip", "link", "add", "ua", "netns", string(a), "type", "veth", "peer", "name", "ub", "netns", string(b))
	for _, s := range []struct {
		ns      netns
		dev, v4 string
		v6      string
	}{{a, "ua", "192.0.2.1/24", "2001:db8::1/64"}, {b, "ub", "192.0.2.2/24", "2001:db8::2/64"}} {
		s.ns.ip(t, "addr", "add", s.v4, "dev", s.dev)
		s.ns.ip(t, "addr", "add", s.v6, "dev", s.dev, "nodad")
		s.ns.ip(t, "link", "set", s.dev, "up")
	}
	return a, b
}

// overlay gives the TAPs in a and b the addresses 10.1.0.1 and 10.1.0.2.
func overlay(t *testing.T, a, b netns, dev string) {
	t.Helper()
	a.ip(t, "addr", "add", "10.1.0.1/24", "dev", dev)
	b.ip(t, "addr", "add", "10.1.0.2/24", "dev", dev)
	a.ip(t, "addr", "add", "fd00::1/64", "dev", dev, "nodad")
	b.ip(t, "addr", "add", "fd00::2/64", "dev", dev, "nodad")
}

// pseudowire joins two new namespaces with an underlay (see underlay),
// runs l2tap in each with a TAP named dev and the given arguments, and gives
// the TAPs their overlay addresses (see overlay).
func pseudowire(t *testing.T, prefix, dev string, argsA, argsB []string) (a, b netns, pa, pb *proc) {
	t.Helper()
	a, b = vethPair(t, prefix)
	pa = startL2tap(t, a, slices.Concat([]string{"-ifname", dev}, argsA)...)
	pb = startL2tap(t, b, slices.Concat([]string{"-ifname", dev}, argsB)...)
	overlay(t, a, b, dev)
	return a, b, pa, pb
}

// proc is an l2tap process under test.
type proc struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	ready  chan string
	done   chan struct{}
	exit   error
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer starts cmd, a server the test then talks to, with its output
// collected in the returned buffer, and waits until a socket in ns listens
// on TCP port. It is killed at cleanup unless the test has waited for it.
func startServer(t *testing.T, ns netns, port int, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	filter := fmt.Sprintf("sport = :%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if l, err := ns.cmd("ss", "-Hltn", filter).Output(); err == nil && len(bytes.TrimSpace(l)) > 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: nothing listens on port %d after 10s:\n%s", cmd.Args, port, out.String())
		}
	}
}

// noErrors fails the test if any named counter of either side is not zero.
func noErrors(t *testing.T, ca, cb map[string]uint64, names ...string) {
	t.Helper()
	for side, cnt := range map[string]map[string]uint64{"a": ca, "b": cb} {
		for _, name := range names {
			if cnt[name] != 0 {
				t.Errorf("side %s: %s %d; counters: %v", side, name, cnt[name], cnt)
			}
		}
	}
}

// startL2tap runs l2tap in ns with args and waits for its ready line. The
// process is stopped at cleanup if the test did not stop it.
func startL2tap(t *testing.T, ns netns, args ...string) *proc {
	t.Helper()
	return startWrapped(t, ns, nil, args...)
}

// startWrapped is startL2tap with l2tap run by the command line wrapper
// (such as setpriv and its options) when wrapper is not empty.
func startWrapped(t *testing.T, ns netns, wrapper []string, args ...string) *proc {
	t.Helper()
	argv := append(append(append([]string{}, wrapper...), l2tapBinary(t)), args...)
	p := &proc{cmd: ns.cmd(argv[0], argv[1:]...), ready: make(chan string, 1), done: make(chan struct{})}
	p.cmd.Stdout = &p.stdout
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer pr.Close()
		// A line too long to scan ends the scanning, not the reading:
		// l2tap must not block on a full pipe, or die writing to a
		// closed one.
		defer io.Copy(io.Discard, pr)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			// The text ready line, or the JSON one (-log-format json):
			// the first is waited for; with several sessions, the
			// others must not stop the reading.
			if strings.HasPrefix(line, "l2tap: ready") || strings.HasPrefix(line, "{") && strings.Contains(line, `"msg":"ready"`) {
				select {
				case p.ready <- line:
				default:
				}
			}
		}
	}()
	go func() {
		p.exit = p.cmd.Wait()
		// Wait returns when the process has exited, not when its last
		// lines have been read from the pipe: done promises them in
		// p.stderr. A child that kept the pipe open is not waited for
		// beyond a few seconds.
		select {
		case <-scanned:
		case <-time.After(5 * time.Second):
		}
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case <-p.ready:
	case <-p.done:
		t.Fatalf("l2tap %s exited before ready: %v\n%s", strings.Join(args, " "), p.exit, p.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("l2tap %s: not ready after 10s\n%s", strings.Join(args, " "), p.stderr.String())
	}
	return p
}

// stop sends SIGTERM, waits for a clean exit and returns the counters printed.
func (p *proc) stop(t *testing.T) map[string]uint64 {
	t.Helper()
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("l2tap did not stop within 5s of SIGTERM\n%s", p.stderr.String())
		}
	}
	if p.exit != nil {
		t.Errorf("l2tap exited with %v\n%s", p.exit, p.stderr.String())
	}
	counters := map[string]uint64{}
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				counters[f[0]] = v
			}
		}
	}
	return counters
}
