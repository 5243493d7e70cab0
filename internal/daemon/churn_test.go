//go:build linux

package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/control"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/testalloc"
	"github.com/l2tap/l2tap/internal/underlay"
)

// The fakes below let the process's own bookkeeping (process.start and
// process.remove, which a reload runs, and the totals) run without root:
// an endpoint holding as much memory as a TAP does, and a socket that
// receives nothing and sends nowhere.

// churnEndpoint stands in for a session's TAP: it holds a buffer as a
// TAP holds its reader's and coalescer's (64 KiB each; 32 KiB here, to
// keep the test light), so that a session kept after its removal shows in
// the heap.
type churnEndpoint struct {
	name   string
	buf    []byte
	closed chan struct{}
	once   sync.Once
}

func newChurnEndpoint(name string) *churnEndpoint {
	return &churnEndpoint{name: name, buf: make([]byte, 32<<10), closed: make(chan struct{})}
}

func (e *churnEndpoint) Name() string                { return e.name }
func (e *churnEndpoint) MTU() int                    { return 1500 }
func (e *churnEndpoint) Queues() int                 { return 1 }
func (e *churnEndpoint) ReadStats() (uint64, uint64) { return 0, 0 }
func (e *churnEndpoint) Close() error {
	e.once.Do(func() { close(e.closed) })
	return nil
}

func (e *churnEndpoint) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	<-e.closed
	return nil
}

func (e *churnEndpoint) Write(frames [][]byte) (int, int, int, error) {
	return 0, 0, 0, os.ErrClosed
}

// testProcess is a process as setup starts it: an engine, no socket,
// tunnel or session. The engine is closed at the end of the test.
func testProcess(t *testing.T) *process {
	p := &process{eng: engine.New(), sockets: map[socketKey]engine.Underlay{}, tunnels: map[tunnelKey]*engine.Tunnel{},
		live: map[sessionKey]*live{}, controls: map[*engine.Tunnel]*tunnelControl{}}
	t.Cleanup(func() { p.eng.Close() })
	return p
}

// staticTunnel adds to p the tunnel 192.0.2.1:1701 to 192.0.2.2:1701 over
// UDP, on a churnSocket, and returns its key and its engine tunnel.
func staticTunnel(p *process) (tunnelKey, *engine.Tunnel) {
	tk := tunnelKey{socketKey{udp: true, local: netip.MustParseAddr("192.0.2.1"), port: 1701}, netip.MustParseAddrPort("192.0.2.2:1701")}
	sock := &churnSocket{closed: make(chan struct{})}
	p.sockets[tk.sock] = sock
	tun := p.eng.AddTunnel(sock, tk.remote)
	p.tunnels[tk] = tun
	return tk, tun
}

// churnSocket is an underlay that receives nothing until closed.
type churnSocket struct {
	closed chan struct{}
	once   sync.Once
}

func (s *churnSocket) UDP() bool      { return true }
func (s *churnSocket) BatchSize() int { return 8 }
func (s *churnSocket) Receive(msgs []underlay.Message) (int, error) {
	<-s.closed
	return 0, os.ErrClosed
}
func (s *churnSocket) NewSender(peer netip.AddrPort, maxPkts int, fail func([]byte, syscall.Errno), noGSO func(syscall.Errno)) engine.Sender {
	return churnSender{}
}
func (s *churnSocket) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

type churnSender struct{}

func (churnSender) Send(pkts [][]byte) error { return nil }

// totalCounter returns the process's total of the counter name.
func totalCounter(p *process, name string) uint64 {
	for _, c := range p.totals() {
		if c.Name == name {
			return c.Value
		}
	}
	return 0
}

// quietLogs sends slog's default logger to io.Discard for the test.
func quietLogs(t *testing.T) {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
}

// TestReloadChurnReleases adds eight sessions beside a fixed one and
// removes them again, 500 times, through the calls a reload makes
// (process.start for the sessions prepared, process.remove for those the
// file no longer has). The live heap after a collection must come back
// within 1 MiB of where it was after the first round: nothing a removed
// session owned (its endpoint, its engine session) may stay reachable.
// Its counters must still count, folded into the totals.
func TestReloadChurnReleases(t *testing.T) {
	quietLogs(t)
	const rounds, churn = 500, 8
	p := testProcess(t)
	tk, tun := staticTunnel(p)

	add := func(id uint32) *live {
		l := &live{key: sessionKey{tk, id}, dev: newChurnEndpoint(fmt.Sprintf("churn%d", id)), tunnel: tun}
		l.sc.Header.TxSession, l.sc.Header.RxSession = id, id
		p.mu.Lock()
		p.pending = append(p.pending, l)
		p.mu.Unlock()
		return l
	}
	add(1)
	if n := len(p.start()); n != 1 {
		t.Fatalf("started %d sessions, want 1", n)
	}
	var counted uint64 // tx_packets the sessions were credited with
	round := func(int) {
		var ls []*live
		for i := uint32(0); i < churn; i++ {
			ls = append(ls, add(10+i))
		}
		if n := len(p.start()); n != churn {
			t.Fatalf("started %d sessions, want %d", n, churn)
		}
		for _, l := range ls {
			l.session.Stats.TxPackets.Add(3) // as if it had sent three frames
			counted += 3
			p.remove(l, "removed")
		}
	}
	if grew := testalloc.HeapGrowth(t, rounds, round); grew > 1<<20 {
		t.Errorf("live heap grew by %d KiB over %d rounds of %d sessions added and removed (more than 1 MiB): removed sessions are kept",
			grew>>10, rounds, churn)
	}
	if n := len(p.eng.Sessions()); n != 1 {
		t.Errorf("%d sessions left in the engine, want the fixed one", n)
	}
	if tx := totalCounter(p, "tx_packets"); tx != counted {
		t.Errorf("tx_packets total %d, want %d: the removed sessions' counters must stay in the totals", tx, counted)
	}
}

// churnCircuit stands in for a dynamic circuit's TAP, which outlives its
// sessions: closing a session's endpoint only pauses its reads.
type churnCircuit struct {
	churnEndpoint
	mu      sync.Mutex
	resumed chan struct{} // closed when reads pause
	carrier bool
}

func (c *churnCircuit) ResumeReads() {
	c.mu.Lock()
	c.resumed = make(chan struct{})
	c.mu.Unlock()
}

func (c *churnCircuit) PauseReads() {
	c.mu.Lock()
	select {
	case <-c.resumed:
	default:
		close(c.resumed)
	}
	c.mu.Unlock()
}

func (c *churnCircuit) SetCarrier(on bool) error {
	c.mu.Lock()
	c.carrier = on
	c.mu.Unlock()
	return nil
}

func (c *churnCircuit) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	c.mu.Lock()
	r := c.resumed
	c.mu.Unlock()
	<-r
	return nil
}

// TestDynamicChurnReleases brings the sessions of eight dynamic circuits up
// and down 500 times through the calls the control connection's events
// make (a session up after ICRQ/ICRP/ICCN, down on the peer's CDN): the
// live heap after a collection must come back within 1 MiB of where it
// was after the first round, and the sessions' counters must stay in the
// totals.
func TestDynamicChurnReleases(t *testing.T) {
	quietLogs(t)
	const rounds, circuits = 500, 8
	p := testProcess(t)
	remote := netip.MustParseAddrPort("192.0.2.2:1701")
	sock := &churnSocket{closed: make(chan struct{})}
	dt := &dynTunnel{proc: p, tunnel: p.eng.AddTunnel(sock, remote), name: remote.String()}
	dt.tc.Ends = config.TunnelEnds{UDP: true, Local: netip.MustParseAddr("192.0.2.1"), LocalPort: 1701, Remote: remote.Addr(), RemotePort: remote.Port()}
	p.dyn = append(p.dyn, dt)
	var pc control.PeerConfig
	pc.HostName = "a"
	for i := 0; i < circuits; i++ {
		pc.Circuits = append(pc.Circuits, control.Circuit{EndID: fmt.Sprintf("vm%d", i)})
		c := &churnCircuit{churnEndpoint: *newChurnEndpoint(fmt.Sprintf("dyn%d", i)), resumed: make(chan struct{})}
		dt.circuits = append(dt.circuits, &dynCircuit{sc: config.SessionConfig{Circuit: fmt.Sprintf("vm%d", i)}, dev: c, state: "negotiating"})
	}
	d, err := control.NewDynamic(pc, dt, control.Config{Send: func([]byte) error { return nil }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dt.control = d // for the totals' control counters
	var counted uint64
	id := uint32(100)
	round := func(int) {
		for _, c := range dt.circuits {
			id++
			dt.sessionUp(controlData(c.sc.Circuit, id))
			if c.session == nil {
				t.Fatalf("circuit %s: no session after sessionUp", c.sc.Circuit)
			}
			c.session.Stats.RxPackets.Add(5) // as if it had received five frames
			counted += 5
		}
		for _, c := range dt.circuits {
			dt.sessionDown(c.sc.Circuit, "the peer's CDN")
			if c.session != nil {
				t.Fatalf("circuit %s: session left after sessionDown", c.sc.Circuit)
			}
		}
	}
	if grew := testalloc.HeapGrowth(t, rounds, round); grew > 1<<20 {
		t.Errorf("live heap grew by %d KiB over %d rounds of %d dynamic sessions up and down (more than 1 MiB): ended sessions are kept",
			grew>>10, rounds, circuits)
	}
	if n := len(p.eng.Sessions()); n != 0 {
		t.Errorf("%d sessions left in the engine, want none", n)
	}
	if rx := totalCounter(p, "rx_packets"); rx != counted {
		t.Errorf("rx_packets total %d, want %d: ended sessions' counters must stay in the totals", rx, counted)
	}
}

// controlData is what the control connection hands over for a session of
// circuit endID with session ID id both ways and no cookie.
func controlData(endID string, id uint32) control.DataConfig {
	return control.DataConfig{EndID: endID, TxSession: id, RxSession: id}
}
