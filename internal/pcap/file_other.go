//go:build !linux

package pcap

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dir is the capture directory. Elsewhere than on Linux l2tap keeps root's
// privileges only where it runs as root all along (no -user), so the files
// are opened by path.
type dir struct {
	path string
}

// openDir checks that the directory of file path exists.
func openDir(path string) (*dir, error) {
	d := filepath.Dir(path)
	fi, err := os.Stat(d)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("pcap: %s: not a directory; capture into an existing directory", d)
	}
	return &dir{path: d}, nil
}

func (d *dir) close() {}

// create creates (or truncates) the file name, mode 0600, and gives it to
// uid and gid (-1: left as they are).
func (d *dir) create(name string, fresh bool, uid, gid int) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if fresh {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(filepath.Join(d.path, name), flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	if uid != -1 || gid != -1 {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return nil, fmt.Errorf("pcap: %w", err)
		}
	}
	return f, nil
}

// rename is rename(2) alone: os.Rename looks at the new name first.
func (d *dir) rename(from, to string) error {
	oldPath, newPath := filepath.Join(d.path, from), filepath.Join(d.path, to)
	if err := syscall.Rename(oldPath, newPath); err != nil {
		return fmt.Errorf("pcap: rotate: %w", &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err})
	}
	return nil
}
