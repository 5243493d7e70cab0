//go:build linux

package main

import (
	"log/slog"
	"os"

	"github.com/l2tap/l2tap/internal/sandbox"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Once the socket is bound and the TAP is open, configured and enslaved,
// moving frames needs no privilege at all: reading and writing descriptors
// l2tap already holds is checked when they are opened, not on each use. So
// after setup l2tap gives up everything it can:
//
//   - with -user, the user and group become that account and its primary
//     group, with no supplementary groups;
//   - the bounding set is emptied (when l2tap holds CAP_SETPCAP, which
//     that takes), and the ambient, inheritable, permitted and effective
//     sets are cleared;
//   - no_new_privs is set, so that no exec could ever give anything back.
//
// Linux keeps credentials per thread, and the Go runtime runs goroutines on
// many threads, some of which exist before setup ends and some of which are
// started later from them. Every change is therefore made on every thread
// at once, through libcap's psx package: with cgo it signals each thread
// to make the call itself, without cgo it uses the runtime's
// syscall.AllThreadsSyscall (which refuses to run in cgo binaries, hence
// psx). Threads created afterwards inherit the new credentials.
//
// The one exception is an attached TAP (-attach): on exit l2tap gives it
// back its MTU and up/down state through rtnetlink, which checks
// CAP_NET_ADMIN on the socket's opener and on the sender. For that l2tap
// keeps CAP_NET_ADMIN in the permitted set only, never effective (and out
// of the bounding set), and raises it on one locked thread for the
// restore alone (see sandbox.RaiseNetAdmin). A TAP l2tap created disappears with
// its descriptors and needs nothing; neither does handing back an attached
// TAP's offloads, an ioctl on l2tap's own descriptor.
//
// Later privileged work follows the same rule. With -config, SIGHUP
// re-reads the file and may create TAPs and sockets: l2tap then keeps
// CAP_NET_ADMIN (TAPs), CAP_NET_RAW (IP encapsulation) and
// CAP_NET_BIND_SERVICE (UDP ports below 1024) in the permitted set only,
// and raises them on one locked thread for the creation alone (see
// sandbox.RaiseSetup); the seccomp filter then also allows the calls creating a
// TAP and a socket takes. Nothing else is kept.

// lockDown ends setup: it drops privileges (keeping what the restore of
// an attached TAP needs, see above), installs the seccomp filter unless
// -seccomp=off, and then runs the test hook (see testForbiddenSyscall).
func lockDown(cfg *Config, devs []device) error {
	restore := false
	for _, d := range devs {
		if t, ok := d.(tapEndpoint); ok && t.WrapRestore(sandbox.RaiseNetAdmin) {
			restore = true
		}
	}
	var keep []cap.Value
	switch {
	case cfg.Reload != nil:
		keep = sandbox.ReloadCaps
	case restore:
		keep = []cap.Value{cap.NET_ADMIN}
	}
	if err := sandbox.Drop(cfg.User, keep); err != nil {
		if cfg.User != nil {
			return usageError{err}
		}
		return err
	}
	if cfg.Seccomp {
		o := sandbox.Options{PID: os.Getpid(), Netlink: restore, Packet: cfg.PacketPath, Reload: cfg.Reload != nil, Profile: cfg.CPUProfile != "",
			Serve: cfg.Observe.serving(), Unlink: cfg.Observe.controlOn(), Rotate: cfg.pcapRotates(),
			VMSocket: cfg.usesSockets() || cfg.Reload != nil}
		if err := sandbox.Install(o); err != nil {
			return err
		}
	}
	if testForbiddenSyscall {
		forbiddenCall()
	}
	return nil
}

// raiseSetup runs f with the capabilities a reload's setup needs (see
// sandbox.RaiseSetup).
func raiseSetup(f func()) { sandbox.RaiseSetup(f) }

// defaultUsers are the accounts l2tap runs as after setup when started as
// root without -user: the first of them the host has.
var defaultUsers = []string{"l2tap", "nobody"}

// chooseUser settles, before setup, which account l2tap runs as once set
// up. Started as root (euid 0) without -user, that is the first of
// defaultUsers the host has, when l2tap may switch users (CAP_SETUID and
// CAP_SETGID); otherwise it stays root, saying why. -user root says so
// too, as a warning: code running in the data path would then be root's.
//
// With -config l2tap stays as started: a reload re-reads the file and
// makes TAPs and sockets, which only root can.
func chooseUser(cfg *Config) {
	switch {
	case cfg.RootKept:
		slog.Warn("-user root: l2tap stays root after setup (without capabilities); anything that takes over its data path runs as root. Leave -user out to run as the l2tap or nobody account")
		return
	case cfg.User != nil || os.Geteuid() != 0 || cfg.Reload != nil:
		return
	}
	have := cap.GetProc()
	setuid, _ := have.GetFlag(cap.Permitted, cap.SETUID)
	setgid, _ := have.GetFlag(cap.Permitted, cap.SETGID)
	if !setuid || !setgid {
		slog.Warn("staying uid 0 after setup: switching to an unprivileged account needs CAP_SETUID and CAP_SETGID, which l2tap was started without; every capability is dropped all the same")
		return
	}
	for _, name := range defaultUsers {
		if a, err := lookupAccount("user", name); err == nil {
			cfg.User = a
			return
		}
	}
	slog.Warn("staying uid 0 after setup: this host has neither an l2tap nor a nobody account (create one, or give -user); every capability is dropped all the same")
}
