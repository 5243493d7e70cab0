//go:build linux

package daemon

import (
	"log/slog"
	"os"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/sandbox"
)

// Once the socket is bound and the TAP is open, configured and enslaved,
// moving frames needs no privilege at all: reading and writing descriptors
// l2tap already holds is checked when they are opened, not on each use. So
// after setup the data path gives up everything (internal/sandbox does
// the work):
//
//   - the user and group become -user's account or, started as root
//     without -user, the default account (see chooseUser), with no
//     supplementary groups;
//   - every capability set is emptied, the bounding set too (when l2tap
//     holds CAP_SETPCAP, which that takes);
//   - no_new_privs is set, so that no exec could ever give anything back;
//   - the seccomp filter allows only the calls left to make.
//
// What still needs privilege after setup, a reload's TAPs and sockets and
// an attached TAP's restore at exit, the privileged helper does on the
// data path's request (see privsep.go). A TAP l2tap created needs nothing:
// it disappears with its descriptors.

// lockDown ends setup: it hands the restore of attached TAPs to the
// helper h (when not nil), drops privileges, installs the seccomp filter
// unless -seccomp=off, and then runs the test hook (see
// testForbiddenSyscall).
func lockDown(cfg *config.Config, devs []Device, h helper) error {
	if h != nil {
		h.wrapRestores(devs)
	}
	if err := sandbox.Drop(cfg.User); err != nil {
		if cfg.User != nil {
			return config.UsageError{Err: err}
		}
		return err
	}
	if cfg.Seccomp {
		o := sandbox.Options{PID: os.Getpid(), Packet: cfg.PacketPath, Reload: cfg.Reload != nil, Profile: cfg.CPUProfile != "" || cfg.MemProfile != "", HeapProfile: cfg.MemProfile != "", Libc: cgoBuild,
			Serve: cfg.Observe.Serving(), Unlink: cfg.Observe.StatusSocketOn(), Rotate: cfg.PcapRotates(),
			VMSocket: cfg.UsesSockets() || cfg.Reload != nil, VhostUser: cfg.UsesVhostUserClient() || cfg.Reload != nil}
		if err := sandbox.Install(o); err != nil {
			return err
		}
	}
	if testForbiddenSyscall {
		forbiddenCall()
	}
	return nil
}

// DefaultUsers are the accounts l2tap runs as after setup when started as
// root without -user: the first of them the host has.
var DefaultUsers = []string{"l2tap", "nobody"}

// chooseUser settles, before setup, which account l2tap runs as once set
// up. Started as root (euid 0) without -user, that is the first of
// DefaultUsers the host has, when l2tap may switch users (CAP_SETUID and
// CAP_SETGID); otherwise it stays root, saying why. -user root says so
// too, as a warning: code running in the data path would then be root's.
func chooseUser(cfg *config.Config) {
	switch {
	case cfg.RootKept:
		slog.Warn("-user root: l2tap stays root after setup (without capabilities); anything that takes over its data path runs as root. Leave -user out to run as the l2tap or nobody account")
		return
	case cfg.User != nil || os.Geteuid() != 0:
		return
	}
	if !sandbox.MaySwitchUser() {
		slog.Warn("staying uid 0 after setup: switching to an unprivileged account needs CAP_SETUID and CAP_SETGID, which l2tap was started without; every capability is dropped all the same")
		return
	}
	for _, name := range DefaultUsers {
		if a, err := config.LookupAccount("user", name); err == nil {
			cfg.User = a
			return
		}
	}
	slog.Warn("staying uid 0 after setup: this host has neither an l2tap nor a nobody account (create one, or give -user); every capability is dropped all the same")
}
