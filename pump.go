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

// sequence follows the peer's 24-bit sequence numbers.
type sequence struct {
	next   uint32
	seen   bool
	strict bool
}

// check counts lost and out-of-order packets. A packet behind the expected
// number (by less than half the space) is out of order: dropped when strict.
func (s *sequence) check(nr uint32, st *Stats) Reason {
	if !s.seen {
		s.seen, s.next = true, (nr+1)&seqMask
		return DropNone
	}
	ahead := (nr - s.next) & seqMask
	switch {
	case ahead == 0:
	case ahead < 1<<23:
		st.RxLost.Add(uint64(ahead))
	default:
		st.RxOOS.Add(1)
		if s.strict {
			return DropSequence
		}
		return DropNone
	}
	s.next = (nr + 1) & seqMask
	return DropNone
}
