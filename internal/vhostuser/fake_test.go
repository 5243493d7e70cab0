//go:build linux

package vhostuser

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The fake frontend's memory: one memfd, laid out as below, at guestBase
// in guest-physical space and userBase in the frontend's.
const (
	memSize   = 4 << 20
	guestBase = 0x100000
	userBase  = 0x7f0000000000
	ringNum   = 256

	ringOff  = 0x000000 // ring r at ringOff + r*0x10000: desc, +0x1000 avail, +0x2000 used
	txHdrOff = 0x020000 // transmit headers, 16 bytes per chain
	rxBufOff = 0x100000 // receive buffers, rxSlot bytes each
	txBufOff = 0x200000 // transmit data, 0x10000 per chain, txInFlight chains
	rxSlot   = 4096

	txInFlight = 32

	testFeatures = FeatVersion1 | FeatNetCsum | FeatNetGuestCsum | FeatNetGuestTSO4 | FeatNetGuestTSO6 |
		FeatNetHostTSO4 | FeatNetHostTSO6 | FeatNetMrgRxbuf | FeatRingEventIdx | FeatRingIndirect | FeatProtocolFeats
)

// frontend is a virtio-net driver and vhost-user frontend in the test:
// it negotiates over a socketpair, shares a memfd, and drives the rings
// as a guest would.
type frontend struct {
	t        testing.TB
	b        *Backend
	sock     int
	memfd    int
	mem      []byte
	kick     [2]int
	call     [2]int
	features uint64
	served   chan error
	// Ring state: the next available index to fill and the next used
	// index to read, per ring.
	availIdx [2]uint16
	usedIdx  [2]uint16
	rxSize   int // receive buffer size posted
	hdrLen   int
	one      [8]byte // an eventfd increment, kept here so as not to allocate
}

// newPair returns a socketpair: the backend's end as a UnixConn and the
// frontend's descriptor.
func newPair(t testing.TB) (*net.UnixConn, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "backend")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(fds[1], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return c.(*net.UnixConn), fds[1]
}

// newFrontend connects a fake frontend to b (served in a goroutine) with
// fresh memory; nothing is negotiated yet.
func newFrontend(t testing.TB, b *Backend) *frontend {
	c, sock := newPair(t)
	f := &frontend{t: t, b: b, sock: sock, served: make(chan error, 1), rxSize: rxSlot}
	go func() { f.served <- b.Serve(c) }()
	f.initMem()
	t.Cleanup(f.close)
	return f
}

// initMem makes the shared memory and the eventfds.
func (f *frontend) initMem() {
	t := f.t
	f.one = [8]byte{1}
	fd, err := unix.MemfdCreate("guest", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f.memfd = fd
	if err := unix.Ftruncate(fd, memSize); err != nil {
		t.Fatal(err)
	}
	if f.mem, err = unix.Mmap(fd, 0, memSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		t.Fatal(err)
	}
	for i := range f.kick {
		if f.kick[i], err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		if f.call[i], err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
			t.Fatal(err)
		}
	}
}

// close disconnects and frees the frontend's resources.
func (f *frontend) close() {
	if f.sock >= 0 {
		unix.Close(f.sock)
		f.sock = -1
	}
	if f.mem != nil {
		unix.Munmap(f.mem)
		f.mem = nil
	}
	if f.memfd > 0 {
		unix.Close(f.memfd)
		f.memfd = -1
		for i := range f.kick {
			unix.Close(f.kick[i])
			unix.Close(f.call[i])
		}
	}
}

// disconnect closes the socket and waits for Serve to end; it returns
// Serve's error.
func (f *frontend) disconnect() error {
	unix.Close(f.sock)
	f.sock = -1
	return f.wait()
}

// wait waits for Serve to end and returns its error.
func (f *frontend) wait() error {
	select {
	case err := <-f.served:
		return err
	case <-time.After(10 * time.Second):
		f.t.Fatal("the backend did not end the connection")
		return nil
	}
}

// send sends one message with fds.
func (f *frontend) send(req Request, flags uint32, payload []byte, fds ...int) error {
	msg := binary.NativeEndian.AppendUint32(nil, uint32(req))
	msg = binary.NativeEndian.AppendUint32(msg, flagVersion|flags)
	msg = binary.NativeEndian.AppendUint32(msg, uint32(len(payload)))
	msg = append(msg, payload...)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return ignoringEINTR(func() error { return unix.Sendmsg(f.sock, msg, oob, nil, 0) })
}

// reply reads a reply to req and returns its payload.
func (f *frontend) reply(req Request) ([]byte, error) {
	var h [HeaderLen]byte
	if err := readAll(f.sock, h[:]); err != nil {
		return nil, err
	}
	if got := Request(binary.NativeEndian.Uint32(h[:])); got != req {
		return nil, errors.New("reply to " + got.String() + ", want " + req.String())
	}
	if fl := binary.NativeEndian.Uint32(h[4:]); fl != flagVersion|flagReply {
		return nil, errors.New("reply flags wrong")
	}
	p := make([]byte, binary.NativeEndian.Uint32(h[8:]))
	return p, readAll(f.sock, p)
}

// ignoringEINTR calls op until it returns something other than EINTR.
// The kernel restarts these calls after Go's signals, but qemu-user (make
// cross) may hand EINTR back to the program.
func ignoringEINTR(op func() error) error {
	for {
		if err := op(); err != unix.EINTR {
			return err
		}
	}
}

func readAll(fd int, p []byte) error {
	for got := 0; got < len(p); {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Read(fd, p[got:]); return err })
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("connection closed")
		}
		got += n
	}
	return nil
}

// do sends a request asking for an acknowledgement (REPLY_ACK) and fails
// the test unless it is a success.
func (f *frontend) do(req Request, payload []byte, fds ...int) {
	f.t.Helper()
	if err := f.send(req, flagNeedReply, payload, fds...); err != nil {
		f.t.Fatalf("%s: %v", req, err)
	}
	p, err := f.reply(req)
	if err != nil || len(p) != 8 || binary.NativeEndian.Uint64(p) != 0 {
		f.t.Fatalf("%s: ack %x, %v", req, p, err)
	}
}

func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func state(i, n uint32) []byte {
	return binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, i), n)
}

func vringAddr(i int, desc, used, avail uint64) []byte {
	p := binary.NativeEndian.AppendUint32(nil, uint32(i))
	p = binary.NativeEndian.AppendUint32(p, 0)
	for _, v := range []uint64{desc, used, avail, 0} {
		p = binary.NativeEndian.AppendUint64(p, v)
	}
	return p
}

func memTablePayload(regions ...Region) []byte {
	p := binary.NativeEndian.AppendUint32(nil, uint32(len(regions)))
	p = binary.NativeEndian.AppendUint32(p, 0)
	for _, r := range regions {
		for _, v := range []uint64{r.GuestAddr, r.Size, r.UserAddr, r.MmapOffset} {
			p = binary.NativeEndian.AppendUint64(p, v)
		}
	}
	return p
}

// negotiate runs the features exchange with features (REPLY_ACK is always
// taken), as QEMU starts a device.
func (f *frontend) negotiate(features uint64) {
	f.t.Helper()
	f.negotiateWith(features, ProtoFeatReplyAck, nil)
}

// negotiateWith is negotiate taking the protocol features protocol
// (without REPLY_ACK nothing is acknowledged), and calling early, if not
// nil, after SET_OWNER and before SET_FEATURES, where QEMU sends
// NET_SET_MTU.
func (f *frontend) negotiateWith(features, protocol uint64, early func()) {
	f.t.Helper()
	if err := f.send(ReqGetFeatures, 0, nil); err != nil {
		f.t.Fatal(err)
	}
	p, err := f.reply(ReqGetFeatures)
	if err != nil || binary.NativeEndian.Uint64(p) != Offered {
		f.t.Fatalf("GET_FEATURES: %x, %v", p, err)
	}
	if err := f.send(ReqGetProtocolFeatures, 0, nil); err != nil {
		f.t.Fatal(err)
	}
	if p, err = f.reply(ReqGetProtocolFeatures); err != nil || binary.NativeEndian.Uint64(p) != OfferedProtocol {
		f.t.Fatalf("GET_PROTOCOL_FEATURES: %x, %v", p, err)
	}
	if err := f.send(ReqSetProtocolFeatures, 0, u64(protocol)); err != nil {
		f.t.Fatal(err)
	}
	send := func(req Request, p []byte) {
		f.t.Helper()
		if protocol&ProtoFeatReplyAck != 0 {
			f.do(req, p)
		} else if err := f.send(req, 0, p); err != nil {
			f.t.Fatal(err)
		}
	}
	send(ReqSetOwner, nil)
	if early != nil {
		early()
	}
	send(ReqSetFeatures, u64(features))
	f.features = features
	f.hdrLen = 10
	if features&(FeatVersion1|FeatNetMrgRxbuf) != 0 {
		f.hdrLen = 12
	}
}

// ringAt returns the offsets of ring r's descriptor table, available and
// used rings in the memory.
func ringAt(r int) (desc, avail, used int) {
	base := ringOff + r*0x10000
	return base, base + 0x1000, base + 0x2000
}

// start sends the memory table and sets up and starts both rings.
func (f *frontend) start() {
	f.t.Helper()
	f.do(ReqSetMemTable, memTablePayload(Region{GuestAddr: guestBase, Size: memSize, UserAddr: userBase}), f.memfd)
	for r := range 2 {
		d, a, u := ringAt(r)
		f.do(ReqSetVringNum, state(uint32(r), ringNum))
		f.do(ReqSetVringBase, state(uint32(r), 0))
		f.do(ReqSetVringAddr, vringAddr(r, userBase+uint64(d), userBase+uint64(u), userBase+uint64(a)))
		f.do(ReqSetVringCall, u64(uint64(r)), f.call[r])
		f.do(ReqSetVringKick, u64(uint64(r)), f.kick[r])
		f.do(ReqSetVringEnable, state(uint32(r), 1))
	}
}

func (f *frontend) setDesc(r, i int, addr uint64, n uint32, flags, next uint16) {
	d, _, _ := ringAt(r)
	e := f.mem[d+16*i:]
	binary.LittleEndian.PutUint64(e, addr)
	binary.LittleEndian.PutUint32(e[8:], n)
	binary.LittleEndian.PutUint16(e[12:], flags)
	binary.LittleEndian.PutUint16(e[14:], next)
}

// push makes head available on ring r (not yet published).
func (f *frontend) push(r int, head uint16) {
	_, a, _ := ringAt(r)
	binary.LittleEndian.PutUint16(f.mem[a+4+2*int(f.availIdx[r]%ringNum):], head)
	f.availIdx[r]++
}

// publish writes ring r's available index and kicks.
func (f *frontend) publish(r int) {
	_, a, _ := ringAt(r)
	fence()
	binary.LittleEndian.PutUint16(f.mem[a+2:], f.availIdx[r])
	fence()
	f.kickRing(r)
}

func (f *frontend) kickRing(r int) {
	ignoringEINTR(func() error { _, err := unix.Write(f.kick[r], f.one[:]); return err })
}

// used returns ring r's used entries not yet read, as (id, len) pairs
// appended to dst.
func (f *frontend) used(r int, dst [][2]uint32) [][2]uint32 {
	_, _, u := ringAt(r)
	fence()
	idx := binary.LittleEndian.Uint16(f.mem[u+2:])
	for ; f.usedIdx[r] != idx; f.usedIdx[r]++ {
		e := f.mem[u+4+8*int(f.usedIdx[r]%ringNum):]
		dst = append(dst, [2]uint32{binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])})
	}
	return dst
}

// called drains ring r's call eventfd and reports whether it was
// signalled.
func (f *frontend) called(r int) bool {
	var b [8]byte
	var n int
	ignoringEINTR(func() (err error) { n, err = unix.Read(f.call[r], b[:]); return err })
	return n == 8
}

// sendFrame puts a frame with virtio-net header hdr (10 bytes) on the
// transmit ring as a chain of two descriptors, header and data.
func (f *frontend) sendFrame(hdr, frame []byte) {
	k := int(f.availIdx[txQueue])
	head := uint16(2 * (k % (ringNum / 2)))
	ho := txHdrOff + 16*(k%(ringNum/2))
	do := txBufOff + 0x10000*(k%txInFlight)
	copy(f.mem[ho:ho+12], make([]byte, 12))
	copy(f.mem[ho:], hdr)
	copy(f.mem[do:], frame)
	f.setDesc(txQueue, int(head), guestBase+uint64(ho), uint32(f.hdrLen), descFNext, head+1)
	f.setDesc(txQueue, int(head)+1, guestBase+uint64(do), uint32(len(frame)), 0, 0)
	f.push(txQueue, head)
}

// postRx makes receive buffers slot..slot+n-1 available, each one
// writable descriptor of f.rxSize bytes.
func (f *frontend) postRx(slot, n int) {
	for i := slot; i < slot+n; i++ {
		s := i % ringNum
		f.setDesc(rxQueue, s, guestBase+uint64(rxBufOff+s*rxSlot), uint32(f.rxSize), descFWrite, 0)
		f.push(rxQueue, uint16(s))
	}
	f.publish(rxQueue)
}

// rxFrame is a frame the guest received, with its virtio-net header.
type rxFrame struct {
	hdr   []byte
	frame []byte
}

// receive reads the frames the backend put on the receive ring, and
// posts the buffers again.
func (f *frontend) receive() []rxFrame {
	var frames []rxFrame
	entries := f.used(rxQueue, nil)
	for i := 0; i < len(entries); {
		id, n := entries[i][0], int(entries[i][1])
		buf := f.mem[rxBufOff+int(id)*rxSlot:][:n]
		hdr := append([]byte(nil), buf[:f.hdrLen]...)
		data := append([]byte(nil), buf[f.hdrLen:]...)
		nb := 1
		if f.features&FeatNetMrgRxbuf != 0 {
			nb = int(binary.LittleEndian.Uint16(hdr[10:]))
		}
		for j := 1; j < nb && i+j < len(entries); j++ {
			id, n := entries[i+j][0], int(entries[i+j][1])
			data = append(data, f.mem[rxBufOff+int(id)*rxSlot:][:n]...)
		}
		frames = append(frames, rxFrame{hdr, data})
		i += nb
	}
	if len(entries) > 0 {
		f.postRx(int(f.availIdx[rxQueue]), len(entries))
	}
	return frames
}

// collector runs a backend's ReadLoop and keeps copies of the frames.
type collector struct {
	mu     sync.Mutex
	frames [][]byte
	drops  []error
	token  chan struct{}
	done   chan error
}

const testHeadroom = 16

func collect(t testing.TB, b *Backend) *collector {
	c := &collector{token: make(chan struct{}, 1), done: make(chan error, 1)}
	arena := make([]byte, 256<<10)
	pkts := make([][]byte, 64)
	send := func(p [][]byte) error {
		c.mu.Lock()
		for _, f := range p {
			c.frames = append(c.frames, append([]byte(nil), f[testHeadroom:]...))
		}
		c.mu.Unlock()
		select {
		case c.token <- struct{}{}:
		default:
		}
		return nil
	}
	dropped := func(err error) {
		c.mu.Lock()
		c.drops = append(c.drops, err)
		c.mu.Unlock()
		select {
		case c.token <- struct{}{}:
		default:
		}
	}
	go func() { c.done <- b.ReadLoop(0, arena, testHeadroom, pkts, send, dropped) }()
	t.Cleanup(func() {
		b.Close()
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("ReadLoop: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ReadLoop did not end")
		}
	})
	return c
}

// wait waits until the collector holds n frames and drops, and returns
// them.
func (c *collector) wait(t testing.TB, n int) ([][]byte, []error) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.frames)+len(c.drops) >= n {
			fr, dr := c.frames, c.drops
			c.frames, c.drops = nil, nil
			c.mu.Unlock()
			return fr, dr
		}
		c.mu.Unlock()
		select {
		case <-c.token:
		case <-deadline:
			t.Fatalf("%d frames of %d read", len(c.frames)+len(c.drops), n)
		}
	}
}

// newFrontendOn is newFrontend on a connection Listen accepted: sock is
// the frontend's end (duplicated here).
func newFrontendOn(t testing.TB, b *Backend, sock int) *frontend {
	fd, err := unix.Dup(sock)
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	f := &frontend{t: t, b: b, sock: fd, rxSize: rxSlot}
	f.initMem()
	t.Cleanup(f.close)
	return f
}

func unixClose(f *frontend) {
	unix.Close(f.sock)
	f.sock = -1
}
