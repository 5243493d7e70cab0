//go:build linux

package tap

import (
	"testing"

	"github.com/l2tap/l2tap/internal/offload"
)

// TestChooseOffloads steps down from the richest offload set to what an
// older kernel takes.
func TestChooseOffloads(t *testing.T) {
	tso := offload.TunCsum | offload.TunTSO4 | offload.TunTSO6
	tests := []struct {
		name   string
		accept func(flags int) bool
		want   int
	}{
		{"everything", func(int) bool { return true }, tso | offload.TunUSO4 | offload.TunUSO6},
		{"no USO (before 6.2)", func(f int) bool { return f&(offload.TunUSO4|offload.TunUSO6) == 0 }, tso},
		{"checksum only", func(f int) bool { return f&^offload.TunCsum == 0 }, offload.TunCsum},
		{"nothing but zero", func(f int) bool { return f == 0 }, 0},
		{"not even zero", func(int) bool { return false }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tried []int
			got := chooseOffloads(func(f int) bool {
				tried = append(tried, f)
				return tt.accept(f)
			})
			if got != tt.want {
				t.Errorf("chose %#x after trying %#x, want %#x", got, tried, tt.want)
			}
			if got != 0 && !tt.accept(got) {
				t.Errorf("chose %#x, which the kernel refused", got)
			}
		})
	}
}
