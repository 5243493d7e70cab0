//go:build linux

package daemon

import (
	"log/slog"
	"os"
)

// The seccomp filter itself is internal/sandbox's; this file holds its
// test hook.

// testForbiddenSyscall is a test hook, read once at startup: when the
// environment has L2TAP_TEST_FORBIDDEN_SYSCALL=1, l2tap opens "/" right
// after setup, a call the filter forbids, so that tests can see the
// filter kill it (and, with -seccomp=off, not).
var testForbiddenSyscall = os.Getenv("L2TAP_TEST_FORBIDDEN_SYSCALL") == "1"

// forbiddenCall is what the test hook does: an openat that l2tap never
// makes once set up.
func forbiddenCall() {
	f, err := os.Open("/")
	if err == nil {
		f.Close()
	}
	slog.Info("test hook L2TAP_TEST_FORBIDDEN_SYSCALL: openat after setup", "result", errString(err))
}

func errString(err error) string {
	if err == nil {
		return "allowed"
	}
	return err.Error()
}
