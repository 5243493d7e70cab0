package engine

import (
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/l2tap/l2tap/internal/underlay"
)

// The fakes below stand in for a TAP and a socket, in memory. Once made
// they allocate nothing per frame, so that the engine's loops can be held
// to zero allocations through them.

// fakeEndpoint hands the engine the batches of frames a test feeds it and
// records, or just counts, what the engine writes to it.
type fakeEndpoint struct {
	name    string
	batches [][][]byte // frames to read, by batch number
	in      chan int   // batch numbers to read
	closed  chan struct{}
	once    sync.Once
	record  bool // keep a copy of every frame written
	mu      sync.Mutex
	got     [][]byte
	intact  []bool // WriteIntact's flag of each frame in got
	written atomic.Int64
	wrote   chan struct{} // a token after each Write
}

func newFakeEndpoint(name string, record bool, batches ...[][]byte) *fakeEndpoint {
	return &fakeEndpoint{name: name, batches: batches, in: make(chan int), closed: make(chan struct{}),
		record: record, wrote: make(chan struct{}, 1)}
}

func (f *fakeEndpoint) Name() string { return f.name }
func (f *fakeEndpoint) Queues() int  { return 1 }
func (f *fakeEndpoint) ReadStats() (uint64, uint64) {
	return 0, 0
}

func (f *fakeEndpoint) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeEndpoint) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	for {
		select {
		case <-f.closed:
			return nil
		case b := <-f.in:
			n, used := 0, 0
			for _, fr := range f.batches[b] {
				p := arena[used : used+headroom+len(fr)]
				copy(p[headroom:], fr)
				pkts[n] = p
				n++
				used += len(p)
			}
			if err := send(pkts[:n]); err != nil {
				return err
			}
		}
	}
}

func (f *fakeEndpoint) Write(frames [][]byte) (written, merged, bytes int, err error) {
	return f.WriteIntact(frames, nil)
}

// WriteIntact is Write, recording each frame's intact flag as well.
func (f *fakeEndpoint) WriteIntact(frames [][]byte, intact []bool) (written, merged, bytes int, err error) {
	select {
	case <-f.closed:
		return 0, 0, 0, os.ErrClosed
	default:
	}
	for _, fr := range frames {
		bytes += len(fr)
	}
	if f.record {
		f.mu.Lock()
		for i, fr := range frames {
			f.got = append(f.got, append([]byte(nil), fr...))
			f.intact = append(f.intact, i < len(intact) && intact[i])
		}
		f.mu.Unlock()
	}
	f.written.Add(int64(len(frames)))
	select {
	case f.wrote <- struct{}{}:
	default:
	}
	return len(frames), 0, bytes, nil
}

// frames returns a copy of what was written so far.
func (f *fakeEndpoint) frames() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.got...)
}

// fakeNet joins fakeSockets by address.
type fakeNet struct {
	mu      sync.Mutex
	sockets map[netip.AddrPort]*fakeSocket
}

// fakeSocket is a socket on a fakeNet: what is sent to its address lands
// in a ring of preallocated buffers that Receive hands out.
type fakeSocket struct {
	net    *fakeNet
	addr   netip.AddrPort
	udp    bool
	mu     sync.Mutex
	cond   *sync.Cond
	ring   [][]byte
	lens   []int
	segs   []int // datagram size of a slot holding a GRO run, else 0
	srcs   []netip.AddrPort
	head   int // next slot to receive
	count  int // slots filled
	closed bool
}

const fakeRing = 4096

func (n *fakeNet) socket(addr netip.AddrPort, udp bool) *fakeSocket {
	s := &fakeSocket{net: n, addr: addr, udp: udp, ring: make([][]byte, fakeRing), lens: make([]int, fakeRing), segs: make([]int, fakeRing), srcs: make([]netip.AddrPort, fakeRing)}
	mem := make([]byte, fakeRing*2048)
	for i := range s.ring {
		s.ring[i] = mem[i*2048 : (i+1)*2048]
	}
	s.cond = sync.NewCond(&s.mu)
	n.mu.Lock()
	if n.sockets == nil {
		n.sockets = map[netip.AddrPort]*fakeSocket{}
	}
	n.sockets[addr] = s
	n.mu.Unlock()
	return s
}

func (s *fakeSocket) UDP() bool      { return s.udp }
func (s *fakeSocket) BatchSize() int { return 32 }

func (s *fakeSocket) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	return nil
}

// deliver queues a packet from src; a full ring drops it, as a full
// socket buffer does.
func (s *fakeSocket) deliver(src netip.AddrPort, pkt []byte) {
	s.deliverRun(src, 0, pkt)
}

// deliverRun queues pkt from src as one message; seg > 0 makes it a run of
// datagrams of seg bytes, as UDP GRO hands them over.
func (s *fakeSocket) deliverRun(src netip.AddrPort, seg int, pkt []byte) {
	if !s.udp {
		src = netip.AddrPortFrom(src.Addr(), 0)
	}
	s.mu.Lock()
	if s.count < fakeRing-64 { // the slots Receive handed out last stay untouched
		i := (s.head + s.count) % fakeRing
		s.lens[i] = copy(s.ring[i], pkt)
		s.segs[i] = seg
		s.srcs[i] = src
		s.count++
	}
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *fakeSocket) Receive(msgs []underlay.Message) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.count == 0 && !s.closed {
		s.cond.Wait()
	}
	if s.closed {
		return 0, os.ErrClosed
	}
	n := min(len(msgs), s.count)
	for k := 0; k < n; k++ {
		i := s.head
		msgs[k] = underlay.Message{Buf: s.ring[i][:s.lens[i]], Seg: s.segs[i], Src: s.srcs[i]}
		s.head = (s.head + 1) % fakeRing
		s.count--
	}
	return n, nil
}

func (s *fakeSocket) NewSender(peer netip.AddrPort, maxPkts int, fail func([]byte, syscall.Errno), noGSO func(syscall.Errno)) Sender {
	if !s.udp {
		peer = netip.AddrPortFrom(peer.Addr(), 0)
	}
	return &fakeSender{s: s, peer: peer, fail: fail}
}

type fakeSender struct {
	s    *fakeSocket
	peer netip.AddrPort
	fail func([]byte, syscall.Errno)
}

func (f *fakeSender) Send(pkts [][]byte) error {
	f.s.net.mu.Lock()
	to := f.s.net.sockets[f.peer]
	f.s.net.mu.Unlock()
	for _, p := range pkts {
		if to == nil {
			f.fail(p, syscall.ECONNREFUSED)
			continue
		}
		to.deliver(f.s.addr, p)
	}
	return nil
}
