package daemon

import "syscall"

// sigCounters is a signal Windows never delivers: it has no SIGUSR1, so
// the counters come on exit (and from l2tap show) only.
const sigCounters = syscall.Signal(-1)

// sigHeapProfile is a signal Windows never delivers: it has no SIGUSR2, so
// the -memprofile heap profile is written on exit only.
const sigHeapProfile = syscall.Signal(-2)
