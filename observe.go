package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"syscall"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/status"
)

// A running l2tap can be observed in two ways besides SIGUSR1, both served
// by internal/status from snapshots taken only when asked:
//
//   - the status socket (-control), a unix socket `l2tap show` queries:
//     where it is by default, how a socket left behind is taken over and
//     who owns it and its directory is internal/status's (see Listen and
//     DefaultPath). "-control off" (or an empty value) disables it. When
//     the default socket cannot be made (no permission to create
//     /run/l2tap, say) l2tap logs it once and runs without; a -control
//     given explicitly that cannot be made is a setup error.
//
//   - the metrics endpoint (-metrics ADDR, off by default): Prometheus
//     text on http://ADDR/metrics, in l2tap's network namespace.

// startObservers starts the control socket and the metrics endpoint as
// cfg.Observe says, each answering with snap(). It runs during setup, with
// the privileges setup has; stop closes both and removes the socket file.
func startObservers(cfg *config.Config, snap func() status.Snapshot) (stop func(), err error) {
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
			uid := -1
			if cfg.User != nil {
				uid = cfg.User.UID
			}
			path = status.DefaultPath(firstTAP(snap()), uid)
		}
		owner := status.Owner{UID: -1, GID: -1}
		if a := cfg.User; a != nil {
			owner = status.Owner{UID: a.UID, GID: a.GID, Name: "-user " + a.Name}
		}
		s, err := status.Listen(path, owner, oc.StatusSocket == "")
		switch {
		case err != nil && oc.StatusSocketGiven:
			return nil, config.Usagef("-control %s: %v; give another path, or -control off", path, err)
		case err != nil:
			slog.Warn(fmt.Sprintf("control socket %s: %v; running without one (l2tap show will not list this process; see -control)", path, err))
		default:
			done := make(chan struct{})
			go func() { status.Serve(s, snap); close(done) }()
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
		srv := status.NewMetricsServer(snap)
		go srv.Serve(ln)
		stops = append(stops, func() { srv.Close() })
	}
	return stop, nil
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
			slog.Error(err.Error())
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
