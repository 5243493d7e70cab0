//go:build unix

package daemon

import "syscall"

// sigCounters prints the counters (SIGUSR1).
const sigCounters = syscall.SIGUSR1

// sigHeapProfile writes the -memprofile heap profile (SIGUSR2).
const sigHeapProfile = syscall.SIGUSR2
