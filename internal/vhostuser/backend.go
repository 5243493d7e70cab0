//go:build linux

package vhostuser

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Queue indexes of a virtio-net device's first (only) queue pair.
const (
	rxQueue = 0 // the guest receives: Write fills it
	txQueue = 1 // the guest transmits: ReadLoop empties it
)

// ErrNoFrontend is Write's error while no frontend has a running receive
// queue: the frames are refused. It wraps os.ErrClosed, as the way to the
// guest is closed (the engine counts such frames without a log line).
var ErrNoFrontend = fmt.Errorf("no vhost-user frontend with a running receive queue: %w", os.ErrClosed)

// ErrNoBuffers is Write's error when the guest has posted too few receive
// buffers for a frame: it and the rest are refused, as a full TAP queue
// drops them.
var ErrNoBuffers = errors.New("the guest has no receive buffers for the frame")

// Stats are a backend's counters since it was made.
type Stats struct {
	// Connections counts the frontends served.
	Connections uint64
	// Refused counts the frontends that connected to the listening
	// socket while another was served, and were disconnected at once.
	Refused uint64
	// FrontendErrors counts the connections ended for a bad value.
	FrontendErrors uint64
	// Superframes counts guest TSO frames cut into frames; OffloadErrors
	// the guest frames dropped as malformed (bad virtio-net header, too
	// long, too short).
	Superframes, OffloadErrors uint64
	// NoBuffers counts the frames for the guest Write refused because it
	// had posted too few receive buffers (ErrNoBuffers), NoFrontend those
	// it refused while no frontend ran the receive queue (ErrNoFrontend,
	// a frontend ended for a bad value in its receive queue included).
	NoBuffers, NoFrontend uint64
}

// Backend is a vhost-user backend for one virtio-net device, serving one
// frontend at a time. It implements engine.Endpoint and
// engine.IntactWriter.
type Backend struct {
	name string
	log  *slog.Logger
	ln   *net.UnixListener
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	// The rings; the memory table is changed with both locks held, and
	// read with either.
	q   [2]queue
	mem memTable

	// wake is closed (and replaced) when the transmit queue may have
	// become ready; guarded by q[txQueue].mu.
	wake chan struct{}

	// The connection being served (control goroutine), and how the data
	// path ends it.
	connMu   sync.Mutex
	conn     *net.UnixConn
	connErr  error // the data path's reason to end the connection
	features uint64
	protocol uint64
	hdrLen   int // virtio-net header bytes: 10, or 12 with num_buffers
	// mtu is the session's MTU (SetMTU); frontendMTU the one the frontend
	// set (NET_SET_MTU, 0 before), mtuWarned whether its difference was
	// logged on this connection (control goroutine only).
	mtu         int
	frontendMTU int
	mtuWarned   bool

	tx *txReader
	rx *rxWriter

	// busy is set while ServeListener's frontend is served; freed is
	// signalled when it ends.
	busy  atomic.Bool
	freed chan struct{}

	connections, frontendErrors atomic.Uint64
	refused                     atomic.Uint64
	superframes, offloadErrors  atomic.Uint64
	noBuffers, noFrontend       atomic.Uint64
	// Logs about frontends: a few lines, then at most one a second of
	// each kind, so that a frontend connecting in a loop cannot flood the
	// log (the counters count them all).
	logLimit, connLog, featLog, refuseLog rateLimit
}

// New makes a backend with no frontend, named name in logs; Serve hands
// it connections.
func New(name string) *Backend {
	b := &Backend{name: name, log: slog.Default(), done: make(chan struct{}), wake: make(chan struct{}), freed: make(chan struct{}, 1)}
	for i := range b.q {
		b.q[i].init()
	}
	b.tx = newTxReader(b)
	b.rx = newRxWriter(b)
	return b
}

// Listen makes a backend listening on the unix socket at path (which must
// not exist), serving the frontends that connect one after the other.
func Listen(path string) (*Backend, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("vhost-user socket: %w", err)
	}
	b := New(path)
	b.ServeListener(ln)
	return b, nil
}

// The waits of a backend whose accept or connection failed: the first,
// doubled after each further failure of a connection, up to the last.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 2 * time.Second
)

// refuseGrace is how long a frontend that connects while another is
// served waits for that one's end (a QEMU restarted before its old
// connection's end was read) before it is refused.
const refuseGrace = 500 * time.Millisecond

// ServeListener serves the frontends that connect to ln, one after the
// other, until Close, which closes ln. A frontend that connects while
// another is served, and is still served refuseGrace later, is
// disconnected at once (counted in Stats.Refused, logged at most once a
// second after a few), so that it fails instead of waiting; the one
// served goes on undisturbed. It is called at most once, before Close,
// and not with Dial. A failed accept (out of descriptors, say) is logged
// when the last one succeeded, not at each attempt, and tried again after
// a wait.
func (b *Backend) ServeListener(ln *net.UnixListener) {
	b.ln = ln
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		failing := false
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				if b.closed() {
					return
				}
				if !failing {
					b.log.Warn("vhost-user accept failed; trying again", "socket", b.name, "err", err)
					failing = true
				}
				if !b.wait(retryFirst) {
					return
				}
				continue
			}
			failing = false
			if b.busy.Load() && !b.waitFreed() {
				b.refuse(c)
				continue
			}
			b.busy.Store(true)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.Serve(c)
				b.busy.Store(false)
				select {
				case b.freed <- struct{}{}:
				default:
				}
			}()
		}
	}()
}

// waitFreed waits up to refuseGrace for the frontend served to end, and
// reports whether it did.
func (b *Backend) waitFreed() bool {
	t := time.NewTimer(refuseGrace)
	defer t.Stop()
	for {
		select {
		case <-b.freed:
			if !b.busy.Load() {
				return true
			}
		case <-t.C:
			return !b.busy.Load()
		case <-b.done:
			return false
		}
	}
}

// refuse disconnects c, a frontend that connected while another is
// served.
func (b *Backend) refuse(c *net.UnixConn) {
	n := b.refused.Add(1)
	c.Close()
	if b.refuseLog.allow() {
		b.log.Warn("vhost-user frontend refused: another one is served", "socket", b.name, "refused", n)
	}
}

// Dial connects to the frontend listening on the unix socket at path and
// serves it, and again each time the connection ends or fails, waiting
// longer between failures (up to retryMax), until Close. It is called at
// most once, before Close, and not with ServeListener. A failure is
// logged when the frontend was last reachable, not at each attempt.
func (b *Backend) Dial(path string) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		addr := &net.UnixAddr{Name: path, Net: "unix"}
		wait, reachable := retryFirst, true
		for !b.closed() {
			c, err := net.DialUnix("unix", nil, addr)
			if err != nil {
				if reachable {
					b.log.Warn("vhost-user frontend unreachable; connecting again until it answers", "socket", path, "err", err)
					reachable = false
				}
			} else {
				reachable, wait = true, retryFirst
				b.Serve(c)
			}
			if !b.wait(wait) {
				return
			}
			wait = min(2*wait, retryMax)
		}
	}()
}

// wait waits d, and reports false if the backend was closed meanwhile.
func (b *Backend) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.done:
		return false
	case <-t.C:
		return true
	}
}

// SetMTU tells the backend the session's MTU, which the guest should
// have: a frontend that sets another (NET_SET_MTU) is logged, once per
// connection. It is called before the backend serves.
func (b *Backend) SetMTU(mtu int) { b.mtu = mtu }

// FrontendMTU returns the MTU the current frontend set with NET_SET_MTU
// (the host_mtu QEMU shows the guest), or 0.
func (b *Backend) FrontendMTU() int {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	return b.frontendMTU
}

// Name names the backend (its socket's path).
func (b *Backend) Name() string { return b.name }

// Queues is 1: one queue pair.
func (b *Backend) Queues() int { return 1 }

// ReadStats returns the guest superframes cut into frames and the guest
// frames dropped as malformed.
func (b *Backend) ReadStats() (superframes, offloadErrors uint64) {
	return b.superframes.Load(), b.offloadErrors.Load()
}

// Stats returns the backend's counters.
func (b *Backend) Stats() Stats {
	return Stats{
		Connections:    b.connections.Load(),
		Refused:        b.refused.Load(),
		FrontendErrors: b.frontendErrors.Load(),
		Superframes:    b.superframes.Load(),
		OffloadErrors:  b.offloadErrors.Load(),
		NoBuffers:      b.noBuffers.Load(),
		NoFrontend:     b.noFrontend.Load(),
	}
}

// Features returns the virtio and protocol features the current frontend
// acknowledged (zero while none is connected).
func (b *Backend) Features() (features, protocol uint64) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	return b.features, b.protocol
}

func (b *Backend) closed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Close ends the connection being served, ReadLoop and Write, and removes
// nothing: the caller owns the socket file.
func (b *Backend) Close() error {
	b.once.Do(func() {
		close(b.done)
		if b.ln != nil {
			b.ln.Close()
		}
		b.connMu.Lock()
		if b.conn != nil {
			b.conn.Close()
		}
		b.connMu.Unlock()
	})
	b.wg.Wait()
	b.lockQueues()
	b.resetLocked()
	b.unlockQueues()
	return nil
}

func (b *Backend) lockQueues() {
	b.q[0].mu.Lock()
	b.q[1].mu.Lock()
}

func (b *Backend) unlockQueues() {
	b.q[1].mu.Unlock()
	b.q[0].mu.Unlock()
}

// resetLocked stops both queues, unmaps the memory and forgets the
// negotiation; both queue locks are held.
func (b *Backend) resetLocked() {
	for i := range b.q {
		b.q[i].reset()
	}
	b.mem.unmap()
	b.wakeTx()
	b.features, b.protocol, b.hdrLen = 0, 0, 0
}

// wakeTx wakes ReadLoop waiting for the transmit queue to become ready;
// q[txQueue].mu is held.
func (b *Backend) wakeTx() {
	close(b.wake)
	b.wake = make(chan struct{})
}

// fail ends the connection for err, found by the data path (which holds
// a queue lock): the control goroutine, reading the socket, sees it end.
func (b *Backend) fail(err error) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	if b.connErr == nil {
		b.connErr = err
	}
	if b.conn != nil {
		b.conn.CloseRead()
	}
}

// Serve serves the frontend on c until it disconnects, sends a bad value
// or the backend is closed, and then undoes everything the frontend set:
// the rings stop, the memory is unmapped, the descriptors are closed. It
// closes c and returns why the connection ended (nil: the frontend
// closed it). One Serve runs at a time (ServeListener's and Dial's loops
// see to it).
func (b *Backend) Serve(c *net.UnixConn) error {
	b.connMu.Lock()
	if b.closed() {
		b.connMu.Unlock()
		c.Close()
		return os.ErrClosed
	}
	b.conn, b.connErr = c, nil
	b.frontendMTU, b.mtuWarned = 0, false
	b.connMu.Unlock()
	b.connections.Add(1)
	if b.connLog.allow() {
		b.log.Info("vhost-user frontend connected", "socket", b.name, "connections", b.connections.Load())
	}

	err := b.serve(c)

	b.connMu.Lock()
	if b.connErr != nil {
		err = b.connErr
	}
	b.conn, b.frontendMTU = nil, 0
	b.connMu.Unlock()
	c.Close()
	b.lockQueues()
	b.resetLocked()
	b.unlockQueues()
	switch {
	case err == nil || b.closed():
		if b.connLog.allow() {
			b.log.Info("vhost-user frontend disconnected", "socket", b.name)
		}
		return nil
	case errors.Is(err, ErrFrontend) || errors.Is(err, ErrMessage):
		b.frontendErrors.Add(1)
	}
	if b.logLimit.allow() {
		b.log.Warn("vhost-user frontend connection ended", "socket", b.name, "err", err)
	}
	return err
}

// serve reads and answers messages until the connection ends.
func (b *Backend) serve(c *net.UnixConn) error {
	var (
		msg   [HeaderLen + MaxPayload]byte
		oob   = make([]byte, unix.CmsgSpace(4*MaxFDs))
		fds   []int
		m     Message
		reply []byte
	)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for {
		fds = fds[:0]
		var err error
		fds, err = readFull(c, msg[:HeaderLen], oob, fds)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		size, err := ParseHeader(msg[:HeaderLen])
		if err != nil {
			return err
		}
		if fds, err = readFull(c, msg[HeaderLen:HeaderLen+size], oob, fds); err != nil {
			if err == io.EOF {
				return frontendError("connection closed inside a message")
			}
			return err
		}
		if err := ParseMessage(msg[:HeaderLen+size], len(fds), &m); err != nil {
			return err
		}
		b.log.Debug("vhost-user request", "socket", b.name, "request", m.Request.String(), "flags", m.Flags, "size", m.Size, "fds", len(fds))
		reply = reply[:0]
		reply, err = b.handle(&m, fds, reply)
		fds = fds[:0] // handle took them (closed or kept)
		if err != nil {
			return err
		}
		if len(reply) > 0 {
			if _, err := c.Write(reply); err != nil {
				return fmt.Errorf("vhost-user reply: %w", err)
			}
		}
	}
}

// readFull fills p from c, appending the descriptors that come along to
// fds. io.EOF means the connection ended before the first byte.
func readFull(c *net.UnixConn, p, oob []byte, fds []int) ([]int, error) {
	for got := 0; got < len(p); {
		n, oobn, flags, _, err := c.ReadMsgUnix(p[got:], oob)
		if oobn > 0 {
			cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				return fds, fmt.Errorf("%w: control message: %v", ErrMessage, perr)
			}
			for _, cm := range cmsgs {
				r, perr := unix.ParseUnixRights(&cm)
				if perr != nil {
					continue
				}
				fds = append(fds, r...)
			}
		}
		if flags&unix.MSG_CTRUNC != 0 || len(fds) > MaxFDs {
			return fds, fmt.Errorf("%w: more than %d descriptors", ErrMessage, MaxFDs)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fds, err
		}
		if n == 0 {
			if got == 0 {
				return fds, io.EOF
			}
			return fds, frontendError("connection closed inside a message")
		}
		got += n
	}
	return fds, nil
}

// handle carries out message m, which came with fds (handle closes or
// keeps each), and appends its reply to reply.
func (b *Backend) handle(m *Message, fds []int, reply []byte) ([]byte, error) {
	var u64 [8]byte
	hasReply := false
	err := func() error {
		switch m.Request {
		case ReqGetFeatures:
			binary.NativeEndian.PutUint64(u64[:], Offered)
			reply, hasReply = appendReply(reply, m.Request, u64[:]), true
		case ReqGetProtocolFeatures:
			binary.NativeEndian.PutUint64(u64[:], OfferedProtocol)
			reply, hasReply = appendReply(reply, m.Request, u64[:]), true
		case ReqSetFeatures:
			return b.setFeatures(m.U64)
		case ReqSetProtocolFeatures:
			if m.U64&^OfferedProtocol != 0 {
				return frontendError("protocol features %#x not offered (offered %#x)", m.U64, OfferedProtocol)
			}
			b.connMu.Lock()
			b.protocol = m.U64
			b.connMu.Unlock()
		case ReqNetSetMTU:
			return b.setMTU(m.U64)
		case ReqSetOwner:
		case ReqResetOwner:
			b.lockQueues()
			for i := range b.q {
				b.q[i].reset()
			}
			b.wakeTx()
			b.unlockQueues()
		case ReqSetMemTable:
			return b.setMemTable(m, fds)
		case ReqSetVringNum, ReqSetVringBase, ReqSetVringEnable, ReqSetVringAddr:
			return b.setVring(m)
		case ReqGetVringBase:
			st, err := b.getVringBase(m.State.Index)
			if err != nil {
				return err
			}
			var p [stateLen]byte
			binary.NativeEndian.PutUint32(p[:], st.Index)
			binary.NativeEndian.PutUint32(p[4:], st.Num)
			reply, hasReply = appendReply(reply, m.Request, p[:]), true
		case ReqSetVringKick, ReqSetVringCall, ReqSetVringErr:
			fd := -1
			if len(fds) == 1 {
				fd = fds[0]
			}
			return b.setVringFD(m.Request, int(m.U64&vringIdxMask), fd)
		default:
			for _, fd := range fds {
				unix.Close(fd)
			}
			return errRefused
		}
		return nil
	}()
	if hasReply {
		return reply, err
	}
	if m.NeedReply() && b.protocol&ProtoFeatReplyAck != 0 {
		ack := uint64(0)
		if err != nil {
			ack = 1
		}
		binary.NativeEndian.PutUint64(u64[:], ack)
		reply = appendReply(reply, m.Request, u64[:])
		if errors.Is(err, errRefused) {
			if b.logLimit.allow() {
				b.log.Warn("vhost-user request refused", "socket", b.name, "request", m.Request.String(), "err", err)
			}
			return reply, nil
		}
	}
	if errors.Is(err, errRefused) {
		err = frontendError("%s: %v", m.Request, err)
	}
	return reply, err
}

// errRefused is handle's signal (wrapped with the reason, or bare: not
// supported) for a request it does not carry out; with REPLY_ACK the
// frontend is told and the connection goes on.
var errRefused = errors.New("request refused (not supported)")

// The MTUs NET_SET_MTU may set: the least an IPv4 link has, and the most
// virtio-net's 16-bit mtu field holds.
const (
	minMTU = 68
	maxMTU = 65535
)

// setMTU takes the frontend's NET_SET_MTU: the MTU it shows the guest
// (QEMU's host_mtu). The protocol wants a failure code for an invalid
// one: outside minMTU..maxMTU, or without NET_MTU negotiated. The MTU
// feature is the guest's to take, and QEMU sends NET_SET_MTU before it
// sends the guest's features (SET_FEATURES), so it is not asked for.
// A valid one that is not the session's is taken, as frames above the
// session's MTU leave fragmented by the underlay rather than dropped,
// and logged once per connection: refusing it would leave the guest's
// NIC without its backend (QEMU starts no vhost-user device then).
func (b *Backend) setMTU(mtu uint64) error {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	if b.protocol&ProtoFeatNetMTU == 0 {
		return fmt.Errorf("%w: NET_SET_MTU without the NET_MTU protocol feature negotiated", errRefused)
	}
	if mtu < minMTU || mtu > maxMTU {
		return fmt.Errorf("%w: MTU %d, want %d to %d", errRefused, mtu, minMTU, maxMTU)
	}
	b.frontendMTU = int(mtu)
	if b.mtu != 0 && b.frontendMTU != b.mtu && !b.mtuWarned {
		b.mtuWarned = true
		b.log.Warn("vhost-user frontend gave the guest another MTU than the session's; give its NIC host_mtu as printed",
			"socket", b.name, "mtu", mtu, "session_mtu", b.mtu)
	}
	return nil
}

func (b *Backend) setFeatures(f uint64) error {
	if f&^Offered != 0 {
		return frontendError("features %#x not offered (offered %#x)", f, Offered)
	}
	hdr := 10
	if f&(FeatVersion1|FeatNetMrgRxbuf) != 0 {
		hdr = 12
	}
	b.lockQueues()
	for i := range b.q {
		q := &b.q[i]
		q.eventIdx = f&FeatRingEventIdx != 0
		q.indirect = f&FeatRingIndirect != 0
	}
	b.connMu.Lock()
	b.features, b.hdrLen = f, hdr
	b.connMu.Unlock()
	b.rx.configure(f)
	b.unlockQueues()
	if b.featLog.allow() {
		b.log.Info("vhost-user features negotiated", "socket", b.name, "features", FeatureNames(f))
	}
	return nil
}

func (b *Backend) setMemTable(m *Message, fds []int) error {
	t, err := mapTable(m, fds)
	if err != nil {
		return frontendError("SET_MEM_TABLE: %v", err)
	}
	b.lockQueues()
	defer b.unlockQueues()
	old := b.mem
	b.mem = t
	old.unmap()
	for i := range b.q {
		if err := b.q[i].resolve(&b.mem); err != nil {
			b.q[i].broken = true
			return err
		}
	}
	return nil
}

// queueIndex checks a ring index from the frontend.
func queueIndex(i uint32) (int, error) {
	if i >= uint32(len(Backend{}.q)) {
		return 0, frontendError("ring %d: one queue pair only (rings 0 and 1)", i)
	}
	return int(i), nil
}

func (b *Backend) setVring(m *Message) error {
	idx := m.State.Index
	if m.Request == ReqSetVringAddr {
		idx = m.Addr.Index
	}
	i, err := queueIndex(idx)
	if err != nil {
		return err
	}
	q := &b.q[i]
	q.mu.Lock()
	defer q.mu.Unlock()
	switch m.Request {
	case ReqSetVringNum:
		n := m.State.Num
		if q.started {
			return frontendError("SET_VRING_NUM on running ring %d", i)
		}
		if n == 0 || n > MaxQueueSize || n&(n-1) != 0 {
			return frontendError("ring %d: size %d, want a power of 2 up to %d", i, n, MaxQueueSize)
		}
		q.num = int(n)
		if cap(q.chain) != q.num {
			q.chain = make([]buf, 0, q.num)
			q.first = make([]buf, 0, q.num)
		}
		return q.resolve(&b.mem)
	case ReqSetVringAddr:
		a := m.Addr
		if a.Flags&vringFlagsLog != 0 {
			return frontendError("ring %d: dirty logging asked for, not offered", i)
		}
		if a.Desc%16 != 0 || a.Avail%2 != 0 || a.Used%4 != 0 {
			return frontendError("ring %d: misaligned %#x/%#x/%#x", i, a.Desc, a.Avail, a.Used)
		}
		q.addr, q.haveAddr = a, true
		return q.resolve(&b.mem)
	case ReqSetVringBase:
		if q.started {
			return frontendError("SET_VRING_BASE on running ring %d", i)
		}
		if m.State.Num > 0xffff {
			return frontendError("ring %d: base %d", i, m.State.Num)
		}
		q.lastAvail = uint16(m.State.Num)
		q.lastUsed, q.usedPub = q.lastAvail, q.lastAvail
	case ReqSetVringEnable:
		if m.State.Num > 1 {
			return frontendError("ring %d: enable %d", i, m.State.Num)
		}
		q.enabled = m.State.Num == 1
		q.poke()
	}
	return nil
}

func (b *Backend) getVringBase(idx uint32) (VringState, error) {
	i, err := queueIndex(idx)
	if err != nil {
		return VringState{}, err
	}
	q := &b.q[i]
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stop()
	return VringState{Index: idx, Num: uint32(q.lastAvail)}, nil
}

func (b *Backend) setVringFD(req Request, idx, fd int) error {
	i, err := queueIndex(uint32(idx))
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return err
	}
	q := &b.q[i]
	q.mu.Lock()
	defer q.mu.Unlock()
	switch req {
	case ReqSetVringKick:
		if fd < 0 {
			return frontendError("ring %d: polling without a kick descriptor is not supported", i)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return fmt.Errorf("ring %d: kick descriptor: %w", i, err)
		}
		q.stop()
		f := os.NewFile(uintptr(fd), "vhost-user-kick")
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return fmt.Errorf("ring %d: kick descriptor: %w", i, err)
		}
		if q.desc == nil && b.mem.n > 0 {
			if err := q.resolve(&b.mem); err != nil {
				f.Close()
				return err
			}
		}
		if q.desc == nil {
			f.Close()
			return frontendError("ring %d: kick before its size and addresses", i)
		}
		q.kick, q.kickRC = f, rc
		q.started = true
		b.connMu.Lock()
		q.enabled = q.enabled || b.features&FeatProtocolFeats == 0
		b.connMu.Unlock()
		q.usedFlags = usedFlagsUnknown // written on first use, by the data path
		if i == txQueue {
			b.wakeTx()
		}
	case ReqSetVringCall:
		if q.call >= 0 {
			unix.Close(q.call)
		}
		q.call = fd
	case ReqSetVringErr:
		// Errors are reported by ending the connection, never through it.
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	return nil
}

// rateLimit allows a burst of logBurst events, then one a second.
type rateLimit struct {
	mu     sync.Mutex
	last   time.Time
	tokens float64
}

const logBurst = 5

func (r *rateLimit) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.tokens = min(logBurst, r.tokens+now.Sub(r.last).Seconds())
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}
