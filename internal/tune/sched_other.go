//go:build !linux

package tune

import (
	"fmt"
	"runtime"
)

// SetBatchPolicy fails: SCHED_BATCH is Linux's.
func SetBatchPolicy() error {
	return fmt.Errorf("SCHED_BATCH: not on %s", runtime.GOOS)
}
