package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/status"
	"github.com/l2tap/l2tap/internal/tap"
	"github.com/l2tap/l2tap/internal/tune"
	"github.com/l2tap/l2tap/internal/underlay"
	"golang.org/x/sys/unix"
)

// Run opens every tunnel and session of cfg and moves frames until SIGINT
// or SIGTERM, then prints the counters to stdout and removes what it
// created. A session whose endpoint fails (its TAP deleted) is stopped and
// logged; when none is left, Run returns that error. On a setup error
// nothing is left behind.
func Run(cfg *Config) error {
	p, err := setUp(cfg)
	if err != nil {
		return err
	}
	defer p.eng.Close()

	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if cfg.Batch {
		if err := tune.SetBatchPolicy(); err != nil {
			log.Printf("%v: staying with the default scheduling policy", err)
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	// l2tap show and -metrics: snapshots of the engine, taken when asked.
	stopObservers, err := startObservers(cfg, p.snapshot)
	if err != nil {
		return err
	}
	defer stopObservers()

	if err := lockDown(cfg, p.devs); err != nil { // setup ends here
		return err
	}
	p.start()
	stopGov := make(chan struct{})
	defer close(stopGov)
	loops := len(p.sockets)
	for _, d := range p.devs {
		loops += d.Queues()
	}
	if p.gov = tune.NewGovernor(loops, p.bytes); p.gov != nil {
		go p.gov.Run(stopGov)
	}
	for _, s := range p.eng.Sessions() {
		d := s.Endpoint().(tapEndpoint).Device
		log.Printf("ready tap=%s mtu=%d %s", d.Name, d.MTU, describe(p.tunnelOf[s.Tunnel()], p.sessionOf[s]))
	}

	var runErr error
	live := len(p.devs)
wait:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				p.writeCounters(os.Stdout)
				// On stderr, so that nothing parsing the counters takes it for one.
				log.Printf("goroutines %d", runtime.NumGoroutine())
				continue
			}
			break wait
		case f := <-p.eng.Failed():
			live--
			name := f.Session.Endpoint().Name()
			if errors.Is(f.Err, unix.EBADFD) {
				runErr = fmt.Errorf("TAP %s was deleted while in use (%v)", name, f.Err)
			} else {
				runErr = fmt.Errorf("session of %s stopped: %w", name, f.Err)
			}
			if live > 0 {
				log.Printf("%v; %d sessions go on", runErr, live)
				continue
			}
			break wait
		}
	}
	p.eng.Close()
	p.writeCounters(os.Stdout)
	if runErr != nil {
		// main exits 1 on this error, which lets a supervisor (systemd's
		// Restart=on-failure) start l2tap again.
		return fmt.Errorf("%v: stopping with exit status 1, counters on stdout", runErr)
	}
	return nil
}

// process is what Run set up: the engine with its sockets and sessions,
// and what each session was made from.
type process struct {
	eng       *engine.Engine
	sockets   map[socketKey]*socketUnderlay
	devs      []*tap.Device // in the order of the sessions
	pending   []pendingSession
	tunnelOf  map[*engine.Tunnel]*TunnelConfig
	sessionOf map[*engine.Session]*SessionConfig
	mu        sync.Mutex        // guards started and pending once observers run
	started   []*engine.Session // every session started, stopped ones too, for the totals
	gov       *tune.Governor
}

// pendingSession is a session set up but not yet started.
type pendingSession struct {
	t   *engine.Tunnel
	tc  *TunnelConfig
	sc  *SessionConfig
	dev *tap.Device
}

// setUp opens every socket and TAP of cfg; on error it closes what it
// opened.
func setUp(cfg *Config) (_ *process, err error) {
	p := &process{
		eng:       engine.New(),
		sockets:   map[socketKey]*socketUnderlay{},
		tunnelOf:  map[*engine.Tunnel]*TunnelConfig{},
		sessionOf: map[*engine.Session]*SessionConfig{},
	}
	defer func() {
		if err != nil {
			for _, ps := range p.pending {
				ps.dev.Close()
			}
			for _, s := range p.sockets {
				s.Close()
			}
		}
	}()
	for i := range cfg.Tunnels {
		tc := &cfg.Tunnels[i]
		key := tc.Endpoint.socketKey()
		s := p.sockets[key]
		if s == nil {
			if s, err = openSocket(tc.Endpoint, socketOffload(cfg, key)); err != nil {
				return nil, err
			}
			p.sockets[key] = s
		}
		var t *engine.Tunnel
		for j := range tc.Sessions {
			sc := &tc.Sessions[j]
			auto, err := AutoMTU(tc.Endpoint, &sc.Header)
			if err != nil {
				return nil, err
			}
			tcfg := sc.TAP
			if tcfg.MTU == 0 {
				tcfg.MTU = auto
			} else if tcfg.MTU > auto {
				log.Printf("-mtu %d exceeds the %d that fits the path to %s: larger frames are fragmented on the underlay", tcfg.MTU, auto, tc.Endpoint.Remote)
			}
			tcfg.CoalesceUDP = sc.CoalesceUDP
			dev, err := openTAP(tcfg)
			if err != nil {
				return nil, err
			}
			if t == nil {
				t = p.eng.AddTunnel(s, tc.Endpoint.remote())
				p.tunnelOf[t] = tc
			}
			p.pending = append(p.pending, pendingSession{t, tc, sc, dev})
			p.devs = append(p.devs, dev)
		}
	}
	return p, nil
}

// socketOffload reports whether any session on the socket key names asks
// for offloads.
func socketOffload(cfg *Config, key socketKey) bool {
	for _, tc := range cfg.Tunnels {
		if tc.Endpoint.socketKey() != key {
			continue
		}
		for _, sc := range tc.Sessions {
			if sc.Offload {
				return true
			}
		}
	}
	return false
}

// start hands every session set up to the engine, which starts its loops.
func (p *process) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range p.pending {
		s, err := p.eng.AddSession(ps.t, engine.SessionConfig{Header: ps.sc.Header, SeqCheck: ps.sc.SeqCheck}, tapEndpoint{ps.dev})
		if err != nil {
			// The configuration checks forbid two sessions with one
			// receive ID on a socket; say so if one slips through.
			log.Printf("%s: %v", ps.dev.Name, err)
			ps.dev.Close()
			continue
		}
		p.sessionOf[s] = ps.sc
		p.started = append(p.started, s)
	}
	p.pending = nil
}

// tapEndpoint is a tap.Device as the engine sees it.
type tapEndpoint struct{ *tap.Device }

func (t tapEndpoint) Name() string { return t.Device.Name }

// bytes returns the frame bytes sent and received by every session.
func (p *process) bytes() (tx, rx uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.started {
		tx += s.Stats.TxBytes.Load()
		rx += s.Stats.RxBytes.Load()
	}
	return tx, rx
}

// totals returns every counter summed over sessions (those that stopped
// too) and tunnels.
func (p *process) totals() []engine.Counter {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c []engine.Counter
	for _, s := range p.started {
		c = engine.Sum(c, s.Counters())
	}
	for _, t := range p.eng.Tunnels() {
		c = engine.Sum(c, t.Stats.Counters())
	}
	var raised uint64
	if p.gov != nil {
		raised = p.gov.Raised.Load()
	}
	return append(c, engine.Counter{Name: "procs_raised", Value: raised})
}

// writeCounters prints the totals as "name value" lines and, with more than
// one session, a line per session with its own.
func (p *process) writeCounters(w io.Writer) {
	engine.WriteCounters(w, p.totals())
	sessions := p.eng.Sessions()
	if len(sessions) < 2 {
		return
	}
	for _, s := range sessions {
		h := s.Header()
		var b strings.Builder
		fmt.Fprintf(&b, "session %s %d/%d:", s.Endpoint().Name(), h.TxSession, h.RxSession)
		for _, c := range s.Counters() {
			fmt.Fprintf(&b, " %s=%d", c.Name, c.Value)
		}
		fmt.Fprintln(w, b.String())
	}
}

// describe summarises a session and its tunnel for the ready line.
func describe(tc *TunnelConfig, c *SessionConfig) string {
	e, h := tc.Endpoint, c.Header
	enc := "ip"
	if e.UDP {
		enc = "udp"
	}
	off := "off"
	switch {
	case c.CoalesceUDP:
		off = "full"
	case c.Offload:
		off = "auto"
	}
	return fmt.Sprintf("encap=%s local=%s remote=%s session=%d/%d cookie=%dB sublayer=%v offset=%d offload=%s queues=%d",
		enc, underlay.AddrPortString(e.Local, e.LocalPort, e.UDP), underlay.AddrPortString(e.Remote, e.RemotePort, e.UDP),
		h.TxSession, h.RxSession, h.CookieLen, h.Sublayer, h.Offset, off, c.TAP.Queues)
}

// snapshot describes the tunnels and sessions with their counters for
// l2tap show and the metrics. Before the sessions start it lists them with
// no counters. Tunnel counters are named tunnel_*, apart from the
// sessions' (see status.Snapshot).
func (p *process) snapshot() status.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	snap := status.Snapshot{PID: os.Getpid()}
	index := map[*engine.Tunnel]int{}
	tunnel := func(t *engine.Tunnel) *status.Tunnel {
		if i, ok := index[t]; ok {
			return &snap.Tunnels[i]
		}
		e := p.tunnelOf[t].Endpoint
		encap := "ip"
		if e.UDP {
			encap = "udp"
		}
		local, remote := underlay.AddrPortString(e.Local, e.LocalPort, e.UDP), underlay.AddrPortString(e.Remote, e.RemotePort, e.UDP)
		st := status.Tunnel{Name: encap + " " + local + " -> " + remote, Encap: encap, Local: local, Remote: remote}
		for _, c := range t.Stats.Counters() {
			st.Counters = append(st.Counters, status.Counter{Name: "tunnel_" + c.Name, Value: c.Value})
		}
		index[t] = len(snap.Tunnels)
		snap.Tunnels = append(snap.Tunnels, st)
		return &snap.Tunnels[len(snap.Tunnels)-1]
	}
	for _, t := range p.eng.Tunnels() {
		tunnel(t)
	}
	for _, s := range p.eng.Sessions() {
		h, d := s.Header(), s.Endpoint().(tapEndpoint).Device
		ss := status.Session{TxSession: h.TxSession, RxSession: h.RxSession, TAP: d.Name, MTU: d.MTU}
		for _, c := range s.Counters() {
			ss.Counters = append(ss.Counters, status.Counter(c))
		}
		st := tunnel(s.Tunnel())
		st.Sessions = append(st.Sessions, ss)
	}
	for _, ps := range p.pending {
		st := tunnel(ps.t)
		st.Sessions = append(st.Sessions, status.Session{TxSession: ps.sc.Header.TxSession, RxSession: ps.sc.Header.RxSession, TAP: ps.dev.Name, MTU: ps.dev.MTU})
	}
	return snap
}
