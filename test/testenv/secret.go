package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secret is the shared secret the tests of secret handling hide in
// configuration files. Its first letter, Z (U+005A), is the character a
// TOML parser quotes when it stumbles at the start of an unquoted value;
// its escape \T (U+0054) the one quoted for a bad escape.
const Secret = "Zq7TOPSECRET"

// SecretLeaks returns what in out gives Secret away (the secret, a piece
// of it, or its first character as a parser would quote it), or "".
func SecretLeaks(out string) string {
	for _, s := range []string{"TOPSECRET", "Zq7", "U+005A", "U+0054", "'Z'", "'T'"} {
		if strings.Contains(out, s) {
			return s
		}
	}
	return ""
}

// SecretMistake is a configuration file with a mistake in or around
// Secret, and the error that reading it must give: one line starting
// Path:Line: Want.
type SecretMistake struct {
	Name string
	Path string // the file, written by SecretMistakes
	Line int
	Want string
}

// SecretMistakes writes into dir a file holding Secret (mode 0644, which
// draws a warning) and the configuration files, one per mistake in or
// around a secret (misplaced, given twice, of the wrong type, misspelt,
// not TOML, or right but beside another mistake), some naming that file,
// and returns those. internal/config's TestSecretNeverPrinted gives them to
// the loader, test/e2e's to the binary.
func SecretMistakes(t testing.TB, dir string) []SecretMistake {
	t.Helper()
	s := Secret
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(s+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tunnel := "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n"
	dyn := "[[tunnel.session]]\ncircuit = \"vm1\"\n"
	files := []struct {
		name, text string
		line       int
		want       string
	}{
		{"in-session", tunnel + dyn + "secret = \"" + s + "\"\n", 6, "secret (value hidden): a tunnel key"},
		{"at-top", "secret = \"" + s + "\"\n" + tunnel + dyn, 1, "secret (value hidden): a tunnel key"},
		{"twice", tunnel + "secret = \"" + s + "\"\nsecret = \"" + s + "x\"\n" + dyn, 5, "secret (value hidden): given twice"},
		{"array", tunnel + "secret = [\"" + s + "\"]\n" + dyn, 4, "secret (value hidden): want a string"},
		{"inline-table", tunnel + "secret = { v = \"" + s + "\" }\n" + dyn, 4, "secret (value hidden): want a string"},
		{"misspelt", tunnel + "secrett = \"" + s + "\"\n" + dyn, 4, "secrett (value hidden): unknown key; did you mean secret?"},
		{"misspelt-unlike", tunnel + "secert = \"" + s + "\"\n" + dyn, 4, "secert (value hidden): unknown key; did you mean secret?"},
		{"other-name", tunnel + "shared_secret = \"" + s + "\"\n" + dyn, 4, "shared_secret (value hidden): unknown key"},
		{"dotted", tunnel + "tunnel.secret = \"" + s + "\"\n" + dyn, 4, "tunnel.secret (value hidden): unknown key; dotted keys"},
		{"quoted-key", tunnel + "\"secret\" = '" + s + "'\nsecret = 1\n" + dyn, 5, "secret (value hidden): given twice"},
		{"unquoted", tunnel + "secret = " + s + "\n" + dyn, 4, "secret: unexpected character (hidden) at start of value"},
		{"bad-escape", tunnel + "secret = \"Zq7\\TOPSECRET\"\n" + dyn, 4, "secret: invalid escape character (hidden)"},
		{"bad-escape-multiline", tunnel + "secret = \"\"\"\nZq7\\TOPSECRET\"\"\"\n" + dyn, 5, "secret: invalid escape character (hidden)"},
		{"unterminated", tunnel + "secret = \"" + s + "\n" + dyn, 4, "secret: basic strings cannot have new lines"},
		{"static", tunnel + "secret = \"" + s + "\"\n[[tunnel.session]]\ntxsession = 1\n", 4, "secret is for dynamic sessions"},
		{"with-secret-file", tunnel + "secret = \"" + s + "\"\nsecret-file = \"" + secretFile + "\"\n" + dyn, 4, "secret and secret-file both given"},
		{"other-mistake", tunnel + "secret = \"" + s + "\"\ndigest = \"crc\"\n" + dyn, 5, `digest "crc": want md5`},
		{"file-and-bad-role", tunnel + "secret-file = \"" + secretFile + "\"\nrole = \"boss\"\n" + dyn, 5, `role "boss"`},
	}
	var mistakes []SecretMistake
	for _, f := range files {
		path := filepath.Join(dir, f.name+".toml")
		if err := os.WriteFile(path, []byte(f.text), 0o600); err != nil {
			t.Fatal(err)
		}
		mistakes = append(mistakes, SecretMistake{Name: f.name, Path: path, Line: f.line, Want: f.want})
	}
	return mistakes
}
