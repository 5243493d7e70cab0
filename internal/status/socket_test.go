//go:build linux

package status

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestListen checks the status socket's file policy on what may be found
// at its path: nothing (made, 0600), a regular file (refused, left as it
// is), a socket nothing answers on (taken over), a socket another process
// answers on (refused, left as it is), and a missing directory (made).
func TestListen(t *testing.T) {
	self := Owner{UID: os.Getuid(), GID: os.Getgid(), Name: "-user me"}
	none := Owner{UID: -1, GID: -1}
	for _, c := range []struct {
		name    string
		prepare func(t *testing.T, path string)
		owner   Owner
		nested  bool   // the path's directory does not exist yet
		want    string // the error's text; "" is success
	}{
		{"nothing there", func(*testing.T, string) {}, none, false, ""},
		{"nothing there, owned", func(*testing.T, string) {}, self, false, ""},
		{"directory missing", func(*testing.T, string) {}, none, true, ""},
		{"regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, none, false, "exists and is not a socket"},
		{"dead socket", func(t *testing.T, path string) {
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			ln.SetUnlinkOnClose(false)
			ln.Close()
		}, none, false, ""},
		{"live socket", func(t *testing.T, path string) {
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}, none, false, "in use by another running l2tap"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.nested {
				dir = filepath.Join(dir, "a", "b")
			}
			path := filepath.Join(dir, "s.sock")
			c.prepare(t, path)
			before, _ := os.Lstat(path)
			ln, err := Listen(path, c.owner, true)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Listen: %v; want an error with %q", err, c.want)
				}
				after, lerr := os.Lstat(path)
				if lerr != nil || !os.SameFile(before, after) {
					t.Errorf("the file found at the path was changed: %v", lerr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			defer ln.Close()
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v, %v; want a socket of mode 0600", path, fi, err)
			}
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
			}()
			conn, err := net.Dial("unix", path)
			if err != nil {
				t.Fatalf("the socket made does not answer: %v", err)
			}
			conn.Close()
			ln.Close()
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("closing the listener removed the file (%v): its caller removes it", err)
			}
		})
	}
}

// TestDefaultPath checks that another account's default socket is in its
// own directory, and that the path ends in the TAP's name (with the
// network namespace's when not PID 1's) and fits a unix socket address.
func TestDefaultPath(t *testing.T) {
	for _, c := range []struct {
		tap string
		uid int
		dir string
	}{
		{"tap0", -1, DefaultDir},
		{"tap0", 0, filepath.Join(DefaultDir, "uid-0")},
		{"vm1", 65534, filepath.Join(DefaultDir, "uid-65534")},
		{strings.Repeat("t", 15), 1<<31 - 2, filepath.Join(DefaultDir, "uid-"+strconv.Itoa(1<<31-2))},
	} {
		p := DefaultPath(c.tap, c.uid)
		if filepath.Dir(p) != c.dir {
			t.Errorf("DefaultPath(%q, %d) = %s; want it in %s", c.tap, c.uid, p, c.dir)
		}
		base := filepath.Base(p)
		if !strings.HasPrefix(base, c.tap) || !strings.HasSuffix(base, ".sock") {
			t.Errorf("DefaultPath(%q, %d) = %s; want %s.sock or %s@NETNS.sock", c.tap, c.uid, p, c.tap, c.tap)
		}
		if ns := netnsName(); (ns == "") != (base == c.tap+".sock") {
			t.Errorf("DefaultPath(%q, %d) = %s in network namespace %q", c.tap, c.uid, p, ns)
		}
		if len(p) > MaxSocketPath {
			t.Errorf("DefaultPath(%q, %d) = %s: %d bytes, more than %d", c.tap, c.uid, p, len(p), MaxSocketPath)
		}
	}
}
