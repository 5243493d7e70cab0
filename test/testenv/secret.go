package testenv

import "strings"

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
