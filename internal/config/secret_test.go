//go:build linux

package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/test/testenv"
)

// TestSecretNeverPrinted: configuration files with mistakes in or around
// a secret (testenv.SecretMistakes: misplaced, given twice, of the wrong
// type, misspelt, not TOML, or right but beside another mistake) are
// refused in one line at the right line, and nothing printed or logged
// by the configuration loader shows the secret (test/e2e's
// TestSecretNeverPrinted runs the binary on the same files).
func TestSecretNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range testenv.SecretMistakes(t, dir) {
		t.Run(tc.Name, func(t *testing.T) {
			cf := filepath.Join(dir, tc.Name+".toml")
			if err := os.WriteFile(cf, []byte(tc.File), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
			_, err := LoadConfigFile(cf)
			slog.SetDefault(old)
			if err == nil {
				t.Fatal("LoadConfigFile: no error")
			}
			if want := fmt.Sprintf("%s:%d: %s", cf, tc.Line, tc.Want); !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("LoadConfigFile: %q; want one line starting %q", err, want)
			}
			if leak := testenv.SecretLeaks(err.Error() + logs.String()); leak != "" {
				t.Errorf("%q printed:\nerror: %v\nlogs: %s", leak, err, logs.String())
			}
		})
	}
}
