//go:build !linux && !windows

package sockfile

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Place binds at path and sets the file's owner (when uid or gid is not
// -1) and mode by path: elsewhere than on Linux, l2tap makes its sockets
// as the user it keeps running as (see the package doc).
func Place(path string, uid, gid int, mode os.FileMode, bind func(name string) error) error {
	old := unix.Umask(0o177) // made mode 0600: no moment exists in which others may connect
	err := bind(path)
	unix.Umask(old)
	if err != nil {
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(path, uid, gid); err != nil {
			syscall.Unlink(path)
			return err
		}
	}
	if err := os.Chmod(path, mode.Perm()); err != nil {
		syscall.Unlink(path)
		return err
	}
	return nil
}
