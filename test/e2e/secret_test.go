//go:build linux

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/test/testenv"
)

// TestSecretNeverPrinted runs the binary with configuration files that
// have mistakes in or around a secret, one of each kind of the root
// package's TestSecretNeverPrinted (which checks the parser's errors and
// logs on all of them): l2tap exits 2 with the error, and nothing on its
// stdout or stderr shows the secret.
func TestSecretNeverPrinted(t *testing.T) {
	s := testenv.Secret
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(s+"\n"), 0o644); err != nil { // a mode that warns
		t.Fatal(err)
	}
	tunnel := "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n"
	dyn := "[[tunnel.session]]\ncircuit = \"vm1\"\n"
	for _, tc := range []struct{ name, file, want string }{
		{"in-session", tunnel + dyn + "secret = \"" + s + "\"\n", ":6: secret (value hidden): a tunnel key"},
		{"twice", tunnel + "secret = \"" + s + "\"\nsecret = \"" + s + "x\"\n" + dyn, ":5: secret (value hidden): given twice"},
		{"misspelt", tunnel + "secrett = \"" + s + "\"\n" + dyn, ":4: secrett (value hidden): unknown key"},
		{"unquoted", tunnel + "secret = " + s + "\n" + dyn, ":4: secret: unexpected character (hidden)"},
		{"bad-escape", tunnel + "secret = \"Zq7\\TOPSECRET\"\n" + dyn, ":4: secret: invalid escape character (hidden)"},
		{"file-and-bad-role", tunnel + "secret-file = \"" + secretFile + "\"\nrole = \"boss\"\n" + dyn, `:5: role "boss"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := filepath.Join(dir, tc.name+".toml")
			if err := os.WriteFile(cf, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(l2tapBinary(t), "-config", cf)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("l2tap -config: exit %d (%v), want 2\n%s", code, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), cf+tc.want) {
				t.Errorf("l2tap -config: stderr %q, want it to name %q", stderr.String(), cf+tc.want)
			}
			if leak := testenv.SecretLeaks(stdout.String() + stderr.String()); leak != "" {
				t.Errorf("l2tap -config: %q printed:\nstdout: %s\nstderr: %s", leak, stdout.String(), stderr.String())
			}
		})
	}
}
