package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/offload"
	"github.com/l2tap/l2tap/internal/pcap"
	"github.com/l2tap/l2tap/internal/sdnotify"
	"github.com/l2tap/l2tap/internal/status"
	"github.com/l2tap/l2tap/internal/tune"
	"github.com/l2tap/l2tap/internal/underlay"
)

// Run opens every tunnel and session of cfg and moves frames until SIGINT
// or SIGTERM, then prints the counters to stdout and removes what it
// created. A session whose endpoint fails (its TAP deleted) is stopped and
// logged; when none is left, Run returns that error. On a setup error
// nothing is left behind.
func Run(cfg *config.Config, open Opener) error {
	chooseUser(cfg)
	// The helper, if cfg needs one, starts before setup changes anything,
	// and goes last: it restores attached TAPs the data path could not.
	h, err := startPrivHelper(cfg, open)
	if err != nil {
		return err
	}
	if h != nil {
		defer h.close()
	}
	p, err := setUp(cfg, open)
	if err != nil {
		return err
	}
	p.helper = h
	defer p.eng.Close()

	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var heap *heapProfile
	if cfg.MemProfile != "" {
		if heap, err = openHeapProfile(cfg.MemProfile); err != nil {
			return err
		}
		defer heap.close()
	}
	if cfg.Batch {
		if err := tune.SetBatchPolicy(); err != nil {
			slog.Warn("staying with the default scheduling policy", "err", err)
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, sigCounters, syscall.SIGHUP)
	if heap != nil {
		signal.Notify(sigs, sigHeapProfile)
	}
	defer signal.Stop(sigs)

	// l2tap show and -metrics: snapshots of the engine, taken when asked.
	stopObservers, err := startObservers(cfg, p.snapshot)
	if err != nil {
		return err
	}
	defer stopObservers()

	// systemd's notification socket, connected before the filter forbids it.
	notify, err := sdnotify.Open()
	if err != nil {
		slog.Warn("not telling systemd of readiness, status or liveness", "err", err)
	}
	defer notify.Close()

	if err := lockDown(cfg, p.devs(), h); err != nil { // setup ends here
		return err
	}
	started := p.start()
	dynReady := p.startDynamic()
	stopGov := make(chan struct{})
	defer close(stopGov)
	loops := len(p.sockets)
	for _, l := range started {
		loops += l.dev.Queues()
	}
	if p.gov = tune.NewGovernor(loops, p.bytes); p.gov != nil {
		go p.gov.Run(stopGov)
	}
	for _, l := range started {
		slog.Info("ready", l.logAttrs()...)
		if vm, ok := l.dev.(vmSocket); ok {
			slog.Info("connect a VM with", "socket", l.dev.Name(), "qemu", vm.QEMUHint(), "guest_mtu", l.dev.MTU())
		}
	}
	for _, a := range dynReady {
		slog.Info("ready", a...)
	}
	notify.Send("READY=1")
	notify.Status(p.statusLine())
	// WATCHDOG=1 comes from this loop, which also takes failed sessions
	// and reloads: if it stops turning, or every session has failed (Run
	// returns), systemd's watchdog fires.
	watchdog, stopWatchdog := notify.WatchdogTicker()
	defer stopWatchdog()
	statusTick, stopStatus := notify.Ticker(statusEvery)
	defer stopStatus()
	notify.Send("WATCHDOG=1")

	var runErr error
wait:
	for {
		select {
		case s := <-sigs:
			switch s {
			case sigCounters:
				p.writeCounters(os.Stdout)
				// On stderr, so that nothing parsing the counters takes it for one.
				slog.Info("goroutines", "count", runtime.NumGoroutine())
				continue
			case syscall.SIGHUP:
				p.reload(cfg.Reload)
				notify.Status(p.statusLine())
				continue
			case sigHeapProfile:
				heap.write()
				continue
			}
			break wait
		case <-watchdog:
			notify.Send("WATCHDOG=1")
		case <-statusTick:
			notify.Status(p.statusLine())
		case <-p.eng.Failed():
			taken, err := p.takeFailures()
			if !taken {
				continue // taken with an earlier token
			}
			notify.Status(p.statusLine())
			if err == nil {
				continue // sessions go on
			}
			runErr = err
			break wait
		}
	}
	notify.Send("STOPPING=1")
	p.stop()
	p.writeCounters(os.Stdout)
	if runErr != nil {
		// main exits 1 on this error, which lets a supervisor (systemd's
		// Restart=on-failure) start l2tap again.
		return fmt.Errorf("%v: stopping with exit status 1, counters on stdout", runErr)
	}
	return nil
}

// process is what Run set up: the engine with its sockets, tunnels and
// sessions, and the configuration each session was made from.
type process struct {
	open    Opener // what sockets, TAPs and VM sockets are opened with
	eng     *engine.Engine
	sockets map[socketKey]engine.Underlay
	tunnels map[tunnelKey]*engine.Tunnel
	gov     *tune.Governor
	// controls are the tunnels' keepalives (see keepalive.go); guarded by mu.
	controls map[*engine.Tunnel]*tunnelControl
	dyn      []*dynTunnel // the dynamic tunnels (see dynamic.go)
	json     bool         // counters as one JSON object (-log-format json)
	// helper opens what a reload adds, and restores attached TAPs (see
	// privsep.go); nil when the configuration needs neither.
	helper helper

	mu      sync.Mutex           // guards what follows once observers run
	live    map[sessionKey]*live // sessions running (or failed), by identity
	pending []*live              // sessions set up but not yet started
	started []*engine.Session    // the sessions started and not yet removed (failed ones too)
	// retired is the counters of the sessions removed, summed: all that
	// is kept of them, so that the totals still count what they carried.
	retired              []engine.Counter
	retiredTx, retiredRx uint64 // their frame bytes, for bytes
}

// tunnelKey names a tunnel: its socket and its peer.
type tunnelKey struct {
	sock   socketKey
	remote netip.AddrPort
}

// sessionKey names a session across reloads: its tunnel and its receive
// session ID, unique there.
type sessionKey struct {
	tunnel tunnelKey
	rx     uint32
}

// live is a session and what it was made from.
type live struct {
	key     sessionKey
	tc      config.TunnelConfig // its Sessions field is not used
	sc      config.SessionConfig
	dev     Device
	cap     *pcap.Writer // nil without -pcap
	tunnel  *engine.Tunnel
	session *engine.Session  // nil until started
	failed  bool             // its endpoint failed; a reload makes it anew
	clamp   offload.MSSClamp // -mss-clamp resolved against the path and the endpoint's MTU
}

func keyOf(tc *config.TunnelConfig, sc *config.SessionConfig) sessionKey {
	return sessionKey{tunnelKey{socketKeyOf(tc.Ends), remoteOf(tc.Ends)}, sc.Header.RxSession}
}

// setUp opens every socket and TAP of cfg; on error it closes what it
// opened.
func setUp(cfg *config.Config, open Opener) (_ *process, err error) {
	p := &process{
		open:     open,
		eng:      engine.New(),
		sockets:  map[socketKey]engine.Underlay{},
		tunnels:  map[tunnelKey]*engine.Tunnel{},
		live:     map[sessionKey]*live{},
		controls: map[*engine.Tunnel]*tunnelControl{},
		json:     cfg.LogJSON,
	}
	defer func() {
		if err != nil {
			for _, l := range p.pending {
				l.closeEndpoint()
				closeCapture(l)
			}
			p.closeDynamic()
			for _, s := range p.sockets {
				s.Close()
			}
		}
	}()
	for i := range cfg.Tunnels {
		tc := &cfg.Tunnels[i]
		if tc.Dynamic != nil {
			if err := p.prepareDynamic(cfg, tc); err != nil {
				return nil, err
			}
			continue
		}
		for j := range tc.Sessions {
			if err := p.prepare(cfg, i, j); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// helper opens, in a privileged process, what a reload adds, and gives
// attached TAPs their state back (see privsep.go).
type helper interface {
	// socket opens the underlay socket of tunnel ti of cfg, a reload's.
	socket(cfg *config.Config, ti int) (engine.Underlay, error)
	// endpoint opens the TAP or VM socket of session si of tunnel ti of
	// cfg, a reload's, and returns it with the MTU that fits the path.
	endpoint(cfg *config.Config, ti, si int) (Device, int, error)
	// wrapRestores has the helper restore the attached TAPs of devs.
	wrapRestores(devs []Device)
	// close lets the helper go.
	close()
}

// prepare opens what session si of tunnel ti of cfg needs (its socket if
// no tunnel opened it yet, its TAP or VM socket, its capture) and queues
// it for start. A reload's configuration (cfg.Gen set) is opened by the
// helper.
func (p *process) prepare(cfg *config.Config, ti, si int) error {
	tc, sc := &cfg.Tunnels[ti], &cfg.Tunnels[ti].Sessions[si]
	remote := cfg.Gen != 0 && p.helper != nil
	key := keyOf(tc, sc)
	s := p.sockets[key.tunnel.sock]
	if s == nil {
		var err error
		if remote {
			s, err = p.helper.socket(cfg, ti)
		} else {
			s, err = p.open.Socket(tc.Ends, socketOffload(cfg, key.tunnel.sock), cfg.PacketPath)
		}
		if err != nil {
			return err
		}
		p.sockets[key.tunnel.sock] = s
	}
	var dev Device
	var auto int
	var err error
	if remote {
		dev, auto, err = p.helper.endpoint(cfg, ti, si)
	} else {
		dev, auto, err = openEndpoint(p.open, tc, sc)
	}
	if err != nil {
		return err
	}
	capture, err := openCapture(cfg, tc, sc)
	if err != nil {
		dev.Close()
		return err
	}
	clamp := sc.MSSClamp.Resolve(auto, dev.MTU())
	if mtu := sc.TAP.MTU; mtu > auto {
		why := "larger frames are fragmented on the underlay"
		if clamp.Enabled() {
			why = "TCP's MSS is clamped to fit (-mss-clamp), other larger frames are fragmented on the underlay"
		}
		slog.Warn("-mtu exceeds what fits the path", "tunnel", tc.Ends.PeerName(), "mtu", mtu, "path_mtu", auto,
			"mss_clamp", mssClampString(clamp), "effect", why)
	}
	t := p.tunnels[key.tunnel]
	if t == nil {
		t = p.eng.AddTunnel(s, key.tunnel.remote)
		p.tunnels[key.tunnel] = t
		p.addControl(tc, t)
	}
	l := &live{key: key, tc: *tc, sc: *sc, dev: dev, cap: capture, tunnel: t, clamp: clamp}
	l.tc.Sessions = nil
	p.mu.Lock()
	p.pending = append(p.pending, l)
	p.mu.Unlock()
	return nil
}

// openEndpoint opens session sc's TAP, VM socket or vhost-user backend here, and returns it
// with the MTU that fits the path to the peer.
func openEndpoint(open Opener, tc *config.TunnelConfig, sc *config.SessionConfig) (Device, int, error) {
	tcfg, auto, err := sessionTAP(open, tc, sc)
	if err != nil {
		return nil, 0, err
	}
	var dev Device
	switch {
	case sc.Socket.Path != "":
		dev, err = open.VMSocket(sc, tcfg.MTU)
	case sc.VhostUser.Path != "":
		dev, err = open.VhostUser(sc, tcfg.MTU)
	default:
		dev, err = open.TAP(sc, tcfg)
	}
	return dev, auto, err
}

// devs returns the TAPs of the sessions set up.
func (p *process) devs() []Device {
	p.mu.Lock()
	defer p.mu.Unlock()
	var d []Device
	for _, l := range p.pending {
		d = append(d, l.dev)
	}
	for _, dt := range p.dyn {
		for _, c := range dt.circuits {
			d = append(d, c.dev)
		}
	}
	return d
}

// takeFailures takes the sessions whose endpoints failed from the engine
// (taken is false when there was none: a token of failures taken
// already) and marks them failed. When no session is left running it
// returns the last one's error, which ends Run; while some are, it logs
// each failure and returns nil.
func (p *process) takeFailures() (taken bool, err error) {
	failures := p.eng.TakeFailures()
	if len(failures) == 0 {
		return false, nil
	}
	n := 0
	for _, f := range failures {
		name := f.Session.Endpoint().Name()
		if p.open.Deleted(f.Err) {
			err = fmt.Errorf("TAP %s was deleted while in use (%v)", name, f.Err)
		} else {
			err = fmt.Errorf("session of %s stopped: %w", name, f.Err)
		}
		if n = p.markFailed(f.Session); n > 0 {
			slog.Warn("session failed; the others go on", "tap", name, "err", err, "sessions", n)
		}
	}
	if n > 0 {
		return true, nil
	}
	return true, err
}

// stop ends what Run started, in order: the keepalives, the dynamic
// tunnels' connections (each with a StopCCN), the engine with its loops,
// sockets and endpoints, then the dynamic circuits' TAPs and every
// capture. The counters are still there to print.
func (p *process) stop() {
	p.stopControls()
	p.stopDynamic()
	p.eng.Close()
	p.closeDynamic()
	p.closeCaptures()
}

// markFailed records that s stopped, and returns how many sessions still
// run.
func (p *process) markFailed(s *engine.Session) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.live {
		if l.session == s {
			l.failed = true
		}
		if !l.failed {
			n++
		}
	}
	return n
}

// reload reads the configuration again and brings the sessions in line:
// those gone are stopped (their TAPs removed if l2tap made them), those
// changed are made anew, new ones are made, and the others carry on
// untouched. A file with an error changes nothing.
func (p *process) reload(read func() (*config.Config, error)) {
	if read == nil {
		slog.Warn("SIGHUP: no -config file to read again; nothing changes")
		return
	}
	cfg, err := read()
	if err != nil {
		slog.Error("SIGHUP: configuration not read; nothing changes", "err", err)
		return
	}
	want := map[sessionKey]bool{}
	var add [][2]int
	for i := range cfg.Tunnels {
		tc := &cfg.Tunnels[i]
		if tc.Dynamic != nil {
			slog.Info("SIGHUP: dynamic tunnel left as it started", "tunnel", tc.Ends.PeerName())
			continue
		}
		for j := range tc.Sessions {
			sc := &tc.Sessions[j]
			key := keyOf(tc, sc)
			want[key] = true
			p.mu.Lock()
			l := p.live[key]
			p.mu.Unlock()
			if l != nil && !l.failed && l.tc.Ends == tc.Ends && reflect.DeepEqual(l.sc, *sc) {
				continue
			}
			if l != nil {
				p.remove(l, "changed")
			}
			add = append(add, [2]int{i, j})
		}
	}
	p.mu.Lock()
	var gone []*live
	for key, l := range p.live {
		if !want[key] {
			gone = append(gone, l)
		}
	}
	p.mu.Unlock()
	for _, l := range gone {
		p.remove(l, "removed")
	}
	// The helper, when there is one, opens what the sessions need.
	for _, a := range add {
		tc := &cfg.Tunnels[a[0]]
		if err := p.prepare(cfg, a[0], a[1]); err != nil {
			h := tc.Sessions[a[1]].Header
			slog.Error("SIGHUP: session not added", "session", fmt.Sprintf("%d/%d", h.TxSession, h.RxSession),
				"tunnel", tc.Ends.PeerName(), "err", err)
		}
	}
	for _, l := range p.start() {
		slog.Info("added", l.logAttrs()...)
	}
	if len(add)+len(gone) > 0 {
		// What the sessions removed held (their TAPs' buffers, their
		// loops' batches) is garbage now: hand it back to the system at
		// once, so that l2tap's resident size follows the sessions it
		// runs rather than the most it ever ran, instead of whenever the
		// runtime's background scavenger gets to it.
		debug.FreeOSMemory()
	}
	slog.Info("SIGHUP: configuration read again", "added", len(add), "removed", len(gone))
}

// remove stops a session and forgets it: its counters are folded into
// the totals and nothing else of it is kept.
func (p *process) remove(l *live, why string) {
	if l.session != nil {
		p.eng.RemoveSession(l.session)
	}
	p.mu.Lock()
	p.retire(l.session)
	delete(p.live, l.key)
	p.mu.Unlock()
	closeCapture(l)
	h := l.sc.Header
	slog.Info(why, l.endpointKey(), l.dev.Name(), "session", fmt.Sprintf("%d/%d", h.TxSession, h.RxSession), "tunnel", l.tc.Ends.PeerName())
}

// retire takes s, removed from the engine, out of the sessions started and
// adds its final counters to retired; p.mu is held. Holding the session
// would hold its endpoint (a TAP's buffers), its capture's ring and its
// counters for as long as l2tap runs.
func (p *process) retire(s *engine.Session) {
	i := slices.Index(p.started, s)
	if s == nil || i < 0 {
		return
	}
	p.retired = engine.Sum(p.retired, sessionCountersOf(s, false))
	p.retiredTx += s.Stats.TxBytes.Load()
	p.retiredRx += s.Stats.RxBytes.Load()
	p.started = slices.Delete(p.started, i, i+1)
}

// socketOffload reports whether any session on the socket key names asks
// for offloads.
func socketOffload(cfg *config.Config, key socketKey) bool {
	for _, tc := range cfg.Tunnels {
		if socketKeyOf(tc.Ends) != key {
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

// start hands every session set up to the engine, which starts its loops,
// and returns them.
func (p *process) start() []*live {
	p.mu.Lock()
	defer p.mu.Unlock()
	var started []*live
	for _, l := range p.pending {
		ec := engine.SessionConfig{Header: l.sc.Header, SeqCheck: l.sc.SeqCheck, MSSClamp: l.clamp}
		if l.cap != nil {
			ec.Capture = l.cap
		}
		s, err := p.eng.AddSession(l.tunnel, ec, l.dev)
		if err != nil {
			// The configuration checks forbid two sessions with one
			// receive ID on a socket; say so if one slips through.
			slog.Error("session not added", l.endpointKey(), l.dev.Name(), "err", err)
			l.closeEndpoint()
			closeCapture(l)
			continue
		}
		l.session = s
		p.live[l.key] = l
		p.started = append(p.started, s)
		started = append(started, l)
	}
	p.pending = nil
	p.startControls()
	return started
}

// sessionTAP returns the TAP settings of session sc of tunnel tc: its
// own, with the MTU that fits the path to the peer (auto) where none was
// given, and its UDP coalescing.
func sessionTAP(open Opener, tc *config.TunnelConfig, sc *config.SessionConfig) (tcfg config.TAPConfig, auto int, err error) {
	pmtu, err := open.PathMTU(tc.Ends.Remote)
	if err != nil {
		return config.TAPConfig{}, 0, err
	}
	auto, err = AutoMTU(pmtu, tc.Ends, &sc.Header)
	if err != nil {
		return config.TAPConfig{}, 0, err
	}
	tcfg = sc.TAP
	if tcfg.MTU == 0 {
		tcfg.MTU = auto
	}
	tcfg.CoalesceUDP = sc.CoalesceUDP
	return tcfg, auto, nil
}

// openCapture opens session sc's -pcap file, if it has one. At start, when
// l2tap will run as another account (-user, or the default account), the
// file is made over to it, which creates the next ones when -pcap-size
// rotates them; a reload's capture is created by that account itself.
func openCapture(cfg *config.Config, tc *config.TunnelConfig, sc *config.SessionConfig) (*pcap.Writer, error) {
	c := sc.Capture
	if c.Path == "" {
		return nil, nil
	}
	e := tc.Ends
	pc := pcap.Config{Path: c.Path, Outer: c.Outer, UDP: e.UDP, MaxSize: c.Size, Keep: 1, UID: -1, GID: -1,
		Local: netip.AddrPortFrom(e.Local, e.LocalPort), Remote: netip.AddrPortFrom(e.Remote, e.RemotePort),
		Logf: func(format string, args ...any) {
			slog.Warn("capture stopped", "tap", sc.TAP.Name, "file", c.Path, "detail", fmt.Sprintf(format, args...))
		}}
	if u := cfg.User; u != nil && u.UID != os.Geteuid() { // not yet switched: at start, not on reload
		pc.UID, pc.GID = u.UID, u.GID
	}
	w, err := pcap.Open(pc)
	if err != nil {
		return nil, fmt.Errorf("-pcap: %w", err)
	}
	return w, nil
}

// closeCapture writes out and closes a session's capture, once its loops
// have stopped.
func closeCapture(l *live) {
	if l.cap == nil {
		return
	}
	if err := l.cap.Close(); err != nil {
		slog.Warn("-pcap: capture not closed cleanly", "file", l.sc.Capture.Path, l.endpointKey(), l.dev.Name(), "err", err)
	}
	l.cap = nil
}

// closeCaptures closes every session's capture; the engine is closed.
func (p *process) closeCaptures() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.live {
		closeCapture(l)
	}
}

// peerName names tunnel t as log lines do (see config.TunnelEnds.PeerName).
func (p *process) peerName(t *engine.Tunnel) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, u := range p.tunnels {
		if u == t {
			return underlay.AddrPortString(key.remote.Addr(), key.remote.Port(), p.sockets[key.sock].UDP())
		}
	}
	return t.Remote.String()
}

// logAttrs describes a session and its tunnel for the ready and added
// lines, in the order the text lines have always had: tap, mtu, encap,
// local, remote, session (TX/RX), cookie, sublayer, offset, offload,
// queues, mss_clamp; then tunnel, the key every line about the tunnel carries.
func (l *live) logAttrs() []any {
	e, h, c := l.tc.Ends, l.sc.Header, &l.sc
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
	return []any{
		slog.String(l.endpointKey(), l.dev.Name()), slog.Int("mtu", l.dev.MTU()),
		slog.String("encap", enc),
		slog.String("local", underlay.AddrPortString(e.Local, e.LocalPort, e.UDP)),
		slog.String("remote", e.PeerName()),
		slog.String("session", fmt.Sprintf("%d/%d", h.TxSession, h.RxSession)),
		slog.String("cookie", cookieSizes(&h)),
		slog.String("sublayer", fmt.Sprint(h.Sublayer)), slog.Int("offset", h.Offset),
		slog.String("offload", off), slog.Int("queues", c.TAP.Queues),
		slog.String("mss_clamp", mssClampString(l.clamp)),
		slog.String("tunnel", e.PeerName()),
	}
}

// snapshot describes the tunnels and sessions with their counters for
// l2tap show and the metrics. Before the sessions start it lists them with
// no counters. Tunnel counters are named tunnel_*, apart from the
// sessions' (see status.Snapshot). With all it has every counter, zero
// where it does not apply, else only those that apply (see counterScope):
// l2tap show lists what applies, as the counters lines do; the metrics
// take all, so that every tunnel and session has the same series whatever
// its features, as Prometheus prefers (a series that is absent for some
// and present for others breaks sums and rates across them, and one that
// appears only with a feature's first use starts from nothing).
func (p *process) snapshot(all bool) status.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	snap := status.Snapshot{PID: os.Getpid()}
	ends := map[*engine.Tunnel]config.TunnelEnds{}
	for _, l := range p.live {
		ends[l.tunnel] = l.tc.Ends
	}
	for _, l := range p.pending {
		ends[l.tunnel] = l.tc.Ends
	}
	for _, dt := range p.dyn {
		ends[dt.tunnel] = dt.tc.Ends
	}
	index := map[*engine.Tunnel]int{}
	for _, t := range p.eng.Tunnels() {
		e, ok := ends[t]
		if !ok {
			continue // every session of it was removed
		}
		encap := "ip"
		if e.UDP {
			encap = "udp"
		}
		local, remote := underlay.AddrPortString(e.Local, e.LocalPort, e.UDP), underlay.AddrPortString(e.Remote, e.RemotePort, e.UDP)
		st := status.Tunnel{Name: encap + " " + local + " -> " + remote, Encap: encap, Local: local, Remote: remote}
		for _, c := range p.tunnelCounters(t, all) {
			st.Counters = append(st.Counters, status.Counter{Name: "tunnel_" + c.Name, Value: c.Value})
		}
		if state, since := p.controlState(t); state != "" {
			st.Peer = state
			if !since.IsZero() {
				st.DownSince = since.UTC().Format(time.RFC3339)
			}
		}
		if dt := p.dynFor(t); dt != nil {
			dt.status(&st)
		}
		index[t] = len(snap.Tunnels)
		snap.Tunnels = append(snap.Tunnels, st)
	}
	for _, s := range p.eng.Sessions() {
		i, ok := index[s.Tunnel()]
		if !ok {
			continue
		}
		h := s.Header()
		name, mtu := endpointInfo(s.Endpoint())
		ss := status.Session{TxSession: h.TxSession, RxSession: h.RxSession, TAP: name, MTU: mtu}
		for _, c := range sessionCountersOf(s, all) {
			ss.Counters = append(ss.Counters, status.Counter(c))
		}
		snap.Tunnels[i].Sessions = append(snap.Tunnels[i].Sessions, ss)
	}
	for _, l := range p.pending {
		if i, ok := index[l.tunnel]; ok {
			snap.Tunnels[i].Sessions = append(snap.Tunnels[i].Sessions, status.Session{TxSession: l.sc.Header.TxSession, RxSession: l.sc.Header.RxSession, TAP: l.dev.Name(), MTU: l.dev.MTU()})
		}
	}
	return snap
}
