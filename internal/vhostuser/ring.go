//go:build linux

package vhostuser

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Split virtqueue layout (the virtio specification, 2.7).
const (
	descLen = 16 // addr u64, len u32, flags u16, next u16

	descFNext     = 1
	descFWrite    = 2
	descFIndirect = 4

	availFNoInterrupt = 1
	usedFNoNotify     = 1
	usedFlagsUnknown  = 0xffff // not a value ever written: the next is

	// MaxQueueSize is the largest split ring.
	MaxQueueSize = 32768
)

// ErrFrontend is wrapped by every error that ends a frontend's connection
// for a value it sent (a message, a descriptor, an index).
var ErrFrontend = errors.New("vhost-user frontend misbehaved")

func frontendError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFrontend}, args...)...)
}

// fenceWord is the target of fence's atomic operation.
var fenceWord atomic.Uint32

// fence orders the shared-memory accesses before it against those after
// it, both ways: an atomic read-modify-write is a full barrier on every
// architecture Go supports, and the compiler keeps memory accesses on
// their side of it.
func fence() { fenceWord.Add(1) }

// buf is one descriptor of a chain: a guest-physical range and whether the
// device writes it.
type buf struct {
	addr  uint64
	len   uint32
	write bool
}

// queue is one split virtqueue: its configuration from the frontend and
// its processing state. mu guards it all; the data path holds it for one
// batch, the control plane to change the queue or the memory table.
type queue struct {
	mu sync.Mutex

	num              int       // queue size, 0 until SET_VRING_NUM
	addr             VringAddr // as SET_VRING_ADDR gave it
	haveAddr         bool
	desc, avail, use []byte // the rings, mapped (nil until resolved)
	lastAvail        uint16 // next available entry to take
	lastUsed         uint16 // next used entry to fill
	usedPub          uint16 // used index last published to the guest
	usedFlags        uint16
	started, enabled bool
	broken           bool // the data path found a bad value; the connection ends
	// gen counts the stops: a reader holding a chain across batches
	// lets it go when gen has changed since it took it.
	gen uint32

	kick   *os.File // nil when none
	kickRC syscall.RawConn
	call   int // eventfd, -1 when none

	eventIdx, indirect bool
	chain              []buf // the chain being walked, capacity num
	first              []buf // the first chain of a merged receive, capacity num
	callBuf            [8]byte
	kickBuf            [8]byte
}

func (q *queue) init() {
	q.call = -1
	q.callBuf = [8]byte{1}
}

// ready reports whether the queue is to be processed.
func (q *queue) ready() bool { return q.started && !q.broken && q.desc != nil }

// resolve maps the ring addresses through mem; it fails if a ring lies
// outside the table or straddles regions.
//
// Before the first memory table it leaves the rings unresolved: they are
// resolved when the table comes or the ring is kicked.
func (q *queue) resolve(mem *memTable) error {
	if !q.haveAddr || q.num == 0 || mem.n == 0 {
		q.desc, q.avail, q.use = nil, nil, nil
		return nil
	}
	n := uint64(q.num)
	var ok1, ok2, ok3 bool
	q.desc, ok1 = mem.user(q.addr.Desc, n*descLen)
	q.avail, ok2 = mem.user(q.addr.Avail, 6+2*n)
	q.use, ok3 = mem.user(q.addr.Used, 6+8*n)
	if !ok1 || !ok2 || !ok3 {
		q.desc, q.avail, q.use = nil, nil, nil
		return frontendError("ring %#x/%#x/%#x of size %d outside the memory table", q.addr.Desc, q.addr.Avail, q.addr.Used, q.num)
	}
	return nil
}

// stop stops the queue and closes its kick descriptor, which wakes a
// reader waiting on it.
func (q *queue) stop() {
	q.started = false
	q.gen++
	if q.kick != nil {
		q.kick.Close()
		q.kick, q.kickRC = nil, nil
	}
}

// reset returns the queue to its state before any message.
func (q *queue) reset() {
	q.stop()
	if q.call >= 0 {
		unix.Close(q.call)
	}
	q.num, q.addr, q.haveAddr = 0, VringAddr{}, false
	q.desc, q.avail, q.use = nil, nil, nil
	q.lastAvail, q.lastUsed, q.usedPub, q.usedFlags = 0, 0, 0, 0
	q.enabled, q.broken = false, false
	q.eventIdx, q.indirect = false, false
	q.chain, q.first = q.chain[:0], q.first[:0]
	q.init()
}

// poke wakes a reader waiting for a kick.
func (q *queue) poke() {
	if q.kick != nil {
		var one = [8]byte{1}
		unix.Write(int(q.kick.Fd()), one[:])
	}
}

// availIdx reads the driver's available index and checks it: it may be
// ahead of lastAvail by at most the queue size.
func (q *queue) availIdx() (uint16, error) {
	fence()
	idx := binary.LittleEndian.Uint16(q.avail[2:])
	if d := idx - q.lastAvail; int(d) > q.num {
		q.broken = true
		return 0, frontendError("available index %d is %d ahead of %d in a queue of %d", idx, d, q.lastAvail, q.num)
	}
	return idx, nil
}

// head returns the descriptor index in available entry lastAvail+i.
func (q *queue) head(i uint16) uint16 {
	slot := int(q.lastAvail+i) & (q.num - 1)
	return binary.LittleEndian.Uint16(q.avail[4+2*slot:])
}

// readDesc reads descriptor i of table (bounds checked by the caller).
func readDesc(table []byte, i int) (addr uint64, n uint32, flags, next uint16) {
	d := table[i*descLen : i*descLen+descLen]
	return binary.LittleEndian.Uint64(d), binary.LittleEndian.Uint32(d[8:]),
		binary.LittleEndian.Uint16(d[12:]), binary.LittleEndian.Uint16(d[14:])
}

// walk reads the chain starting at descriptor head into q.chain: at most
// the queue size in all, readable descriptors before writable ones, an
// indirect table only where negotiated, in one region, not nested and
// ending the chain. Each descriptor is read once, so a frontend changing
// the table meanwhile gets what it wrote, never an unchecked value.
// Every buffer is checked against the memory table.
func (q *queue) walk(mem *memTable, head uint16) error {
	q.chain = q.chain[:0]
	table, size := q.desc, q.num
	i := int(head)
	indirect, writing := false, false
	for {
		if i >= size {
			return frontendError("descriptor %d outside a table of %d", i, size)
		}
		addr, n, flags, next := readDesc(table, i)
		if flags&descFIndirect != 0 {
			switch {
			case !q.indirect:
				return frontendError("indirect descriptor without INDIRECT_DESC")
			case indirect:
				return frontendError("indirect descriptor in an indirect table")
			case flags&descFNext != 0:
				return frontendError("indirect descriptor with NEXT")
			case n == 0 || n%descLen != 0 || n/descLen > uint32(q.num):
				return frontendError("indirect table of %d bytes for a queue of %d", n, q.num)
			}
			t, ok := mem.guest(addr, uint64(n))
			if !ok {
				return frontendError("indirect table %#x+%d outside the memory table", addr, n)
			}
			table, size, i, indirect = t, int(n/descLen), 0, true
			continue
		}
		w := flags&descFWrite != 0
		if !w && writing {
			return frontendError("readable descriptor after a writable one")
		}
		writing = w
		if !mem.check(addr, uint64(n)) {
			return frontendError("buffer %#x+%d outside the memory table", addr, n)
		}
		if len(q.chain) == cap(q.chain) {
			return frontendError("descriptor chain longer than the queue's %d (a loop?)", q.num)
		}
		q.chain = append(q.chain, buf{addr: addr, len: n, write: w})
		if flags&descFNext == 0 {
			return nil
		}
		i = int(next)
	}
}

// readChain copies the readable bytes of q.chain from offset skip into
// dst, and returns how many it copied.
func readChain(mem *memTable, chain []buf, skip int, dst []byte) (int, error) {
	n := 0
	for _, b := range chain {
		if b.write {
			break
		}
		addr, l := b.addr, uint64(b.len)
		if s := uint64(skip); s > 0 {
			c := min(s, l)
			addr, l, skip = addr+c, l-c, skip-int(c)
		}
		for l > 0 && n < len(dst) {
			p, ok := mem.guestPart(addr, min(l, uint64(len(dst)-n)))
			if !ok || addr+uint64(len(p)) < addr {
				return n, frontendError("buffer %#x+%d outside the memory table", b.addr, b.len)
			}
			c := copy(dst[n:], p)
			countCopy(c)
			n += c
			addr += uint64(len(p))
			l -= uint64(len(p))
		}
		if n == len(dst) {
			break
		}
	}
	return n, nil
}

// readable returns the bytes in the readable descriptors of chain, and
// whether there is a writable one.
func readable(chain []buf) (total uint64, anyWrite bool) {
	for _, b := range chain {
		if b.write {
			return total, true
		}
		total += uint64(b.len)
	}
	return total, false
}

// writable returns the bytes in the writable descriptors of chain.
func writable(chain []buf) (total uint64) {
	for _, b := range chain {
		if b.write {
			total += uint64(b.len)
		}
	}
	return total
}

// writeChain copies src into the writable descriptors of chain from
// offset skip, and returns how many bytes it copied.
func writeChain(mem *memTable, chain []buf, skip int, src []byte) (int, error) {
	n := 0
	for _, b := range chain {
		if !b.write {
			continue
		}
		addr, l := b.addr, uint64(b.len)
		if s := uint64(skip); s > 0 {
			c := min(s, l)
			addr, l, skip = addr+c, l-c, skip-int(c)
		}
		for l > 0 && n < len(src) {
			p, ok := mem.guestPart(addr, min(l, uint64(len(src)-n)))
			if !ok || addr+uint64(len(p)) < addr {
				return n, frontendError("buffer %#x+%d outside the memory table", b.addr, b.len)
			}
			c := copy(p, src[n:])
			countCopy(c)
			n += c
			addr += uint64(len(p))
			l -= uint64(len(p))
		}
		if n == len(src) {
			break
		}
	}
	return n, nil
}

// putUsed fills used entry lastUsed+i, not yet published.
func (q *queue) putUsed(i uint16, id uint16, n uint32) {
	slot := int(q.lastUsed+i) & (q.num - 1)
	e := q.use[4+8*slot : 4+8*slot+8]
	binary.LittleEndian.PutUint32(e, uint32(id))
	binary.LittleEndian.PutUint32(e[4:], n)
}

// publish makes the used entries up to lastUsed visible to the driver and
// signals it if it asked to be (EVENT_IDX's used_event, or the absence of
// NO_INTERRUPT), once for all of them.
func (q *queue) publish() {
	if q.lastUsed == q.usedPub {
		return
	}
	old := q.usedPub
	fence() // the entries before the index
	binary.LittleEndian.PutUint16(q.use[2:], q.lastUsed)
	q.usedPub = q.lastUsed
	fence() // the index before reading what the driver wants
	notify := false
	if q.eventIdx {
		ev := binary.LittleEndian.Uint16(q.avail[4+2*q.num:])
		notify = q.lastUsed-ev-1 < q.lastUsed-old
	} else {
		notify = binary.LittleEndian.Uint16(q.avail)&availFNoInterrupt == 0
	}
	if notify && q.call >= 0 {
		unix.Write(q.call, q.callBuf[:])
	}
}

// setUsedFlags writes the used ring's flags.
func (q *queue) setUsedFlags(f uint16) {
	if q.usedFlags != f {
		q.usedFlags = f
		binary.LittleEndian.PutUint16(q.use, f)
	}
}

// armKick asks the driver for a kick when it adds entries past lastAvail
// (EVENT_IDX's avail_event, or clearing NO_NOTIFY), and reports whether
// entries arrived meanwhile: then the caller goes on without waiting.
func (q *queue) armKick() (bool, error) {
	if q.eventIdx {
		binary.LittleEndian.PutUint16(q.use[4+8*q.num:], q.lastAvail)
	} else {
		q.setUsedFlags(0)
	}
	idx, err := q.availIdx()
	return idx != q.lastAvail, err
}

// quiet tells the driver that kicks are not needed while the queue is
// being processed.
func (q *queue) quiet() {
	if !q.eventIdx {
		q.setUsedFlags(usedFNoNotify)
	}
}

// waitKick waits until the kick eventfd rc is readable and drains it, or
// until it is closed.
func waitKick(rc syscall.RawConn, b *[8]byte) {
	rc.Read(func(fd uintptr) bool {
		_, err := unix.Read(int(fd), b[:])
		return err != unix.EAGAIN
	})
}
