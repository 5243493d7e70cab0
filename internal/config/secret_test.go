//go:build linux

package config

import (
	"bytes"
	"fmt"
	"log/slog"
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
	for _, tc := range testenv.SecretMistakes(t, t.TempDir()) {
		t.Run(tc.Name, func(t *testing.T) {
			var logs bytes.Buffer
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
			_, err := LoadConfigFile(tc.Path)
			slog.SetDefault(old)
			if err == nil {
				t.Fatal("LoadConfigFile: no error")
			}
			if want := fmt.Sprintf("%s:%d: %s", tc.Path, tc.Line, tc.Want); !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("LoadConfigFile: %q; want one line starting %q", err, want)
			}
			if leak := testenv.SecretLeaks(err.Error() + logs.String()); leak != "" {
				t.Errorf("%q printed:\nerror: %v\nlogs: %s", leak, err, logs.String())
			}
		})
	}
}
