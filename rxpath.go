package main

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"unsafe"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/offload"
	"golang.org/x/sys/unix"
)

// rxBatch is how many recvmmsg messages rxPath takes at once. With UDP GRO
// each may hold up to 64 KiB of datagrams.
const rxBatch = 32

// tapOut writes frames to the TAP: straight, behind a virtio-net header, or
// coalesced into TCP superframes. It never allocates per frame.
type tapOut struct {
	tap   *TAP
	rcs   []syscall.RawConn  // the TAP's queues; writes pick one per flow
	gro   *offload.Coalescer // nil: no coalescing
	udp   bool               // coalesce UDP datagrams too (the TAP takes USO)
	seg   offload.Segment
	iov   [2]unix.Iovec
	niov  int
	zero  [offload.VnetHdrLen]byte
	errno syscall.Errno
	fn    func(fd uintptr) bool
	// pendFrames and pendBytes are the frames held in the pending
	// superframe, counted only once it is written.
	pendFrames, pendBytes uint64
	n                     tapCounts
}

// tapCounts is what tapOut did with the frames it was given: frames and
// bytes the TAP took (merged of them inside a superframe, after its first),
// and frames it refused.
type tapCounts struct {
	frames, bytes, merged, refused uint64
}

// newTAPOut prepares TAP writes; gro coalesces TCP segments, and udp also
// equal-size UDP datagrams where the TAP takes USO.
func newTAPOut(tap *TAP, gro, udp bool) *tapOut {
	o := &tapOut{tap: tap, rcs: tap.Queues()}
	if tap.VnetHdr && gro && tap.Offloads&(offload.TunTSO4|offload.TunTSO6) != 0 {
		o.gro = offload.NewCoalescer()
		o.udp = udp && tap.Offloads&(offload.TunUSO4|offload.TunUSO6) == offload.TunUSO4|offload.TunUSO6
	}
	o.fn = o.write
	return o
}

// write runs inside RawConn.Write. The descriptor is non-blocking, so a raw
// system call cannot stall the scheduler; here and in the other loops this
// spares the scheduler's bookkeeping around each call.
func (o *tapOut) write(fd uintptr) bool {
	_, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&o.iov[0])), uintptr(o.niov))
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	o.errno = e
	return true
}

// writeRaw hands b (virtio-net header included if the TAP has one) to the
// kernel, with hdr first if it is not nil.
func (o *tapOut) writeRaw(hdr, b []byte) error {
	o.niov = 0
	if hdr != nil {
		o.iov[0].Base = &hdr[0]
		o.iov[0].SetLen(len(hdr))
		o.niov++
	}
	o.iov[o.niov].Base = &b[0]
	o.iov[o.niov].SetLen(len(b))
	o.niov++
	o.errno = 0
	rc := o.rcs[0]
	if len(o.rcs) > 1 {
		frame := b
		if o.tap.VnetHdr && hdr == nil {
			frame = b[offload.VnetHdrLen:]
		}
		rc = o.rcs[offload.FlowQueue(frame, len(o.rcs))]
	}
	if err := rc.Write(o.fn); err != nil {
		return os.ErrClosed // the poller fails only once the file is closed
	}
	if o.errno != 0 {
		return o.errno
	}
	return nil
}

// Frame delivers one Ethernet frame. With coalescing it may be held back
// until Flush; a frame that continues no superframe flushes the pending one
// first, so frames keep their order. A refused pending superframe is
// reported through flushErr, the frame's own fate through err; either way
// the refused frames are counted in o.n.
func (o *tapOut) Frame(frame []byte) (flushErr, err error) {
	if o.gro == nil {
		var hdr []byte
		if o.tap.VnetHdr {
			hdr = o.zero[:]
		}
		return nil, o.count(1, len(frame), o.writeRaw(hdr, frame))
	}
	g := o.gro
	if !offload.ParseSegment(frame, &o.seg, o.udp) {
		flushErr = o.Flush()
		return flushErr, o.count(1, len(frame), o.writeRaw(o.zero[:], frame))
	}
	if g.TryAppend(frame, &o.seg) {
		o.pendFrames++
		o.pendBytes += uint64(len(frame))
		return nil, nil
	}
	flushErr = o.Flush()
	g.Start(frame, &o.seg)
	o.pendFrames, o.pendBytes = 1, uint64(len(frame))
	return flushErr, nil
}

// Flush writes the pending superframe, if any.
func (o *tapOut) Flush() error {
	if o.gro == nil || !o.gro.Pending() {
		return nil
	}
	frames, bytes := o.pendFrames, o.pendBytes
	o.pendFrames, o.pendBytes = 0, 0
	err := o.count(frames, int(bytes), o.writeRaw(nil, o.gro.Finish()))
	if err == nil {
		o.n.merged += frames - 1
	}
	return err
}

// count records the fate of a write of frames frames of bytes bytes in all
// and returns its error.
func (o *tapOut) count(frames uint64, bytes int, err error) error {
	if err != nil {
		o.n.refused += frames
		return err
	}
	o.n.frames += frames
	o.n.bytes += uint64(bytes)
	return nil
}

// take returns the counts since the last take and starts them again.
func (o *tapOut) take() tapCounts {
	n := o.n
	o.n = tapCounts{}
	return n
}

// checkSeq follows the peer's sequence numbers: gaps count as lost packets,
// late ones as out of order (dropped under -seqcheck), and a resync, the
// peer's numbering taken anew after a restart, is counted and logged.
func (p *Pump) checkSeq(seq *l2tpv3.Sequence, nr uint32, lim *rateLimit) Reason {
	res, lost := seq.Check(nr)
	switch res {
	case l2tpv3.SeqInOrder:
		if lost > 0 {
			p.Stats.RxLost.Add(uint64(lost))
		}
	case l2tpv3.SeqOutOfOrder:
		p.Stats.RxOOS.Add(1)
		if p.SeqCheck {
			return DropSequence
		}
	case l2tpv3.SeqResync:
		p.Stats.RxOOS.Add(1)
		p.Stats.RxSeqResyncs.Add(1)
		lim.logf(logSeqResync, "peer's sequence numbers restarted at %d (peer restarted?): following them from here on; counted as rx_seq_resyncs", nr)
	}
	return DropNone
}

// TunnelToTAP verifies every packet received from the peer and writes the
// frame inside to the TAP. It returns when the TAP or the tunnel is closed.
func (p *Pump) TunnelToTAP() error {
	b := NewBatch(rxBatch, maxFrame)
	r := p.Tunnel.NewReceiver(b)
	if p.Offload && p.Tunnel.ep.UDP {
		r.EnableGRO()
	}
	out := newTAPOut(p.TAP, p.Offload, p.CoalesceUDP)
	var lim rateLimit
	var d Decoded
	var seq l2tpv3.Sequence
	reservedSeen := false
	tapErr := func(err error, n int) bool {
		if errors.Is(err, os.ErrClosed) {
			return true
		}
		lim.logf(logTAPWrite, "write to TAP %s: %v (frame of %d bytes)", p.TAP.Name, err, n)
		return false
	}
	for {
		if err := r.Receive(); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			p.Stats.RxErrors.Add(1)
			lim.logf(logReceiveError, "receive: %v", err)
			continue
		}
		for i := 0; i < b.N; i++ {
			pkt, size, why := r.Packet(i)
			if why != DropNone {
				p.Stats.drop(why, &lim)
				continue
			}
			for len(pkt) > 0 {
				one := pkt[:min(size, len(pkt))]
				pkt = pkt[len(one):]
				why = p.Header.Decode(one, &d)
				if why == DropNone && d.Reserved {
					p.Stats.RxSublayerReserved.Add(1)
					if !reservedSeen {
						reservedSeen = true
						lim.logf(logSublayerReserved, "sublayer reserved bits set (word %#08x): packets accepted, as Linux does; "+
							"a peer that sends no sublayer (ip l2tp l2spec_type none, QEMU counter=off) needs no -counter/-pincounter here, "+
							"and QEMU's counter=on sets these bits after 2^24 packets (harmless); counted as rx_sublayer_reserved",
							binary.BigEndian.Uint32(one[p.Header.Len()-p.Header.Offset-4:]))
					}
				}
				if why == DropNone && d.HasSeq {
					why = p.checkSeq(&seq, d.Seq, &lim)
				}
				if why != DropNone {
					p.Stats.drop(why, &lim)
					continue
				}
				ferr, err := out.Frame(d.Frame)
				if ferr != nil && tapErr(ferr, 0) {
					return nil
				}
				if err != nil && tapErr(err, len(d.Frame)) {
					return nil
				}
			}
		}
		if err := out.Flush(); err != nil && tapErr(err, 0) {
			return nil
		}
		n := out.take()
		p.Stats.RxPackets.Add(n.frames)
		p.Stats.RxBytes.Add(n.bytes)
		p.Stats.RxCoalesced.Add(n.merged)
		p.Stats.TapErrors.Add(n.refused)
	}
}

// TAPToTunnel encapsulates every frame read from the TAP and sends it to the
// peer in batches, one loop per TAP queue. It returns when the TAP or the
// tunnel is closed, with the first loop's error.
func (p *Pump) TAPToTunnel() error {
	gso := p.Offload && probeUDPGSO(p.Tunnel)
	queues := p.TAP.Queues()
	errs := make(chan error, len(queues))
	for _, rc := range queues[1:] {
		go func() { errs <- newTxPath(p, rc, gso).run() }()
	}
	err := newTxPath(p, queues[0], gso).run()
	for range queues[1:] {
		if e := <-errs; err == nil {
			err = e
		}
	}
	return err
}
