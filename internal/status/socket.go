package status

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/sockfile"
)

// The status socket's file: where it is, who owns it, and what is done
// with a file found at its path.
//
// By default it is /run/l2tap/<TAP>.sock, after the first TAP's name. TAP
// names are unique within a network namespace but /run is shared by all
// of them, so an l2tap in another network namespace than PID 1's adds the
// namespace: /run/l2tap/<TAP>@<netns>.sock, where <netns> is the name
// `ip netns` gave it, or netns-<inode> when it has none (or the name
// would make the path too long; an unnamed namespace is told from PID 1's
// only where /proc/1/ns/net can be read).
//
// A socket file found at the path is taken over when nothing answers on
// it (left by an l2tap that was killed) and left alone, with this l2tap
// running without a status socket, when another l2tap answers.
//
// The socket is made before privileges are dropped, mode 0600, owned by
// root or by the account l2tap runs as once set up, and removed on exit.
// Removing a file takes write permission on its directory, so for another
// account the default socket is in that account's own directory,
// /run/l2tap/uid-<UID>/, which Listen gives to it; an explicit path with
// another account needs a directory the account may write to for the
// same (a socket left behind is taken over by the next start).

// DefaultDir holds the default status sockets; `l2tap show` without a
// path queries every socket in it and in its uid-* directories.
const DefaultDir = "/run/l2tap"

// Owner is the account a status socket is given to: UID and GID -1 for
// the process's own. Name names it in errors (such as "-user nobody").
type Owner struct {
	UID, GID int
	Name     string
}

// Listen makes the status socket at path: its directory if missing, and
// the socket, mode 0600, owned by owner. With an owner and the default
// path (isDefault), the directory (the owner's own under DefaultDir) is
// given to the owner too, so that it can remove the socket at exit. A
// socket file nothing answers on is replaced; one that answers is not.
// The listener does not remove the file when closed: its caller removes
// it, in the order it needs.
func Listen(path string, owner Owner, isDefault bool) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if owner.UID >= 0 && isDefault && dir != DefaultDir {
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			return nil, fmt.Errorf("give %s to %s: %w", dir, owner.Name, err)
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, errors.New("exists and is not a socket")
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			c.Close()
			return nil, errors.New("in use by another running l2tap")
		case errors.Is(err, syscall.ECONNREFUSED):
			if err := syscall.Unlink(path); err != nil {
				return nil, fmt.Errorf("remove the socket left by an l2tap that is gone: %w", err)
			}
		default:
			return nil, fmt.Errorf("socket file there already: %w", err)
		}
	}
	// The socket is made mode 0600, where only l2tap may reach it until
	// its owner is set (see internal/sockfile): no moment exists in which
	// others may connect, or make l2tap change another file.
	var ln *net.UnixListener
	err := sockfile.Place(path, owner.UID, owner.GID, 0o600, func(name string) error {
		var err error
		if ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"}); err == nil {
			ln.SetUnlinkOnClose(false)
		}
		return err
	})
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		if owner.UID >= 0 {
			return nil, fmt.Errorf("make it for %s: %w", owner.Name, err)
		}
		return nil, err
	}
	return ln, nil
}

// DefaultPath is the status socket of an l2tap whose first TAP is tap,
// running as uid once set up (-1: as started): see the comment at the top
// of this file.
func DefaultPath(tap string, uid int) string {
	dir := DefaultDir
	if uid >= 0 {
		dir = filepath.Join(dir, "uid-"+strconv.Itoa(uid))
	}
	name := tap + ".sock"
	if ns := netnsName(); ns != "" {
		name = tap + "@" + ns + ".sock"
		if len(dir)+1+len(name) > MaxSocketPath {
			name = tap + "@" + netnsID() + ".sock"
		}
	}
	return filepath.Join(dir, name)
}

// netnsName names l2tap's network namespace when it is not PID 1's: the
// name under /run/netns (where `ip netns add` binds namespaces) that is
// bound to it, else, when PID 1's namespace can be read and differs,
// netnsID(). It is "" otherwise, as in PID 1's namespace.
func netnsName() string {
	self, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return ""
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if fi, err := os.Stat(filepath.Join("/run/netns", e.Name())); err == nil && os.SameFile(fi, self) {
				return e.Name()
			}
		}
	}
	if init, err := os.Stat("/proc/1/ns/net"); err == nil && !os.SameFile(self, init) {
		return netnsID()
	}
	return ""
}

// netnsID names l2tap's network namespace by its inode.
func netnsID() string {
	fi, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return "netns"
	}
	if ino, ok := inode(fi); ok {
		return fmt.Sprintf("netns-%d", ino)
	}
	return "netns"
}
