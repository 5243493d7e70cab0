package main

import "syscall"

// sigCounters is a signal Windows never delivers: it has no SIGUSR1, so
// the counters come on exit (and from l2tap show) only.
const sigCounters = syscall.Signal(-1)
