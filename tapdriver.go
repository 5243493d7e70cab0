package main

import (
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/watertap"
)

// device is a session's endpoint as the process handles it: the engine's
// Endpoint, and the MTU its interface was given.
type device interface {
	engine.Endpoint
	MTU() int
}

// waterEndpoint is a watertap.Device as the process sees it.
type waterEndpoint struct {
	*watertap.Device
	mtu int
}

func (w waterEndpoint) MTU() int { return w.mtu }
