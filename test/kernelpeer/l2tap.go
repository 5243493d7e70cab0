package kernelpeer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// BuildL2tap compiles the l2tap program in repoRoot into outDir and
// returns the binary's path.
func BuildL2tap(ctx context.Context, repoRoot, outDir string) (string, error) {
	bin := filepath.Join(outDir, "l2tap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build l2tap in %s: %w\n%s", repoRoot, err, out)
	}
	return bin, nil
}

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
// "l2tap: ready" line on stderr.
func StartL2tap(ctx context.Context, ns *Netns, bin string, args []string, readyTimeout time.Duration) (*L2tap, error) {
	l := &L2tap{done: make(chan struct{})}
	l.cmd = ns.Command(context.Background(), append([]string{bin}, args...)...)
	l.cmd.Stdout = &l.stdout
	pr, pw := io.Pipe()
	l.cmd.Stderr = pw
	if err := l.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start l2tap: %w", err)
	}
	ready := make(chan struct{})
	go func() {
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

// Stderr returns what l2tap has printed on stderr so far.
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
