//go:build linux

package sockfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listen is a bind function for a stream listener.
func listen(ln **net.UnixListener) func(string) error {
	return func(name string) error {
		var err error
		if *ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"}); err == nil {
			(*ln).SetUnlinkOnClose(false)
		}
		return err
	}
}

// entries lists a directory's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestPlace: the socket ends up at the path with the mode asked for,
// answers there, replaces what is there, and the private directory is
// gone.
func TestPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a-rather-long-socket-file-name-that-would-not-fit-twice.sock")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil { // replaced by the rename
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o660} {
		var ln *net.UnixListener
		if err := Place(path, -1, -1, mode, listen(&ln)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, want a socket, mode %v", path, fi.Mode(), mode)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("connect at the final path: %v", err)
		}
		c.Close()
		ln.Close()
		if got := entries(t, dir); len(got) != 1 || got[0] != filepath.Base(path) {
			t.Errorf("directory holds %q, want the socket alone", got)
		}
	}
}

// TestPlaceFails: a failed bind leaves nothing, and a directory that is a
// symbolic link is refused with its real path.
func TestPlaceFails(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("no bind")
	err := Place(filepath.Join(dir, "x.sock"), -1, -1, 0o600, func(string) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Place: %v, want the bind's error", err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q after a failed bind, want nothing", got)
	}
	// Failing after the bind: the rename onto a directory that is not
	// empty; the socket and the private directory are removed.
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "taken", "f"), nil, 0o600)
	var ln *net.UnixListener
	if err := Place(filepath.Join(dir, "taken"), -1, -1, 0o600, listen(&ln)); err == nil {
		t.Error("Place over a non-empty directory: no error")
	}
	if ln != nil {
		ln.Close()
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "taken" {
		t.Errorf("directory holds %q after a failed rename, want only what was there", got)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	err = Place(filepath.Join(link, "x.sock"), -1, -1, 0o600, listen(&ln))
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Place in a linked directory: %v; want a refusal naming %s", err, dir)
	}
}
