// Package testenv is what the tests that run l2tap share about the host
// they run on: whether the run is CI's (where a missing prerequisite fails
// instead of skipping), which prerequisites a test lacks, and building the
// l2tap binary under test. The end-to-end tests (test/e2e), the kernel
// peer's (test/kernelpeer) and the root package's unit tests that run host
// tools use it. It never starts l2tap or touches the network: that is each
// harness's own.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// InCI reports whether the environment declares a CI run (CI=true), in
// which case a missing prerequisite must fail the tests instead of
// skipping them.
func InCI() bool {
	return strings.EqualFold(os.Getenv("CI"), "true")
}

// RequireTools fails (under CI) or skips the test when a prerequisite is
// missing: root, when root is true, or one of the programs in tools. CI
// must never pass by skipping. Under -short (make unit) a test that needs
// root is skipped, whoever runs it: make unit runs exactly the tests that
// need no root.
func RequireTools(t testing.TB, root bool, tools ...string) {
	t.Helper()
	if root && testing.Short() {
		t.Skip("-short (make unit): needs root and network namespaces")
	}
	var missing []string
	if root && os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing prerequisites: " + strings.Join(missing, ", ") + " (run .ci/run or apt-get install them)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// BuildL2tap compiles the l2tap program in repoRoot (the module's root)
// into outDir and returns the binary's path. It builds pure Go, as make
// build and the Debian package do: a cgo build's seccomp filter allows
// read-only opens (see sandbox.Options.Libc), which the tests check are
// refused.
func BuildL2tap(ctx context.Context, repoRoot, outDir string) (string, error) {
	bin := filepath.Join(outDir, "l2tap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build l2tap in %s: %w\n%s", repoRoot, err, out)
	}
	return bin, nil
}

// BashComplete sources the bash completion (scripts/completions/l2tap.bash,
// from the module's root, where the tests run), completes the last of
// words and returns COMPREPLY. wrap, if any, runs bash (ip netns exec ...).
func BashComplete(t testing.TB, wrap []string, words ...string) []string {
	t.Helper()
	script := `source scripts/completions/l2tap.bash
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_l2tap
printf '%s\n' "${COMPREPLY[@]}"`
	args := append(append(wrap, "bash", "--norc", "-c", script, "bash"), words...)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	var reply []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if l != "" {
			reply = append(reply, l)
		}
	}
	return reply
}
