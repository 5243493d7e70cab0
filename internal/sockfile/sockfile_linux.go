//go:build linux

package sockfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// bindName is the socket's name inside the private directory: short, so
// that the path bind takes (/proc/self/fd/N/s) always fits a sockaddr.
const bindName = "s"

// Place makes a socket file at path: bind must create the socket at the
// name it is given (with the umask set to 0177, so that it is made mode
// 0600) (a listener's bind; a stream listener must not unlink
// it when closed), which Place then gives to uid and gid (-1: left as
// created) with mode's permission bits and renames to path, replacing
// what is there (the caller decides beforehand whether something there
// may be replaced). On error, nothing Place made is left, and the caller
// closes what bind opened.
//
// The last component of path's directory must not be a symbolic link:
// whoever may change it could point it elsewhere.
func Place(path string, uid, gid int, mode os.FileMode, bind func(name string) error) error {
	parent, base := filepath.Dir(path), filepath.Base(path)
	pfd, err := unix.Open(parent, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return explainDir(parent, err)
	}
	defer unix.Close(pfd)
	priv, err := mkdirPrivate(pfd, base)
	if err != nil {
		return fmt.Errorf("make a private directory in %s: %w", parent, err)
	}
	// Removed in every case: empty once the socket is renamed out.
	defer unix.Unlinkat(pfd, priv, unix.AT_REMOVEDIR)
	dfd, err := unix.Openat(pfd, priv, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("the private directory %s was replaced as soon as made (%w): another account writes to %s; give a directory only l2tap and -user may write to", filepath.Join(parent, priv), err, parent)
	}
	if err != nil {
		return fmt.Errorf("open the private directory %s: %w", filepath.Join(parent, priv), err)
	}
	defer unix.Close(dfd)
	// What was opened must be the directory just made: this user's, and
	// nobody else's to enter.
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil {
		return fmt.Errorf("private directory %s: %w", filepath.Join(parent, priv), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("private directory %s: replaced while in use (uid %d, mode %o): something else writes to %s", filepath.Join(parent, priv), st.Uid, st.Mode&0o7777, parent)
	}
	// bind resolves the magic link to the directory itself, whatever
	// happens to its name meanwhile. The socket takes mode 0600 from the
	// umask: no moment exists in which others may connect.
	old := unix.Umask(0o177)
	err = bind("/proc/self/fd/" + strconv.Itoa(dfd) + "/" + bindName)
	unix.Umask(old)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%w (a socket is bound through /proc/self/fd: is /proc mounted?)", err)
		}
		return err
	}
	placed := false
	defer func() {
		if !placed {
			unix.Unlinkat(dfd, bindName, 0)
		}
	}()
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchownat(dfd, bindName, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("give the socket to uid %d gid %d: %w", uid, gid, err)
		}
	}
	if err := unix.Fchmodat(dfd, bindName, uint32(mode.Perm()), 0); err != nil {
		return fmt.Errorf("set the socket's mode %04o: %w", mode.Perm(), err)
	}
	if err := unix.Renameat(dfd, bindName, pfd, base); err != nil {
		return fmt.Errorf("move the socket to %s: %w", path, err)
	}
	placed = true
	return nil
}

// mkdirPrivate makes a directory, mode 0700, with a name not taken yet in
// the directory pfd, and returns its name.
func mkdirPrivate(pfd int, base string) (string, error) {
	var b [6]byte
	for try := 0; ; try++ {
		rand.Read(b[:])
		name := ".l2tap-" + hex.EncodeToString(b[:])
		old := unix.Umask(0o077)
		err := unix.Mkdirat(pfd, name, 0o700)
		unix.Umask(old)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, unix.EEXIST) || try == 10 {
			return "", err
		}
	}
}

// explainDir turns a refused open of the socket's directory into advice.
func explainDir(dir string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
		if real, rerr := filepath.EvalSymlinks(dir); rerr == nil && real != dir {
			return fmt.Errorf("directory %s is a symbolic link, which is not followed (whoever may change it could point it elsewhere); give the real directory, %s", dir, real)
		}
		return fmt.Errorf("%s is not a directory", dir)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("no such directory %s; create it first", dir)
	}
	return fmt.Errorf("open directory %s: %w", dir, err)
}
