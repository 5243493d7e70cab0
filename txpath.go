package main

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/l2tap/l2tap/internal/offload"
	"golang.org/x/sys/unix"
)

const (
	// txArena is the bytes of L2TP packets collected before one send.
	txArena = 512 << 10
	// txMaxPackets bounds the packets of one send.
	txMaxPackets = 512
)

// txPath reads frames from the TAP, cuts superframes into MTU-sized frames,
// puts an L2TP header before each and sends them in as few system calls as
// the kernel allows. It allocates nothing per frame.
type txPath struct {
	p     *Pump
	rc    syscall.RawConn // the TAP queue this path reads
	hl    int
	q     *txQueue
	vnet  bool
	stage []byte // one TAP read, virtio-net header included (vnet only)
	split offload.Splitter
	inGSO bool // split holds segments not yet queued
	seq   uint32
	bytes uint64 // frame bytes queued since the last flush
	// failed and failedBytes count the packets of this path the kernel
	// refused in the current flush: each loop counts its own, so that the
	// shared counters stay exact with several TAP queues.
	failed, failedBytes uint64
	errno               syscall.Errno
	fn                  func(fd uintptr) bool
	lim                 rateLimit
	hdr                 offload.VnetHdr
	err                 error // why service stopped the loop
}

func newTxPath(p *Pump, rc syscall.RawConn, gso bool) *txPath {
	x := &txPath{p: p, rc: rc, hl: p.Header.Len(), vnet: p.TAP.VnetHdr}
	x.q = newTxQueue(p.Tunnel, txArena+x.hl+maxFrame, txMaxPackets, gso && p.Tunnel.ep.UDP)
	if x.vnet {
		x.stage = make([]byte, offload.VnetHdrLen+maxFrame)
	}
	x.fn = x.read
	x.q.fail = func(k int, e syscall.Errno) {
		frame := int(x.q.lens[k]) - x.hl
		x.failed++
		x.failedBytes += uint64(frame)
		p.Stats.TxErrors.Add(1)
		if transientSendError(e) {
			p.Stats.TxTransient.Add(1)
		}
		x.lim.logf(sendErrorKey(e), "send to %s: %v (frame of %d bytes)", p.Tunnel.ep.Remote, e, frame)
	}
	x.q.noGSO = func(e syscall.Errno) {
		x.lim.logf(logNoGSO, "UDP segmentation offload refused (%v): sending datagrams one by one", e)
	}
	return x
}

// queueSegments moves split's remaining segments into the queue; it stops
// early, leaving inGSO set, when the queue is full.
func (x *txPath) queueSegments() bool {
	for x.split.More() {
		room := x.q.room()
		if len(room) < x.hl+x.split.MaxSegment() {
			return false
		}
		x.p.Header.Encode(room, x.seq)
		x.seq++
		n := x.split.Next(room[x.hl:])
		x.q.add(x.hl + n)
		x.bytes += uint64(n)
	}
	x.inGSO = false
	return true
}

// fill reads frames until the TAP has no more (it returns false) or the
// queue is full or a read fails (true, x.errno set on failure).
func (x *txPath) fill(fd uintptr) bool {
	for {
		if x.inGSO && !x.queueSegments() {
			return true
		}
		room := x.q.room()
		if len(room) < x.hl+maxFrame {
			return true
		}
		buf := room[x.hl : x.hl+maxFrame]
		if x.vnet {
			buf = x.stage
		}
		// The descriptor is non-blocking: a raw system call never blocks and
		// spares the scheduler's bookkeeping.
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e != 0 {
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			x.errno = e
			return true
		}
		if !x.vnet {
			x.queueFrame(room, int(n))
			continue
		}
		frame := buf[offload.VnetHdrLen:n]
		if err := x.hdr.Decode(buf[:n]); err != nil {
			x.offloadError(err)
			continue
		}
		if !x.hdr.IsGSO() {
			if x.hdr.NeedsCsum() {
				if err := offload.CompleteCsum(frame, &x.hdr); err != nil {
					x.offloadError(err)
					continue
				}
			}
			copy(room[x.hl:], frame)
			x.queueFrame(room, len(frame))
			continue
		}
		if err := x.split.Init(frame, &x.hdr); err != nil {
			x.offloadError(err)
			continue
		}
		x.p.Stats.TxSuperframes.Add(1)
		x.inGSO = true
	}
}

// service moves every frame the TAP has to the tunnel. It returns false
// once the TAP is drained (the caller waits for more) and true when the
// loop must stop, with x.err set.
func (x *txPath) service(fd uintptr) bool {
	for {
		full := x.fill(fd)
		if x.q.n > 0 {
			queued := uint64(x.q.n)
			x.failed, x.failedBytes = 0, 0
			if err := x.q.Flush(); err != nil {
				x.err = err
				return true
			}
			x.p.Stats.TxPackets.Add(queued - x.failed)
			x.p.Stats.TxBytes.Add(x.bytes - x.failedBytes)
			x.bytes = 0
		}
		if x.errno != 0 {
			x.err = fmt.Errorf("read TAP %q: %w", x.p.TAP.Name, x.errno)
			return true
		}
		if !full {
			return false
		}
	}
}

// read is the RawConn callback of the loop in run.
func (x *txPath) read(fd uintptr) bool { return x.service(fd) }

// queueFrame encapsulates the frame of n bytes at room[hl:].
func (x *txPath) queueFrame(room []byte, n int) {
	x.p.Header.Encode(room, x.seq)
	x.seq++
	x.q.add(x.hl + n)
	x.bytes += uint64(n)
}

func (x *txPath) offloadError(err error) {
	x.p.Stats.TxOffloadErrors.Add(1)
	x.lim.logf(logOffloadError, "TAP %s: %v", x.p.TAP.Name, err)
}

// sendErrorKey spreads send errors over the rate limiter's remaining keys,
// so that one errno flooding the log does not hide another.
func sendErrorKey(e syscall.Errno) logKey {
	return logSendError + logKey(uint(e)%uint(len(rateLimit{}.last)-int(logSendError)))
}

// run moves frames until the TAP or the tunnel is closed.
func (x *txPath) run() error {
	if err := x.rc.Read(x.fn); err != nil {
		return closedOK(err)
	}
	return closedOK(x.err)
}
