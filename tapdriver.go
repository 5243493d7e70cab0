package main

import (
	"github.com/l2tap/l2tap/internal/watertap"
)

// waterEndpoint is a watertap.Device as the process sees it.
type waterEndpoint struct {
	*watertap.Device
	mtu int
}

func (w waterEndpoint) MTU() int { return w.mtu }
