package main

import (
	"errors"
	"os"
)

const (
	// maxFrame is the largest Ethernet frame carried, and the largest packet
	// received: nothing larger exists on a TAP or in one IP datagram.
	maxFrame = 65535
)

// Pump moves frames between a TAP and a Tunnel for one pseudowire.
type Pump struct {
	Header   Header
	Tunnel   *Tunnel
	TAP      *TAP
	SeqCheck bool // drop out-of-order packets instead of forwarding them
	Stats    *Stats
	// Offload enables UDP segmentation and GRO on the tunnel and TCP
	// coalescing on TAP writes, where the kernel supports them.
	Offload bool
	// CoalesceUDP merges UDP datagrams on TAP writes too (needs Offload).
	CoalesceUDP bool
}

// closedOK turns the error of a closed file into a clean stop. Other errors,
// such as unix.EBADFD from a TAP deleted under l2tap, are returned for Run
// to report.
func closedOK(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
