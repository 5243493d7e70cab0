package daemon

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/control"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/pcap"
	"github.com/l2tap/l2tap/internal/status"
	"github.com/l2tap/l2tap/internal/underlay"
)

// A dynamic tunnel's TAPs are made at setup, with their carrier off; the
// control connection (internal/control.Dynamic, handed the peer's control
// messages by the engine) negotiates a session per circuit, and only then
// is the session added to the engine, which allocates nothing but memory
// and starts goroutines, so it works under the seccomp filter. When the
// session ends (CDN, StopCCN, the peer silent through every
// retransmission of a HELLO) it is removed from the engine and the TAP's
// carrier goes off again; the TAP stays for the next session.

// dynTunnel is a running dynamic tunnel.
type dynTunnel struct {
	proc     *process
	tc       config.TunnelConfig // its Sessions field is not used
	tunnel   *engine.Tunnel
	control  *control.Dynamic // the control connection and its sessions
	circuits []*dynCircuit
	name     string // the peer, as log lines name tunnels

	// Counters (see dynCounterNames).
	connections, sessionsUp, sessionsDown, refused, hellos atomic.Uint64

	mu       sync.Mutex // guards the circuits' s, state, and what follows
	queue    []func()   // events for the worker, in order
	wake     chan struct{}
	done     chan struct{} // closed when the worker has ended
	stopping bool
	helloEnd chan struct{}

	downLog    logLimit    // "control connection down" lines (the worker's)
	authMu     sync.Mutex  // guards authLog
	authLog    logLimit    // "failed authentication" lines
	restarting atomic.Bool // an initiator's new request is due
	// ended is set by the worker when it removed a session, so that once
	// its batch of events is done it hands the memory back (see work).
	ended bool
}

// dynCircuit is one circuit of a dynamic tunnel: its TAP always, its
// engine session while negotiated.
type dynCircuit struct {
	sc      config.SessionConfig
	auto    int // the MTU that fits the path with sc.Header (AutoMTU)
	dev     CircuitTAP
	cap     *pcap.Writer
	session *engine.Session // nil while no session is up
	state   string          // "negotiating", "up" or "down: REASON"
	data    control.DataConfig
}

// dynEndpoint is a dynamic session's TAP as the engine sees it: closing it
// only ends its read loops (the session is removed), the TAP stays.
type dynEndpoint struct{ CircuitTAP }

func (e dynEndpoint) Close() error { e.PauseReads(); return nil }

// prepareDynamic opens what dynamic tunnel tc needs: its socket if no
// tunnel opened it yet, a TAP per circuit (carrier off), the engine's
// tunnel and its control connection, not yet started.
func (p *process) prepareDynamic(cfg *config.Config, tc *config.TunnelConfig) error {
	sk := socketKeyOf(tc.Ends)
	s := p.sockets[sk]
	if s == nil {
		var err error
		if s, err = p.open.Socket(tc.Ends, socketOffload(cfg, sk), cfg.PacketPath); err != nil {
			return err
		}
		p.sockets[sk] = s
	}
	// The control plane formats times in local time (a lost peer's
	// log line): load the zone now, as after lockDown the seccomp filter
	// forbids opening /etc/localtime.
	_ = time.Local.String()
	dt := &dynTunnel{proc: p, tc: *tc, name: tc.Ends.PeerName(), wake: make(chan struct{}, 1), done: make(chan struct{}), helloEnd: make(chan struct{})}
	dt.tc.Sessions = nil
	p.dyn = append(p.dyn, dt) // before the TAPs, so that a failure closes them
	dc := tc.Dynamic
	pc := control.PeerConfig{HostName: dc.HostName, PeerName: dc.PeerName, Secret: dc.Secret, Digest: dc.Digest, Initiator: dc.Initiator,
		RouterID: dc.AnnouncedRouterID(tc.Ends.Local)}
	for i := range tc.Sessions {
		sc := tc.Sessions[i]
		tcfg, auto, err := sessionTAP(p.open, tc, &sc)
		if err != nil {
			return err
		}
		capture, err := openCapture(cfg, tc, &sc)
		if err != nil {
			return err
		}
		dev, err := p.open.CircuitTAP(tcfg)
		if err != nil {
			if capture != nil {
				capture.Close()
			}
			return err
		}
		dt.circuits = append(dt.circuits, &dynCircuit{sc: sc, auto: auto, dev: dev, cap: capture, state: "negotiating"})
		if err := dev.SetCarrier(false); err != nil {
			return err
		}
		ci := control.Circuit{EndID: sc.Circuit, Initiate: dc.Initiator}
		if sc.Header.Sublayer != l2tpv3.SublayerNone {
			ci.Sublayer = l2tpv3.L2SublayerDefault
		}
		pc.Circuits = append(pc.Circuits, ci)
	}
	key := tunnelKey{sk, remoteOf(tc.Ends)}
	t := p.tunnels[key]
	if t == nil {
		t = p.eng.AddTunnel(s, key.remote)
		p.tunnels[key] = t
	}
	dt.tunnel = t
	d, err := control.NewDynamic(pc, dt, dynTransport(t.SendControl, tc.Dynamic.Hello), nil)
	if err != nil {
		return fmt.Errorf("tunnel to %s: %w", dt.name, err)
	}
	dt.control = d
	t.SetControl(dt)
	return nil
}

// Control takes a control message from the peer (engine.ControlHandler).
func (dt *dynTunnel) Control(msg []byte) {
	dt.mu.Lock()
	stopping := dt.stopping
	dt.mu.Unlock()
	if stopping && len(msg) >= l2tpv3.ControlHeaderLen && binary.BigEndian.Uint32(msg[4:]) == 0 {
		return // no new connection while stopping
	}
	before := dt.control.Stats.AuthFailed.Load()
	dt.control.Input(msg)
	if n := dt.control.Stats.AuthFailed.Load(); n != before {
		dt.authMu.Lock()
		held, ok := dt.authLog.allow(time.Now())
		dt.authMu.Unlock()
		if ok {
			// One line a second at most: a flood does not flood the log.
			slog.Warn("control message failed authentication (wrong or missing message digest, or the other algorithm: check -secret-file and -digest on both ends); dropped",
				"tunnel", dt.name, "reason", "control_auth_failed", "count", held, "total", n)
		}
	}
}

// startDynamic starts every dynamic tunnel's control connection, and
// returns the ready line attributes of their circuits.
func (p *process) startDynamic() [][]any {
	var ready [][]any
	for _, dt := range p.dyn {
		dt.tunnel.Listen()
		go dt.work()
		go dt.helloLoop()
		if err := dt.control.Start(); err != nil {
			slog.Warn("control connection not started", "tunnel", dt.name, "err", err)
		}
		for _, c := range dt.circuits {
			ready = append(ready, dt.attrs(c, slog.String("session", "negotiating")))
		}
	}
	return ready
}

// stopDynamic clears every dynamic connection with a StopCCN, waiting up
// to a second for the peers' acknowledgements, and stops the workers.
// The engine closes next, then closeDynamic.
func (p *process) stopDynamic() {
	var wg sync.WaitGroup
	for _, dt := range p.dyn {
		dt.mu.Lock()
		dt.stopping = true
		dt.mu.Unlock()
		if dt.control == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			close(dt.helloEnd)
			dt.control.StopWait("l2tap stopping", time.Second)
			dt.tunnel.SetControl(nil)
			dt.post(nil) // the worker's last event
			<-dt.done
		}()
	}
	wg.Wait()
}

// closeDynamic closes the TAPs and captures of the dynamic circuits, once
// the engine is closed (or setup failed).
func (p *process) closeDynamic() {
	for _, dt := range p.dyn {
		for _, c := range dt.circuits {
			c.dev.Close()
			if c.cap != nil {
				c.cap.Close()
				c.cap = nil
			}
		}
	}
}

// post queues an event for the worker; nil ends it.
func (dt *dynTunnel) post(f func()) {
	dt.mu.Lock()
	dt.queue = append(dt.queue, f)
	dt.mu.Unlock()
	select {
	case dt.wake <- struct{}{}:
	default:
	}
}

// work runs the events of the control connection one at a time, in order,
// away from the socket's receive loop and the transport's timers, which
// call the Events methods below with the connection locked.
func (dt *dynTunnel) work() {
	defer close(dt.done)
	for range dt.wake {
		dt.mu.Lock()
		q := dt.queue
		dt.queue = nil
		dt.mu.Unlock()
		for _, f := range q {
			if f == nil {
				return
			}
			f()
		}
		if dt.ended {
			// What the sessions that ended held (their loops' batches)
			// is garbage now: give it back to the system once for the
			// whole batch (a peer that restarts ends every circuit's
			// session at once), as a reload does.
			dt.ended = false
			debug.FreeOSMemory()
		}
	}
}

// helloLoop sends HELLOs on the established connection when it was quiet
// for the -hello interval (60 s by default).
func (dt *dynTunnel) helloLoop() {
	every := time.Second
	if h := dt.tc.Dynamic.Hello; h < 2*every {
		every = h / 2
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-dt.helloEnd:
			return
		case <-tick.C:
			if dt.control.Hello(dt.tc.Dynamic.Hello) {
				dt.hellos.Add(1)
			}
		}
	}
}

func (dt *dynTunnel) circuit(endID string) *dynCircuit {
	for _, c := range dt.circuits {
		if c.sc.Circuit == endID {
			return c
		}
	}
	return nil
}

// attrs describes circuit c for log lines, as the ready lines of static
// sessions do, with the circuit's name.
func (dt *dynTunnel) attrs(c *dynCircuit, more ...slog.Attr) []any {
	e := dt.tc.Ends
	enc := "ip"
	if e.UDP {
		enc = "udp"
	}
	a := []any{slog.String("tap", c.dev.Name()), slog.Int("mtu", c.dev.MTU()), slog.String("encap", enc),
		slog.String("local", underlay.AddrPortString(e.Local, e.LocalPort, e.UDP)), slog.String("remote", dt.name),
		slog.String("circuit", c.sc.Circuit)}
	for _, m := range more {
		a = append(a, m)
	}
	return append(a, slog.String("tunnel", dt.name))
}

// The control.Events of the connection: each queues its work.

func (dt *dynTunnel) ConnUp(peer string) {
	dt.connections.Add(1)
	st := dt.control.Conn
	local, remote := st.IDs()
	dt.post(func() {
		slog.Info("control connection established", "tunnel", dt.name, "host", peer,
			"connection", fmt.Sprintf("%d/%d", remote, local))
	})
}

func (dt *dynTunnel) ConnDown(reason string) {
	dt.post(func() {
		dt.mu.Lock()
		stopping := dt.stopping
		dt.mu.Unlock()
		if stopping {
			return
		}
		if held, ok := dt.downLog.allow(time.Now()); ok {
			slog.Warn("control connection down", "tunnel", dt.name, "reason", reason, "count", held)
		}
		if dt.tc.Dynamic.Initiator && dt.restarting.CompareAndSwap(false, true) {
			// Ask again after a pause (one request pending at most);
			// nothing happens if the peer's request came first.
			time.AfterFunc(time.Second, func() {
				dt.restarting.Store(false)
				dt.mu.Lock()
				stopping := dt.stopping
				dt.mu.Unlock()
				if !stopping {
					dt.control.Start()
				}
			})
		}
	})
}

// logLimit lets through one log line of a kind per second and counts the
// lines it held back, as the engine's logs do. The worker alone uses it.
type logLimit struct {
	last time.Time
	held uint64
}

// allow reports whether a line may be logged at now and, if so, how many
// were held back since the last one.
func (l *logLimit) allow(now time.Time) (held uint64, ok bool) {
	if !l.last.IsZero() && now.Sub(l.last) < time.Second {
		l.held++
		return 0, false
	}
	held, l.held, l.last = l.held, 0, now
	return held, true
}

func (dt *dynTunnel) SessionUp(d control.DataConfig) {
	dt.post(func() { dt.sessionUp(d) })
}

func (dt *dynTunnel) SessionDown(endID, reason string) {
	dt.post(func() { dt.sessionDown(endID, reason) })
}

func (dt *dynTunnel) CircuitStatus(endID string, active bool) {
	dt.post(func() {
		slog.Info("circuit status from the peer", "tunnel", dt.name, "circuit", endID, "active", active)
	})
}

func (dt *dynTunnel) SessionRefused(endID, reason string) {
	dt.refused.Add(1)
	dt.post(func() {
		slog.Warn("session request refused", "tunnel", dt.name, "circuit", endID, "reason", reason)
	})
}

// sessionUp adds the negotiated session of a circuit to the engine and
// turns its TAP's carrier on.
func (dt *dynTunnel) sessionUp(d control.DataConfig) {
	c := dt.circuit(d.EndID)
	if c == nil {
		return
	}
	if c.session != nil {
		dt.removeSession(c)
	}
	h := c.sc.Header
	h.TxSession, h.RxSession = d.TxSession, d.RxSession
	h.TxCookie, h.RxCookie = d.TxCookie, d.RxCookie
	h.TxCookieLen, h.RxCookieLen = d.TxCookieLen, d.RxCookieLen
	var why string
	switch {
	case h.Len() > c.sc.Header.Len():
		// The TAP's MTU was set for the largest header; the control
		// plane never negotiates more than 8-byte cookies.
		why = fmt.Sprintf("cookies of %d and %d bytes exceed the %d-byte header the MTU was set for", d.TxCookieLen, d.RxCookieLen, c.sc.Header.Len())
	case d.TxSublayer != d.RxSublayer:
		why = fmt.Sprintf("L2-Specific Sublayer %d one way and %d the other", d.TxSublayer, d.RxSublayer)
	}
	if why != "" {
		slog.Error("closing the session", dt.attrs(c, slog.String("reason", why))...)
		dt.control.CloseSession(d.EndID)
		return
	}
	// The negotiated cookies may make the header longer or shorter than
	// the one the MTU was computed with.
	payload := c.auto + c.sc.Header.Len() - h.Len()
	ec := engine.SessionConfig{Header: h, SeqCheck: c.sc.SeqCheck, MSSClamp: c.sc.MSSClamp.Resolve(payload, c.dev.MTU())}
	if c.cap != nil {
		ec.Capture = c.cap
	}
	c.dev.ResumeReads()
	s, err := dt.proc.eng.AddSession(dt.tunnel, ec, dynEndpoint{c.dev})
	if err != nil {
		slog.Error("closing the session", dt.attrs(c, slog.Any("err", err))...)
		dt.control.CloseSession(d.EndID)
		return
	}
	if err := c.dev.SetCarrier(true); err != nil {
		slog.Warn("carrier not set", dt.attrs(c, slog.Any("err", err))...)
	}
	dt.mu.Lock()
	c.session, c.state, c.data = s, "up", d
	dt.mu.Unlock()
	dt.proc.mu.Lock()
	dt.proc.started = append(dt.proc.started, s)
	dt.proc.mu.Unlock()
	dt.sessionsUp.Add(1)
	slog.Info("session up", dt.attrs(c, slog.String("session", fmt.Sprintf("%d/%d", h.TxSession, h.RxSession)),
		slog.String("cookie", cookieSizes(&h)), slog.String("sublayer", fmt.Sprint(h.Sublayer)))...)
}

// sessionDown removes a circuit's session and turns its carrier off.
func (dt *dynTunnel) sessionDown(endID, reason string) {
	c := dt.circuit(endID)
	if c == nil {
		return
	}
	was := c.session != nil
	dt.removeSession(c)
	dt.mu.Lock()
	c.state = "down: " + reason
	dt.mu.Unlock()
	if was {
		dt.sessionsDown.Add(1)
		slog.Warn("session down; carrier off", dt.attrs(c, slog.String("reason", reason))...)
	} else {
		slog.Warn("session not set up", dt.attrs(c, slog.String("reason", reason))...)
	}
}

func (dt *dynTunnel) removeSession(c *dynCircuit) {
	if c.session == nil {
		return
	}
	if err := c.dev.SetCarrier(false); err != nil {
		slog.Warn("carrier not set", dt.attrs(c, slog.Any("err", err))...)
	}
	dt.proc.eng.RemoveSession(c.session)
	dt.ended = true
	dt.proc.mu.Lock()
	dt.proc.retire(c.session)
	dt.proc.mu.Unlock()
	dt.mu.Lock()
	c.session = nil
	dt.mu.Unlock()
}

// dynCounterNames are the counters of dynamic tunnels, zero on the others.
var dynCounterNames = []string{"control_connections", "control_sessions_up", "control_sessions_down",
	"control_sessions_refused", "control_auth_failed", "control_strangers", "control_not_ours", "control_rate_limited"}

// counters returns dt's counters in the order of dynCounterNames.
func (dt *dynTunnel) counters() []uint64 {
	if dt == nil {
		return make([]uint64, len(dynCounterNames))
	}
	return []uint64{dt.connections.Load(), dt.sessionsUp.Load(), dt.sessionsDown.Load(),
		dt.refused.Load(), dt.control.Stats.AuthFailed.Load(), dt.control.Stats.Stranger.Load(), dt.control.Stats.NotOurs.Load(),
		dt.control.Stats.RateLimited.Load()}
}

// dynFor returns the dynamic tunnel on engine tunnel t, or nil.
func (p *process) dynFor(t *engine.Tunnel) *dynTunnel {
	for _, dt := range p.dyn {
		if dt.tunnel == t {
			return dt
		}
	}
	return nil
}

// status describes the connection and the circuits for l2tap show.
func (dt *dynTunnel) status(st *status.Tunnel) {
	cs := dt.control.Status()
	st.Connection = fmt.Sprintf("%s, connection %d, peer's %d", cs.State, cs.LocalID, cs.PeerID)
	if cs.PeerName != "" {
		st.Connection += fmt.Sprintf(", peer host %q", cs.PeerName)
	}
	dt.mu.Lock()
	defer dt.mu.Unlock()
	for _, c := range dt.circuits {
		ci := status.Circuit{Name: c.sc.Circuit, TAP: c.dev.Name(), State: c.state}
		if c.session != nil {
			ci.TxSession, ci.RxSession = c.data.TxSession, c.data.RxSession
		}
		st.Circuits = append(st.Circuits, ci)
	}
}

// dynTransport is the transport template of a dynamic connection: RFC 3931's
// retransmission from 1 s doubling to 8 s, but never waiting longer than
// the HELLO interval, so that a short -hello finds a dead peer as quickly
// as a static tunnel's keepalive does (within -hello times the retries and
// one interval more).
func dynTransport(send func([]byte) error, hello time.Duration) control.Config {
	c := control.Config{Send: send}
	if hello > 0 && hello < control.DefaultMaxTimeout {
		c.InitialTimeout = min(control.DefaultInitialTimeout, hello)
		c.MaxTimeout = hello
	}
	return c
}
