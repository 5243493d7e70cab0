package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/sockfile"
	"github.com/l2tap/l2tap/internal/status"
)

// A running l2tap can be observed in two ways besides SIGUSR1, both served
// by internal/status from snapshots taken only when asked:
//
//   - the control socket (-control), a unix socket `l2tap show` queries.
//     By default it is /run/l2tap/<TAP>.sock, after the first TAP's name.
//     TAP names are unique within a network namespace but /run is shared
//     by all of them, so an l2tap in another network namespace than PID 1's
//     adds the namespace: /run/l2tap/<TAP>@<netns>.sock, where <netns> is
//     the name `ip netns` gave it, or netns-<inode> when it has none (or
//     the name would make the path too long; an unnamed namespace is told
//     from PID 1's only where /proc/1/ns/net can be read).
//
//     A socket file found at the path is taken over when nothing answers
//     on it (left by an l2tap that was killed) and left alone, with this
//     l2tap running without a control socket, when another l2tap answers.
//
//     The socket is made before privileges are dropped, mode 0600, owned
//     by root or by the -user account, and removed on exit. Removing a
//     file takes write permission on its directory, so with -user the
//     default socket is in that account's own directory,
//     /run/l2tap/uid-<UID>/, which l2tap gives to it; an explicit -control
//     with -user needs a directory the account may write to for the same
//     (a socket left behind is taken over by the next start).
//
//     "-control off" (or an empty value) disables it. When the default
//     socket cannot be made (no permission to create /run/l2tap, say)
//     l2tap logs it once and runs without; a -control given explicitly
//     that cannot be made is a setup error.
//
//   - the metrics endpoint (-metrics ADDR, off by default): Prometheus
//     text on http://ADDR/metrics, in l2tap's network namespace.

// startObservers starts the control socket and the metrics endpoint as
// cfg.Observe says, answering with snap(false) and snap(true) (every
// counter, for stable metric series) respectively. It runs during setup, with
// the privileges setup has; stop closes both and removes the socket file.
func startObservers(cfg *config.Config, snap func(all bool) status.Snapshot) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	oc := cfg.Observe
	if oc.StatusSocketOn() {
		path := oc.StatusSocket
		if path == "" {
			path = defaultControlPath(firstTAP(snap(false)), cfg.User)
		}
		s, err := listenControl(path, cfg.User, oc.StatusSocket == "")
		switch {
		case err != nil && oc.StatusSocketGiven:
			return nil, config.Usagef("-control %s: %v; give another path, or -control off", path, err)
		case err != nil:
			slog.Warn("running without a control socket", "socket", path, "err", err,
				"hint", "l2tap show will not list this process; see -control")
		default:
			done := make(chan struct{})
			go func() { status.Serve(s, func() status.Snapshot { return snap(false) }); close(done) }()
			stops = append(stops, func() {
				// before closing: nothing finds a dead socket. Unlink, not
				// os.Remove, whose rmdir after a refused unlink the seccomp
				// filter forbids.
				syscall.Unlink(path)
				s.Close()
				<-done
			})
		}
	}
	if oc.Metrics != "" {
		ln, err := net.Listen("tcp", oc.Metrics)
		if err != nil {
			stop()
			return nil, explainMetricsError(oc.Metrics, err)
		}
		srv := status.NewMetricsServer(func() status.Snapshot { return snap(true) }) // zeros kept: see process.snapshot
		go srv.Serve(ln)
		stops = append(stops, func() { srv.Close() })
	}
	return stop, nil
}

// listenControl makes the control socket at path: its directory if
// missing, and the socket, mode 0600, owned by account when not nil. With
// an account and the default path, the directory (the account's own under
// config.DefaultStatusSocketDir) is given to the account too, so that it can remove
// the socket at exit. A socket file nothing answers on is replaced; one
// that answers is not.
func listenControl(path string, account *config.Account, isDefault bool) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if account != nil && isDefault && dir != config.DefaultStatusSocketDir {
		if err := os.Chown(dir, account.UID, account.GID); err != nil {
			return nil, fmt.Errorf("give %s to -user %s: %w", dir, account.Name, err)
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
	uid, gid := -1, -1
	if account != nil {
		uid, gid = account.UID, account.GID
	}
	var ln *net.UnixListener
	err := sockfile.Place(path, uid, gid, 0o600, func(name string) error {
		var err error
		if ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"}); err == nil {
			ln.SetUnlinkOnClose(false) // startObservers' stop removes it, in the order it needs
		}
		return err
	})
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		if account != nil {
			return nil, fmt.Errorf("make it for -user %s: %w", account.Name, err)
		}
		return nil, err
	}
	return ln, nil
}

// defaultControlPath is the control socket of an l2tap whose first TAP
// is tap, running as account once set up (nil: as started): see the
// comment at the top of this file.
func defaultControlPath(tap string, account *config.Account) string {
	dir := config.DefaultStatusSocketDir
	if account != nil {
		dir = filepath.Join(dir, "uid-"+strconv.Itoa(account.UID))
	}
	name := tap + ".sock"
	if ns := netnsName(); ns != "" {
		name = tap + "@" + ns + ".sock"
		if len(dir)+1+len(name) > config.MaxSocketPath {
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

// firstTAP is the name of the snapshot's first session's TAP (or the file
// name of its socket), or of a dynamic tunnel's first circuit's.
func firstTAP(s status.Snapshot) string {
	for _, t := range s.Tunnels {
		for _, ss := range t.Sessions {
			return filepath.Base(ss.TAP) // a -socket session's path: its file name
		}
		for _, c := range t.Circuits {
			return c.TAP
		}
	}
	return "l2tap"
}

// explainMetricsError turns a failed listen on -metrics into advice.
func explainMetricsError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return config.Usagef("-metrics %s: the port is already in use by another program; pick another port or stop that program", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return config.Usagef("-metrics %s: no interface on this host has that address; give a local address such as 127.0.0.1", addr)
	case errors.Is(err, syscall.EACCES):
		return config.Usagef("-metrics %s: ports below 1024 need CAP_NET_BIND_SERVICE; pick a port above 1023", addr)
	}
	return config.Usagef("-metrics %s: %v", addr, err)
}

// runShow prints the snapshot of the l2tap on the control socket at path,
// or when path is empty of every l2tap with a socket in
// config.DefaultStatusSocketDir, as text or as a JSON array (one object per process).
// There, sockets nothing answers on (left by an l2tap that was killed)
// are skipped, and any other failure is logged and makes the result an
// error once the rest is printed. It fails when no l2tap answers.
func runShow(w io.Writer, path string, asJSON bool) error {
	paths := []string{path}
	if path == "" {
		paths = nil
		for _, pattern := range []string{"*.sock", "uid-*/*.sock"} {
			found, err := filepath.Glob(filepath.Join(config.DefaultStatusSocketDir, pattern))
			if err != nil {
				return err
			}
			paths = append(paths, found...)
		}
	}
	var snaps []status.Snapshot
	var last error
	failed := 0
	for _, p := range paths {
		s, err := status.Query(p)
		if err == nil {
			snaps = append(snaps, s)
			continue
		}
		gone := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
		switch {
		case gone && path == "":
			continue
		case errors.Is(err, syscall.ECONNREFUSED):
			err = fmt.Errorf("show -socket %s: no l2tap answers there (connection refused: the l2tap that made it is gone)", p)
		case errors.Is(err, syscall.ENOENT):
			err = fmt.Errorf("show -socket %s: no such socket; give the -control path of the l2tap to ask", p)
		case errors.Is(err, syscall.EACCES):
			err = fmt.Errorf("show: %s: permission denied; run as root, or as the -user that l2tap runs as", p)
		default:
			err = fmt.Errorf("show: %w", err)
		}
		failed++
		last = err
		if path == "" {
			printError(err)
		}
	}
	if asJSON && (len(snaps) > 0 || failed == 0) {
		if snaps == nil {
			snaps = []status.Snapshot{}
		}
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		e.SetEscapeHTML(false) // "udp a -> b", not "-\u003e"
		if err := e.Encode(snaps); err != nil {
			return err
		}
	} else {
		for i, s := range snaps {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := status.WriteText(w, s); err != nil {
				return err
			}
		}
	}
	switch {
	case failed > 0 && path == "":
		return fmt.Errorf("show: %d of the control sockets in %s could not be asked (see above)", failed, config.DefaultStatusSocketDir)
	case failed > 0:
		return last
	case len(snaps) == 0:
		return fmt.Errorf("show: no l2tap is running: no control socket in %s answers (for an l2tap started with -control PATH, give -socket PATH)", config.DefaultStatusSocketDir)
	}
	return nil
}
