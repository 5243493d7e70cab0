//go:build linux

package pcap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The capture directory may be writable by a less privileged account (the
// -user one, which creates the files after a rotation), while the first
// file is opened as root. Nothing there is trusted: every file is opened
// relative to a descriptor of the directory, itself opened once without
// following a link, with O_NOFOLLOW, and kept only if it is a regular file
// with one link; it is truncated, given its mode and owner through its
// descriptor after those checks, never by path. A rotation renames within
// that directory and creates the next file with O_EXCL: whatever another
// account put at the name is an error, never written through.

// dir is the capture directory, held open.
type dir struct {
	fd   int
	path string
}

// openDir opens the directory of file path.
func openDir(path string) (*dir, error) {
	d := filepath.Dir(path)
	fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
			if real, rerr := filepath.EvalSymlinks(d); rerr == nil && real != d {
				return nil, fmt.Errorf("pcap: %s: the directory is a symbolic link, which is not followed (another account could point it elsewhere); give the real directory, %s", d, real)
			}
			return nil, fmt.Errorf("pcap: %s: not a directory; capture into an existing directory", d)
		case errors.Is(err, unix.ENOENT):
			return nil, fmt.Errorf("pcap: %s: no such directory; create it first", d)
		}
		return nil, fmt.Errorf("pcap: open directory %s: %w", d, err)
	}
	return &dir{fd: fd, path: d}, nil
}

// close closes the directory's descriptor.
func (d *dir) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// create opens the file name in the directory for writing, empty, mode
// 0600, owned by uid and gid (-1: left as they are). With fresh the file
// must not exist yet (a rotation's next file); otherwise an existing one
// is taken over, but only a regular file with one link: it is opened
// without truncation, checked, and then truncated.
func (d *dir) create(name string, fresh bool, uid, gid int) (*os.File, error) {
	path := filepath.Join(d.path, name)
	// O_NONBLOCK: opening a FIFO for writing would wait for a reader.
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	if fresh {
		flags |= unix.O_EXCL
	}
	fd, err := unix.Openat(d.fd, name, flags, 0o600)
	if err != nil {
		return nil, explainOpen(path, fresh, err)
	}
	if err := d.check(fd, path, uid, gid); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// check refuses what fd must not be (see create), then empties it and sets
// its mode and owner, all through the descriptor.
func (d *dir) check(fd int, path string, uid, gid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("pcap: %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("pcap: %s: %s, not a regular file: remove it, or capture to another name", path, fileKind(st.Mode))
	}
	if st.Nlink != 1 {
		return fmt.Errorf("pcap: %s: the file has %d hard links, so writing it would change a file under another name too: remove it, or capture to another name", path, st.Nlink)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return fmt.Errorf("pcap: %s: %w", path, err)
	}
	if st.Size != 0 {
		if err := unix.Ftruncate(fd, 0); err != nil {
			return fmt.Errorf("pcap: %s: truncate: %w", path, err)
		}
	}
	if st.Mode&0o7777 != 0o600 {
		if err := unix.Fchmod(fd, 0o600); err != nil {
			return fmt.Errorf("pcap: %s: set mode 0600: %w", path, err)
		}
	}
	if (uid != -1 && uint32(uid) != st.Uid) || (gid != -1 && uint32(gid) != st.Gid) {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fmt.Errorf("pcap: %s: give the file to uid %d gid %d: %w", path, uid, gid, err)
		}
	}
	return nil
}

// rename renames from to to within the directory: neither name is
// followed if it is a link (rename(2) never follows the last component).
func (d *dir) rename(from, to string) error {
	if err := unix.Renameat(d.fd, from, d.fd, to); err != nil {
		return fmt.Errorf("pcap: rotate: %w", &os.LinkError{Op: "rename", Old: filepath.Join(d.path, from), New: filepath.Join(d.path, to), Err: err})
	}
	return nil
}

// explainOpen turns a refused open into an error that names the file and
// what to do.
func explainOpen(path string, fresh bool, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("pcap: %s: a symbolic link, which is not followed (it could point at any file): remove it, or capture to another name", path)
	case errors.Is(err, unix.EEXIST) && fresh:
		return fmt.Errorf("pcap: %s: something was put at the name while the capture rotated; it is left alone and the capture stops", path)
	case errors.Is(err, unix.EISDIR):
		return fmt.Errorf("pcap: %s: a directory, not a regular file: capture to another name", path)
	case errors.Is(err, unix.ENXIO):
		return fmt.Errorf("pcap: %s: a FIFO or socket, not a regular file: remove it, or capture to another name", path)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return fmt.Errorf("pcap: %s: %w: the directory must be writable by l2tap (and by -user's account, which creates the files after a rotation)", path, err)
	}
	return fmt.Errorf("pcap: %s: %w", path, err)
}

// fileKind names a file type from a stat mode.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "a special file"
}
