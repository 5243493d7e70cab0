//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	dir := t.TempDir()
	for _, tc := range testenv.SecretMistakes(t, dir) {
		t.Run(tc.Name, func(t *testing.T) {
			cf := filepath.Join(dir, tc.Name+".toml")
			if err := os.WriteFile(cf, []byte(tc.File), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(l2tapBinary(t), "-config", cf)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("l2tap -config: exit %d (%v), want 2\n%s", code, err, stderr.String())
			}
			if want := fmt.Sprintf("%s:%d: %s", cf, tc.Line, tc.Want); !strings.Contains(stderr.String(), want) {
				t.Errorf("l2tap -config: stderr %q, want it to name %q", stderr.String(), want)
			}
			if leak := testenv.SecretLeaks(stdout.String() + stderr.String()); leak != "" {
				t.Errorf("l2tap -config: %q printed:\nstdout: %s\nstderr: %s", leak, stdout.String(), stderr.String())
			}
		})
	}
}
