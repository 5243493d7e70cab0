//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threadPolicies returns the scheduling policy of every thread of pid, from
// field 41 of /proc/PID/task/TID/stat.
func threadPolicies(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	var policies []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // field 3 onwards
		p, err := strconv.Atoi(fields[41-3])
		if err != nil {
			t.Fatalf("%s: policy %q: %v", f, fields[41-3], err)
		}
		policies = append(policies, p)
	}
	return policies
}

// TestSchedPolicy checks -sched: by default every thread of l2tap runs
// under SCHED_BATCH (3), also threads started after a bulk transfer made
// the runtime add some; with -sched normal every thread keeps SCHED_OTHER (0).
func TestSchedPolicy(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	for _, c := range []struct {
		flags []string
		want  int
	}{
		{nil, 3},
		{[]string{"-sched", "normal"}, 0},
	} {
		t.Run(fmt.Sprint(c.want), func(t *testing.T) {
			flags := append([]string{"-txsession", "1"}, c.flags...)
			e := encaps[0]
			a, b, pa, pb := pseudowire(t, "sp", "sp0", slices.Concat(e.a, flags), slices.Concat(e.b, flags))
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			bulkTransfers(t, a, b, "10.1.0.2", 6000, 6001)
			for _, p := range []*proc{pa, pb} {
				got := threadPolicies(t, p.cmd.Process.Pid)
				for _, policy := range got {
					if policy != c.want {
						t.Errorf("l2tap %v: thread policies %v, want all %d", c.flags, got, c.want)
						break
					}
				}
			}
		})
	}
}
