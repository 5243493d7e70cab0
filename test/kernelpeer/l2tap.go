//go:build linux

package kernelpeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/status"
)

// Counters are the statistics l2tap prints on exit, by name.
type Counters map[string]uint64

// ParseCounters reads "<name> <value>" lines; other lines are ignored.
func ParseCounters(text string) Counters {
	c := Counters{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		c[f[0]] = v
	}
	return c
}

// ParseSessionCounters reads the per-session lines l2tap prints on exit
// when it serves several sessions, "session NAME TX/RX: name=value ...",
// and returns each session's counters by its TAP's NAME.
func ParseSessionCounters(text string) (map[string]Counters, error) {
	m := map[string]Counters{}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, "session ")
		if !ok {
			continue
		}
		head, kvs, ok := strings.Cut(rest, ": ")
		f := strings.Fields(head)
		if !ok || len(f) != 2 {
			return nil, fmt.Errorf("session line %q: want \"session NAME TX/RX: name=value ...\"", line)
		}
		c := Counters{}
		for _, kv := range strings.Fields(kvs) {
			name, val, ok := strings.Cut(kv, "=")
			v, err := strconv.ParseUint(val, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("session line %q: counter %q is not name=number", line, kv)
			}
			c[name] = v
		}
		m[f[0]] = c
	}
	return m, nil
}

// Drops returns the sum of l2tap's per-reason receive drop counters (the
// names l2tpv3.DropCounters gives, the list l2tap prints them from) and a
// "name=value" summary of the nonzero ones, sorted by name.
func (c Counters) Drops() (uint64, string) {
	var sum uint64
	var parts []string
	for _, name := range l2tpv3.DropCounters() {
		v := c[name]
		if v == 0 {
			continue
		}
		sum += v
		parts = append(parts, fmt.Sprintf("%s=%d", name, v))
	}
	sort.Strings(parts)
	return sum, strings.Join(parts, " ")
}

// L2tap is a running l2tap process.
type L2tap struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr lockedBuffer
	done   chan struct{} // closed when the process exits
	err    error         // exit status, valid after done is closed
}

// StartL2tap runs bin with args inside ns and waits for its
// "l2tap: ready" line on stderr. Without a -user in args it runs as
// nobody, not as the l2tap account it would choose: make test runs these
// tests beside test/e2e, whose package test creates and purges that
// account, which a process running as it would keep.
func StartL2tap(ctx context.Context, ns *Netns, bin string, args []string, readyTimeout time.Duration) (*L2tap, error) {
	l := &L2tap{done: make(chan struct{})}
	if !slices.Contains(args, "-user") {
		args = append(slices.Clip(args), "-user", "nobody")
	}
	l.cmd = ns.Command(context.Background(), append([]string{bin}, args...)...)
	l.cmd.Stdout = &l.stdout
	pr, pw := io.Pipe()
	l.cmd.Stderr = pw
	if err := l.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start l2tap: %w", err)
	}
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			l.stderr.WriteLine(line)
			if !seen && strings.HasPrefix(line, "l2tap: ready") {
				seen = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		l.err = l.cmd.Wait()
		_ = pw.Close()
		// Wait has copied the last bytes into the pipe; done promises
		// their lines in l.stderr too.
		<-scanned
		close(l.done)
	}()
	select {
	case <-ready:
		return l, nil
	case <-l.done:
		return nil, fmt.Errorf("l2tap %s exited before ready: %v\nstderr:\n%s", strings.Join(args, " "), l.err, l.Stderr())
	case <-time.After(readyTimeout):
		_, _ = l.Stop(2 * time.Second)
		return nil, fmt.Errorf("l2tap %s not ready after %v\nstderr:\n%s", strings.Join(args, " "), readyTimeout, l.Stderr())
	case <-ctx.Done():
		_, _ = l.Stop(2 * time.Second)
		return nil, ctx.Err()
	}
}

// WaitReady waits until l2tap has logged n "l2tap: ready" lines, one per
// session, or timeout passes or l2tap exits.
func (l *L2tap) WaitReady(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := strings.Count(l.Stderr(), "\nl2tap: ready")
		if strings.HasPrefix(l.Stderr(), "l2tap: ready") {
			got++
		}
		if got >= n {
			return nil
		}
		select {
		case <-l.done:
			return fmt.Errorf("l2tap exited after %d of %d ready lines: %v\nstderr:\n%s", got, n, l.err, l.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d ready lines after %v\nstderr:\n%s", got, n, timeout, l.Stderr())
		}
	}
}

// Show asks the l2tap on the status socket for its state with
// `l2tap show -json -socket socket`, run from bin in ns.
func Show(ctx context.Context, ns *Netns, bin, socket string) (status.Snapshot, error) {
	cmd := ns.Command(ctx, bin, "show", "-json", "-socket", socket)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return status.Snapshot{}, fmt.Errorf("l2tap show -json -socket %s: %w\n%s", socket, err, stderr.String())
	}
	var snaps []status.Snapshot
	if err := json.Unmarshal(out, &snaps); err != nil {
		return status.Snapshot{}, fmt.Errorf("l2tap show -json: %w\n%s", err, out)
	}
	if len(snaps) != 1 {
		return status.Snapshot{}, fmt.Errorf("l2tap show -json -socket %s: %d processes, want 1\n%s", socket, len(snaps), out)
	}
	return snaps[0], nil
}

// SessionCounters returns the counters of each session in snap by TAP name.
func SessionCounters(snap status.Snapshot) map[string]Counters {
	m := map[string]Counters{}
	for _, t := range snap.Tunnels {
		for _, s := range t.Sessions {
			c := Counters{}
			for _, kv := range s.Counters {
				c[kv.Name] = kv.Value
			}
			m[s.TAP] = c
		}
	}
	return m
}

// Stop sends SIGTERM, waits up to timeout (then kills) and returns the
// counters printed on stdout. A non-zero exit after SIGTERM is an error.
func (l *L2tap) Stop(timeout time.Duration) (Counters, error) {
	select {
	case <-l.done:
	default:
		_ = l.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-l.done:
		case <-time.After(timeout):
			_ = l.cmd.Process.Kill()
			<-l.done
			return ParseCounters(l.stdout.String()), fmt.Errorf("l2tap did not exit within %v of SIGTERM", timeout)
		}
	}
	if l.err != nil {
		return ParseCounters(l.stdout.String()), fmt.Errorf("l2tap exit: %w\nstderr:\n%s", l.err, l.Stderr())
	}
	return ParseCounters(l.stdout.String()), nil
}

// Stdout returns what l2tap printed on stdout; complete after Stop.
func (l *L2tap) Stdout() string { return l.stdout.String() }

// Stderr returns what l2tap has printed on stderr so far; complete after
// Stop.
func (l *L2tap) Stderr() string { return l.stderr.String() }

// lockedBuffer is a line buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
	b.b.WriteByte('\n')
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
