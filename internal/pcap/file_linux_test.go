//go:build linux

package pcap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenRefuses plants at the capture's name what another account could
// put in a directory it may write to: each must be refused with an error
// naming the file and the way out, and the file behind it left as it was
// (content, mode); a FIFO must not block the open.
func TestOpenRefuses(t *testing.T) {
	const secret = "root's file\n"
	tests := []struct {
		name  string
		plant func(t *testing.T, path, target string)
		want  string // in the error
	}{
		{"symlink", func(t *testing.T, path, target string) { must(t, os.Symlink(target, path)) }, "symbolic link"},
		{"dangling symlink", func(t *testing.T, path, target string) {
			must(t, os.Symlink(target+".new", path))
		}, "symbolic link"},
		{"hard link", func(t *testing.T, path, target string) { must(t, os.Link(target, path)) }, "2 hard links"},
		{"FIFO", func(t *testing.T, path, target string) { must(t, syscall.Mkfifo(path, 0o600)) }, "FIFO"},
		{"FIFO with a reader", func(t *testing.T, path, target string) {
			must(t, syscall.Mkfifo(path, 0o600))
			r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			must(t, err)
			t.Cleanup(func() { r.Close() })
		}, "a FIFO, not a regular file"},
		{"directory", func(t *testing.T, path, target string) { must(t, os.Mkdir(path, 0o700)) }, "a directory"},
		{"symlinked directory", nil, "directory is a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			target := filepath.Join(root, "target")
			must(t, os.WriteFile(target, []byte(secret), 0o640))
			dir := filepath.Join(root, "captures")
			must(t, os.Mkdir(dir, 0o700))
			path := filepath.Join(dir, "c.pcap")
			if tt.plant != nil {
				tt.plant(t, path, target)
			} else {
				// The directory itself replaced by a link to one holding
				// a file of the capture's name.
				other := filepath.Join(root, "other")
				must(t, os.Mkdir(other, 0o700))
				must(t, os.Symlink(target, filepath.Join(other, "c.pcap")))
				must(t, os.Remove(dir))
				must(t, os.Symlink(other, dir))
			}
			w, err := Open(Config{Path: path, UID: -1, GID: -1})
			if err == nil {
				w.Close()
				t.Fatal("Open: no error")
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Open: %q; want one line with %q", msg, tt.want)
			}
			if tt.plant != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %q does not name %s", err, path)
			}
			b, err := os.ReadFile(target)
			must(t, err)
			st, err := os.Stat(target)
			must(t, err)
			if string(b) != secret || st.Mode().Perm() != 0o640 {
				t.Errorf("target changed: %q mode %v", b, st.Mode().Perm())
			}
			if _, err := os.Lstat(target + ".new"); !os.IsNotExist(err) {
				t.Errorf("a file was created through the dangling link: %v", err)
			}
		})
	}
}

// TestOpenTakesOver: an existing regular file with one link is taken
// over: emptied only once checked, made mode 0600.
func TestOpenTakesOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	must(t, os.WriteFile(path, bytes.Repeat([]byte("x"), 1000), 0o644))
	w, err := Open(Config{Path: path, UID: -1, GID: -1})
	must(t, err)
	must(t, w.Close())
	st, err := os.Stat(path)
	must(t, err)
	if st.Size() != FileHeaderLen || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %d bytes, mode %v; want the header alone (%d), 0600", path, st.Size(), st.Mode().Perm(), FileHeaderLen)
	}
}

// TestRotationRefusesPlanted: a rotation's new file is created, never
// opened: a link put at the name meanwhile stops the capture and its
// target is left alone.
func TestRotationRefusesPlanted(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(root, "target")
	must(t, os.WriteFile(target, []byte("keep"), 0o600))
	path := filepath.Join(root, "c.pcap")
	w, err := Open(Config{Path: path, MaxSize: FileHeaderLen + 40, UID: -1, GID: -1})
	must(t, err)
	// The writer rotates only when a record arrives; plant the link at
	// the name the new file will take, as if right after the rename.
	d := w.dir
	must(t, os.Symlink(target, path+".x"))
	_, err = d.create(filepath.Base(path)+".x", true, -1, -1)
	if err == nil || !strings.Contains(err.Error(), path+".x") {
		t.Errorf("create of a fresh file over a link: %v; want an error naming it", err)
	}
	must(t, w.Close())
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("target changed: %q", b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
