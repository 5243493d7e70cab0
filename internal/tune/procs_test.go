package tune

import "testing"

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
			g := &Governor{procs: 1}
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
