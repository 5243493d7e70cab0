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
// a secret (misplaced, given twice, of the wrong type, misspelt, not
// TOML, or right but beside another mistake) are refused in one line at
// the right line, and nothing printed or logged shows the secret by
// the configuration loader (test/e2e's TestSecretNeverPrinted runs the binary on some).
func TestSecretNeverPrinted(t *testing.T) {
	s := testenv.Secret
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(s+"\n"), 0o644); err != nil { // a mode that warns
		t.Fatal(err)
	}
	dyn := "[[tunnel.session]]\ncircuit = \"vm1\"\n"
	for _, tc := range []struct {
		name, file string
		line       int
		want       string
	}{
		{"in-session", dynTunnelTOML + dyn + "secret = \"" + s + "\"\n", 6, "secret (value hidden): a tunnel key"},
		{"at-top", "secret = \"" + s + "\"\n" + dynTunnelTOML + dyn, 1, "secret (value hidden): a tunnel key"},
		{"twice", dynTunnelTOML + "secret = \"" + s + "\"\nsecret = \"" + s + "x\"\n" + dyn, 5, "secret (value hidden): given twice"},
		{"array", dynTunnelTOML + "secret = [\"" + s + "\"]\n" + dyn, 4, "secret (value hidden): want a string"},
		{"inline-table", dynTunnelTOML + "secret = { v = \"" + s + "\" }\n" + dyn, 4, "secret (value hidden): want a string"},
		{"misspelt", dynTunnelTOML + "secrett = \"" + s + "\"\n" + dyn, 4, "secrett (value hidden): unknown key; did you mean secret?"},
		{"misspelt-unlike", dynTunnelTOML + "secert = \"" + s + "\"\n" + dyn, 4, "secert (value hidden): unknown key; did you mean secret?"},
		{"other-name", dynTunnelTOML + "shared_secret = \"" + s + "\"\n" + dyn, 4, "shared_secret (value hidden): unknown key"},
		{"dotted", dynTunnelTOML + "tunnel.secret = \"" + s + "\"\n" + dyn, 4, "tunnel.secret (value hidden): unknown key; dotted keys"},
		{"quoted-key", dynTunnelTOML + "\"secret\" = '" + s + "'\nsecret = 1\n" + dyn, 5, "secret (value hidden): given twice"},
		{"unquoted", dynTunnelTOML + "secret = " + s + "\n" + dyn, 4, "secret: unexpected character (hidden) at start of value"},
		{"bad-escape", dynTunnelTOML + "secret = \"Zq7\\TOPSECRET\"\n" + dyn, 4, "secret: invalid escape character (hidden)"},
		{"bad-escape-multiline", dynTunnelTOML + "secret = \"\"\"\nZq7\\TOPSECRET\"\"\"\n" + dyn, 5, "secret: invalid escape character (hidden)"},
		{"unterminated", dynTunnelTOML + "secret = \"" + s + "\n" + dyn, 4, "secret: basic strings cannot have new lines"},
		{"static", dynTunnelTOML + "secret = \"" + s + "\"\n[[tunnel.session]]\ntxsession = 1\n", 4, "secret is for dynamic sessions"},
		{"with-secret-file", dynTunnelTOML + "secret = \"" + s + "\"\nsecret-file = \"" + secretFile + "\"\n" + dyn, 4, "secret and secret-file both given"},
		{"other-mistake", dynTunnelTOML + "secret = \"" + s + "\"\ndigest = \"crc\"\n" + dyn, 5, `digest "crc": want md5`},
		{"file-and-bad-role", dynTunnelTOML + "secret-file = \"" + secretFile + "\"\nrole = \"boss\"\n" + dyn, 5, `role "boss"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := filepath.Join(dir, tc.name+".toml")
			if err := os.WriteFile(cf, []byte(tc.file), 0o600); err != nil {
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
			if want := fmt.Sprintf("%s:%d: %s", cf, tc.line, tc.want); !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("LoadConfigFile: %q; want one line starting %q", err, want)
			}
			if leak := testenv.SecretLeaks(err.Error() + logs.String()); leak != "" {
				t.Errorf("%q printed:\nerror: %v\nlogs: %s", leak, err, logs.String())
			}
		})
	}
}
