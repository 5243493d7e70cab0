// Package engine moves frames between session endpoints and the underlay
// sockets that carry them, for any number of tunnels and sessions. It owns
// the data path's stages: endpoint read → encapsulate → batched send, one
// loop per endpoint queue; batched receive → verify → demultiplex by
// session ID → endpoint write, one loop per socket. It counts every packet
// by session, and by tunnel what belongs to no session. Endpoints (a TAP,
// a VM's socket) and sockets come in through the two interfaces below, so
// the engine runs as well against in-memory fakes.
package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/offload"
	"github.com/l2tap/l2tap/internal/underlay"
)

// Endpoint is where a session's Ethernet frames come from and go to.
type Endpoint interface {
	// Name names the endpoint in logs and status (a TAP's name).
	Name() string
	// Queues is the number of queues ReadLoop serves, each in a loop of
	// its own.
	Queues() int
	// ReadLoop reads queue q until the endpoint is closed (it then returns
	// nil) and hands frames to send in batches, each frame packed into
	// arena after headroom bytes, pkts[i] being frame i with its headroom
	// in front (see tap.Device.ReadLoop). Frames it drops for being
	// malformed go to dropped: an error wrapping an l2tpv3.Reason is
	// counted under that reason, any other as an offload error. It
	// returns send's error if send fails.
	ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error
	// Write delivers frames in order, and returns the frames and bytes
	// taken, how many of them were merged into an earlier frame, and the
	// first error of those refused; os.ErrClosed once closed. One
	// goroutine writes at a time.
	Write(frames [][]byte) (written, merged, bytes int, err error)
	// ReadStats returns the offloaded reads cut into frames and those
	// dropped as malformed.
	ReadStats() (superframes, offloadErrors uint64)
	// Close ends ReadLoop and Write.
	Close() error
}

// Underlay is a socket carrying L2TPv3 packets (see underlay.Socket).
type Underlay interface {
	// UDP reports whether packets carry the UDP-only T/Ver word.
	UDP() bool
	// BatchSize is the most messages Receive fills at once.
	BatchSize() int
	// Receive waits for packets and fills msgs; os.ErrClosed once closed.
	// One goroutine receives.
	Receive(msgs []underlay.Message) (int, error)
	// NewSender makes a Sender of batches of up to maxPkts packets to peer.
	NewSender(peer netip.AddrPort, maxPkts int, fail func(pkt []byte, err syscall.Errno), noGSO func(err syscall.Errno)) Sender
	// Close ends Receive and every Sender.
	Close() error
}

// Sender sends a batch of packets; it fails only once the socket is
// closed, reporting refused packets to the fail function it was made with.
type Sender interface {
	Send(pkts [][]byte) error
}

// Engine runs tunnels and their sessions. Its methods may be called from
// any goroutine.
type Engine struct {
	mu      sync.Mutex
	sockets []*socket
	tunnels []*Tunnel
	// failures waits for TakeFailures; failed has a token while it is
	// not empty. However many sessions fail at once, none is lost.
	failures []Failure
	failed   chan struct{}
	closed   bool
}

// Failure is a session whose endpoint failed (a TAP deleted under it, say):
// the engine has closed the endpoint; frames for it are counted as refused
// until RemoveSession.
type Failure struct {
	Session *Session
	Err     error
}

// New returns an engine with nothing to run.
func New() *Engine {
	return &Engine{failed: make(chan struct{}, 1)}
}

// Failed has a token when sessions have stopped on an error of their
// endpoint; TakeFailures says which.
func (e *Engine) Failed() <-chan struct{} { return e.failed }

// TakeFailures returns the sessions that failed since it was last called,
// each once, in the order they failed.
func (e *Engine) TakeFailures() []Failure {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.failures
	e.failures = nil
	return f
}

// socket is an underlay shared by the tunnels on it, and its receive loop.
type socket struct {
	u        Underlay
	udp      bool
	sessions atomic.Pointer[map[uint32]*Session] // by receive session ID; replaced, never changed
	tunnels  atomic.Pointer[[]*Tunnel]
	running  bool          // the receive loop was started; guarded by the engine's mutex
	done     chan struct{} // closed when the receive loop has ended
}

// AddTunnel starts carrying a tunnel to remote over u (a socket may carry
// several tunnels: one per peer). The engine owns u from now on and
// closes it in Close. For IP encapsulation the port of remote is ignored.
func (e *Engine) AddTunnel(u Underlay, remote netip.AddrPort) *Tunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s *socket
	for _, x := range e.sockets {
		if x.u == u {
			s = x
		}
	}
	if s == nil {
		s = &socket{u: u, udp: u.UDP(), done: make(chan struct{})}
		s.sessions.Store(&map[uint32]*Session{})
		s.tunnels.Store(&[]*Tunnel{})
		e.sockets = append(e.sockets, s)
	}
	if !s.udp {
		remote = netip.AddrPortFrom(remote.Addr(), 0)
	}
	t := &Tunnel{Remote: remote, sock: s, Stats: &TunnelStats{}, eng: e,
		name: underlay.AddrPortString(remote.Addr(), remote.Port(), u.UDP())}
	ts := append(append([]*Tunnel{}, *s.tunnels.Load()...), t)
	s.tunnels.Store(&ts)
	e.tunnels = append(e.tunnels, t)
	return t
}

// SessionConfig is what the engine needs of a session.
type SessionConfig struct {
	Header   l2tpv3.Header
	SeqCheck bool // drop out-of-order packets instead of delivering them
	// MSSClamp lowers the MSS option of TCP SYNs crossing the pseudowire,
	// both ways: frames read from the endpoint before they are sent,
	// frames received before they are written to the endpoint. Counted as
	// tx_mss_clamped and rx_mss_clamped. Its zero value clamps nothing and
	// costs nothing.
	MSSClamp offload.MSSClamp
	// Capture, when not nil, is shown every packet sent and every packet
	// received that passed verification.
	Capture Capture
}

// Capture records a session's packets (see internal/pcap). Packet is
// called from the session's send loops and its socket's receive loop, in
// the data path: it must neither block nor allocate, and must not keep
// pkt.
type Capture interface {
	// Packet is an L2TPv3 packet (the UDP payload, or the IP payload
	// after the IP header), sent or received, whose Ethernet frame starts
	// at pkt[frameAt:].
	Packet(received bool, pkt []byte, frameAt int)
	// Dropped returns the packets not captured, for the pcap_dropped
	// counter.
	Dropped() uint64
}

// AddSession starts a session on t with endpoint ep, which the engine
// owns from now on. Its receive session ID must be free on t's socket.
func (e *Engine) AddSession(t *Tunnel, c SessionConfig, ep Endpoint) (*Session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, os.ErrClosed
	}
	m := *t.sock.sessions.Load()
	if old, ok := m[c.Header.RxSession]; ok {
		return nil, fmt.Errorf("receive session %d is taken on this socket (by %s)", c.Header.RxSession, old.ep.Name())
	}
	s := newSession(t, c, ep)
	nm := make(map[uint32]*Session, len(m)+1)
	for k, v := range m {
		nm[k] = v
	}
	nm[c.Header.RxSession] = s
	t.sock.sessions.Store(&nm)
	t.sessions = append(t.sessions, s)
	if t.peerDown.Load() {
		s.applyCarrier(false)
	}
	s.start(e)
	// Packets that arrived before the first session wait in the
	// socket's buffer for it, rather than count as unknown.
	t.sock.listen()
	return s, nil
}

// listen starts the socket's receive loop unless it runs; the engine's
// mutex is held.
func (s *socket) listen() {
	if s.running {
		return
	}
	s.running = true
	go func() {
		defer close(s.done)
		s.receiveLoop()
	}()
}

// Listen starts the receive loop of t's socket before any session does:
// a tunnel whose sessions its control handler negotiates has none at
// first, and needs the peer's control messages.
func (t *Tunnel) Listen() {
	t.eng.mu.Lock()
	defer t.eng.mu.Unlock()
	if !t.eng.closed {
		t.sock.listen()
	}
}

// RemoveSession stops s, closes its endpoint and waits for its loops.
func (e *Engine) RemoveSession(s *Session) {
	e.mu.Lock()
	e.unlink(s)
	e.mu.Unlock()
	s.stop()
}

// unlink takes s out of its socket's and tunnel's tables; e.mu is held.
func (e *Engine) unlink(s *Session) {
	t := s.tunnel
	m := *t.sock.sessions.Load()
	if m[s.cfg.Header.RxSession] != s {
		return
	}
	nm := make(map[uint32]*Session, len(m))
	for k, v := range m {
		if v != s {
			nm[k] = v
		}
	}
	t.sock.sessions.Store(&nm)
	for i, x := range t.sessions {
		if x == s {
			t.sessions = append(t.sessions[:i:i], t.sessions[i+1:]...)
			break
		}
	}
}

// fail stops a session whose send loop ended with err and reports it. The
// session stays in the tables, so that what its peer still sends is
// counted as refused by its endpoint rather than as an unknown session;
// RemoveSession takes it out.
// A session with several queues is reported once, for the first loop that
// fails.
func (e *Engine) fail(s *Session, err error) {
	e.mu.Lock()
	report := !e.closed && !s.failed
	s.failed = true
	if report {
		e.failures = append(e.failures, Failure{s, err})
	}
	e.mu.Unlock()
	s.ep.Close()
	if report {
		select {
		case e.failed <- struct{}{}:
		default: // a token is already waiting
		}
	}
}

// Tunnels returns the tunnels, in the order they were added.
func (e *Engine) Tunnels() []*Tunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Tunnel{}, e.tunnels...)
}

// Sessions returns the sessions of every tunnel.
func (e *Engine) Sessions() []*Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ss []*Session
	for _, t := range e.tunnels {
		ss = append(ss, t.sessions...)
	}
	return ss
}

// Close stops everything and waits for all loops to end: the sockets
// first, so that no frame is handed to an endpoint that is closing, then
// every session's endpoint.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	var sessions []*Session
	for _, t := range e.tunnels {
		sessions = append(sessions, t.sessions...)
	}
	var sockets, running []*socket
	for _, s := range e.sockets {
		sockets = append(sockets, s)
		if s.running {
			running = append(running, s)
		}
	}
	e.mu.Unlock()
	for _, s := range sockets {
		s.u.Close()
	}
	for _, s := range running {
		<-s.done
	}
	// Closing a TAP waits for the kernel (an RCU grace period, 15 to 25 ms
	// measured): closed side by side, a thousand take that once, not a
	// thousand times.
	errs := make([]error, len(sessions))
	var closing sync.WaitGroup
	for i, s := range sessions {
		closing.Add(1)
		go func() {
			defer closing.Done()
			errs[i] = s.ep.Close()
			s.wg.Wait()
		}()
	}
	closing.Wait()
	for _, x := range errs {
		if x != nil && !errors.Is(x, os.ErrClosed) {
			return x
		}
	}
	return nil
}
