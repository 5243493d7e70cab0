//go:build linux

package e2e

import (
	"slices"
	"testing"
	"time"
)

// TestProcGovernorTraffic runs TCP through a pseudowire one way, then both
// ways at once: only traffic both ways spreads l2tap over two processors.
func TestProcGovernorTraffic(t *testing.T) {
	requireTools(t, true, "ip", "ping", "iperf3")
	t.Setenv("GOMAXPROCS", "") // a value set by the user turns the governor off
	for _, c := range []struct {
		name   string
		args   []string
		raised bool
	}{
		{"one-way", nil, false},
		{"both-ways", []string{"--bidir"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, flags := encaps[0], []string{"-txsession", "1"}
			a, b, pa, pb := pseudowire(t, "pg", "pg0", slices.Concat(e.a, flags), slices.Concat(e.b, flags))
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			srv := b.cmd("iperf3", "-s", "-1", "-B", "10.1.0.2")
			srvOut := startServer(t, b, 5201, srv)
			args := slices.Concat([]string{"-c", "10.1.0.2", "-t", "3"}, c.args)
			out, err := a.cmd("iperf3", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("iperf3 %v: %v\n%s\nserver: %s", args, err, out, srvOut.String())
			}
			srv.Wait()
			ca, cb := pa.stop(t), pb.stop(t)
			raised := ca["procs_raised"] + cb["procs_raised"]
			t.Logf("procs_raised a %d b %d; tx_bytes a %d b %d", ca["procs_raised"], cb["procs_raised"], ca["tx_bytes"], cb["tx_bytes"])
			if (raised > 0) != c.raised {
				t.Errorf("procs_raised a %d b %d, want raised: %v\n%s", ca["procs_raised"], cb["procs_raised"], c.raised, out)
			}
		})
	}
}
