package daemon

import (
	"errors"
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

// startObservers starts the status socket and the metrics endpoint as
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
			uid := -1
			if cfg.User != nil {
				uid = cfg.User.UID
			}
			path = status.DefaultPath(firstTAP(snap(false)), uid)
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
			slog.Warn("running without a status socket", "socket", path, "err", err,
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
