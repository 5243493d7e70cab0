package main

import (
	"slices"
	"testing"
	"time"
)

func TestProcGovernorWant(t *testing.T) {
	const bulk = govBulk
	type step struct {
		tx, rx uint64
		want   int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"idle stays on one", []step{{0, 0, 1}, {100, 50, 1}}},
		{"one-way bulk stays on one", []step{{100 * bulk, bulk / 100, 1}, {100 * bulk, 0, 1}}},
		{"both ways goes to two", []step{{bulk, bulk, 2}}},
		{"uneven but both bulk goes to two", []step{{4 * bulk, bulk, 2}}},
		{"more than four to one is one-sided", []step{{4*bulk + 1, bulk, 1}}},
		{"below the floor is not bulk", []step{{bulk - 1, bulk - 1, 1}}},
		{"back to one only after a calm spell", []step{
			{bulk, bulk, 2}, {bulk, 0, 2}, {0, 0, 2}, {bulk, 0, 2}, {0, 0, 1}, {0, 0, 1},
		}},
		{"bulk resets the calm count", []step{
			{bulk, bulk, 2}, {0, 0, 2}, {0, 0, 2}, {0, 0, 2}, {bulk, bulk, 2}, {0, 0, 2}, {0, 0, 2}, {0, 0, 2}, {0, 0, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &procGovernor{procs: 1}
			for i, s := range tt.steps {
				got := g.want(s.tx, s.rx)
				if got != s.want {
					t.Fatalf("step %d (tx %d, rx %d): want() = %d, expected %d", i, s.tx, s.rx, got, s.want)
				}
				g.procs = got
			}
		})
	}
}

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
