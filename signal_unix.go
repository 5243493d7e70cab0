//go:build unix

package main

import "syscall"

// sigCounters prints the counters (SIGUSR1).
const sigCounters = syscall.SIGUSR1
