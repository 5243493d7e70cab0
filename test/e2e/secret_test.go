//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/test/testenv"
)

// TestSecretNeverPrinted runs the binary with the configuration files of
// testenv.SecretMistakes, each with a mistake in or around a secret
// (internal/config's TestSecretNeverPrinted checks the loader's errors and
// logs on the same files): l2tap exits 2 with the error at its line, and
// nothing on its stdout or stderr shows the secret.
func TestSecretNeverPrinted(t *testing.T) {
	for _, tc := range testenv.SecretMistakes(t, t.TempDir()) {
		t.Run(tc.Name, func(t *testing.T) {
			cmd := exec.Command(l2tapBinary(t), "-config", tc.Path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("l2tap -config: exit %d (%v), want 2\n%s", code, err, stderr.String())
			}
			if want := fmt.Sprintf("%s:%d: %s", tc.Path, tc.Line, tc.Want); !strings.Contains(stderr.String(), want) {
				t.Errorf("l2tap -config: stderr %q, want it to name %q", stderr.String(), want)
			}
			if leak := testenv.SecretLeaks(stdout.String() + stderr.String()); leak != "" {
				t.Errorf("l2tap -config: %q printed:\nstdout: %s\nstderr: %s", leak, stdout.String(), stderr.String())
			}
		})
	}
}
