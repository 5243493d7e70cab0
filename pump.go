package main

import (
	"errors"
	"log"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// batchSize is how many packets one recvmmsg/sendmmsg moves at most.
	batchSize = 64
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
}

// TAPToTunnel encapsulates every frame read from the TAP and sends it to the
// peer in batches. It returns when the TAP or the tunnel is closed.
func (p *Pump) TAPToTunnel() error {
	hl := p.Header.Len()
	b := NewBatch(batchSize, hl+maxFrame)
	r := p.TAP.NewReader(b, hl)
	s := p.Tunnel.NewSender(b)
	var lim rateLimit
	var seq uint32
	fail := func(i int, e syscall.Errno) {
		p.Stats.TxErrors.Add(1)
		if transientSendError(e) {
			p.Stats.TxTransient.Add(1)
		}
		lim.logf(int(e)%len(lim.last), "send to %s: %v (frame of %d bytes)", p.Tunnel.ep.Remote, e, b.Lens[i]-hl)
	}
	for {
		if err := r.Read(); err != nil {
			return closedOK(err)
		}
		var bytes uint64
		for i := 0; i < b.N; i++ {
			p.Header.Encode(b.Bufs[i], seq)
			seq++
			bytes += uint64(b.Lens[i])
			b.Lens[i] += hl
		}
		errsBefore := p.Stats.TxErrors.Load()
		if err := s.Send(fail); err != nil {
			return closedOK(err)
		}
		sent := uint64(b.N) - (p.Stats.TxErrors.Load() - errsBefore)
		p.Stats.TxPackets.Add(sent)
		p.Stats.TxBytes.Add(bytes)
	}
}

// TunnelToTAP verifies every packet received from the peer and writes the
// frame inside to the TAP. It returns when the TAP or the tunnel is closed.
func (p *Pump) TunnelToTAP() error {
	b := NewBatch(batchSize, maxFrame)
	r := p.Tunnel.NewReceiver(b)
	w := p.TAP.NewWriter()
	var lim rateLimit
	var d Decoded
	seq := sequence{strict: p.SeqCheck}
	for {
		if err := r.Receive(); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			p.Stats.RxErrors.Add(1)
			lim.logf(int(numReasons), "receive: %v", err)
			continue
		}
		for i := 0; i < b.N; i++ {
			off, why := r.Check(i)
			if why == DropNone {
				why = p.Header.Decode(b.Bufs[i][off:b.Lens[i]], &d)
			}
			if why == DropNone && d.HasSeq {
				why = seq.check(d.Seq, p.Stats)
			}
			if why != DropNone {
				p.Stats.drop(why, &lim)
				continue
			}
			if err := w.Write(d.Frame); err != nil {
				if errors.Is(err, os.ErrClosed) {
					return nil
				}
				p.Stats.TapErrors.Add(1)
				lim.logf(int(numReasons)+1, "write to TAP %s: %v (frame of %d bytes)", p.TAP.Name, err, len(d.Frame))
				continue
			}
			p.Stats.RxPackets.Add(1)
			p.Stats.RxBytes.Add(uint64(len(d.Frame)))
		}
	}
}

// closedOK turns the error of a closed file into a clean stop.
func closedOK(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	if errors.Is(err, unix.EBADFD) {
		log.Printf("TAP went away: %v", err)
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
