package daemon

import (
	"log/slog"

	"github.com/l2tap/l2tap/internal/engine"
)

// closeEndpoint closes the session's TAP or socket (removing its file).
func (l *live) closeEndpoint() {
	if _, ok := l.dev.(vmSocket); ok {
		if err := l.dev.Close(); err != nil {
			slog.Warn("VM socket", "socket", l.dev.Name(), "err", err)
		}
		return
	}
	l.dev.Close()
}

// endpointKey is the log key naming the session's endpoint: tap or socket.
func (l *live) endpointKey() string {
	if _, ok := l.dev.(vmSocket); ok {
		return "socket"
	}
	return "tap"
}

// endpointInfo returns the name and MTU of an engine's endpoint.
func endpointInfo(ep engine.Endpoint) (string, int) {
	if d, ok := ep.(Device); ok {
		return d.Name(), d.MTU()
	}
	return ep.Name(), 0
}
