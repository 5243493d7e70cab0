package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/config"
)

// testSession is a static session with TAP tap and session IDs tx (sent)
// and rx (received).
func testSession(tap string, tx, rx uint32) config.SessionConfig {
	sc := config.SessionConfig{TAP: config.TAPConfig{Name: tap}}
	sc.Header.TxSession, sc.Header.RxSession = tx, rx
	return sc
}

// testTunnel is a UDP tunnel from 192.0.2.1:port to peer:1701.
func testTunnel(port uint16, peer string, sessions ...config.SessionConfig) config.TunnelConfig {
	return config.TunnelConfig{
		Ends: config.TunnelEnds{UDP: true, Local: netip.MustParseAddr("192.0.2.1"), LocalPort: port,
			Remote: netip.MustParseAddr(peer), RemotePort: 1701},
		Sessions: sessions,
	}
}

// startTest sets up and starts the process of tunnels over o's fakes.
func startTest(t *testing.T, o *fakeOpener, tunnels ...config.TunnelConfig) *process {
	t.Helper()
	p, err := setUp(&config.Config{Tunnels: tunnels}, o)
	if err != nil {
		t.Fatalf("setUp: %v", err)
	}
	t.Cleanup(p.stop)
	p.start()
	return p
}

// runningTAPs returns the TAP names of the sessions running, sorted, and
// checks that each one's endpoint is the last opened under its name and
// still open.
func runningTAPs(t *testing.T, p *process, o *fakeOpener) []string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for _, l := range p.live {
		if l.failed {
			continue
		}
		name := l.dev.Name()
		names = append(names, name)
		eps := o.opened(name)
		if len(eps) == 0 || l.dev != Device(eps[len(eps)-1]) || eps[len(eps)-1].isClosed() {
			t.Errorf("session of %s: its endpoint is not the last opened for it, or is closed", name)
		}
	}
	sort.Strings(names)
	return names
}

// failSession makes the endpoint of TAP name fail with err and returns
// what takeFailures reports once the engine has it.
func failSession(t *testing.T, p *process, o *fakeOpener, name string, err error) (bool, error) {
	t.Helper()
	eps := o.opened(name)
	eps[len(eps)-1].fail <- err
	select {
	case <-p.eng.Failed():
	case <-time.After(10 * time.Second):
		t.Fatalf("the engine did not report the failure of %s", name)
	}
	return p.takeFailures()
}

// TestReloadSessions checks what a reload (SIGHUP) does to the sessions running:
// those unchanged keep their endpoint, those changed or failed are made
// anew, those gone are closed, new ones are opened; a configuration that
// cannot be read, or no configuration file, changes nothing; a session
// whose TAP cannot be opened is left out and the rest carry on.
func TestReloadSessions(t *testing.T) {
	a, b, c := testSession("a", 1, 2), testSession("b", 3, 4), testSession("c", 5, 6)
	aMTU := a
	aMTU.TAP.MTU = 1400
	for _, tc := range []struct {
		name    string
		before  []config.TunnelConfig
		after   []config.TunnelConfig
		readErr error  // the reload's configuration cannot be read
		noRead  bool   // no -config: nothing to read again
		refuse  string // the TAP whose opening fails on reload
		failed  string // the TAP whose session failed before the reload
		want    []string
		reopen  []string // TAPs opened anew, their first endpoint closed
		closed  []string // TAPs whose every endpoint is closed
	}{
		{name: "unchanged", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)}, want: []string{"a", "b"}},
		{name: "removed", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a)}, want: []string{"a"}, closed: []string{"b"}},
		{name: "added", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b), testTunnel(1702, "198.51.100.2", c)},
			want:  []string{"a", "b", "c"}},
		{name: "changed", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", aMTU, b)}, want: []string{"a", "b"}, reopen: []string{"a"}},
		{name: "peer changed", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.2", a)}, want: []string{"a"}, reopen: []string{"a"}},
		{name: "failed made anew", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)}, failed: "b", want: []string{"a", "b"}, reopen: []string{"b"}},
		{name: "unreadable", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)},
			readErr: errors.New("l2tap.toml:3: txsession 0: out of range"), want: []string{"a", "b"}},
		{name: "no config file", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)},
			noRead: true, want: []string{"a", "b"}},
		{name: "new TAP refused", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a)},
			after: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b, c)}, refuse: "b", want: []string{"a", "c"}},
		{name: "everything removed", before: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a), testTunnel(1702, "198.51.100.2", b)},
			after: []config.TunnelConfig{}, want: nil, closed: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newFakeOpener()
			p := startTest(t, o, tc.before...)
			if tc.failed != "" {
				if taken, err := failSession(t, p, o, tc.failed, errDeleted); !taken || err != nil {
					t.Fatalf("failing %s: %v, %v; want it taken with sessions left", tc.failed, taken, err)
				}
			}
			var read func() (*config.Config, error)
			if !tc.noRead {
				read = func() (*config.Config, error) {
					if tc.readErr != nil {
						return nil, tc.readErr
					}
					return &config.Config{Tunnels: tc.after}, nil
				}
			}
			if tc.refuse != "" {
				o.mu.Lock()
				o.refuse[tc.refuse] = true
				o.mu.Unlock()
			}
			first := map[string]*fakeEndpoint{}
			for _, ep := range o.endpoints {
				first[ep.name] = ep
			}
			p.reload(read)
			if got := runningTAPs(t, p, o); !slices.Equal(got, tc.want) {
				t.Errorf("sessions running after the reload: %v; want %v", got, tc.want)
			}
			for _, name := range tc.want {
				eps := o.opened(name)
				anew := slices.Contains(tc.reopen, name)
				switch {
				case anew && (len(eps) != 2 || !eps[0].isClosed()):
					t.Errorf("%s: %d endpoints opened, the first closed %v; want it made anew", name, len(eps), len(eps) > 0 && eps[0].isClosed())
				case !anew && first[name] != nil && len(eps) != 1:
					t.Errorf("%s: opened %d times; want its endpoint kept", name, len(eps))
				}
			}
			for _, name := range tc.closed {
				for _, ep := range o.opened(name) {
					if !ep.isClosed() {
						t.Errorf("%s: an endpoint left open after its session was removed", name)
					}
				}
			}
			p.stop()
			checkStopped(t, o)
		})
	}
}

// TestEndpointFailure checks what a failing endpoint does: its session is
// marked failed and the others go on; when the last one fails, the error
// that ends Run says whether its TAP was deleted or why it stopped.
func TestEndpointFailure(t *testing.T) {
	type step struct {
		tap     string
		err     error
		stop    string // the error that ends Run, a prefix; "" while sessions go on
		running int    // sessions running after it
	}
	ioErr := errors.New("input/output error")
	for _, tc := range []struct {
		name  string
		taps  []string
		steps []step
	}{
		{"one of two deleted", []string{"a", "b"}, []step{{"a", errDeleted, "", 1}}},
		{"the last deleted", []string{"a"}, []step{{"a", errDeleted, "TAP a was deleted while in use", 0}}},
		{"the last failing", []string{"a"}, []step{{"a", ioErr, "session of a stopped: input/output error", 0}}},
		{"one after the other", []string{"a", "b", "c"}, []step{
			{"b", ioErr, "", 2}, {"a", errDeleted, "", 1}, {"c", ioErr, "session of c stopped: input/output error", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newFakeOpener()
			var sessions []config.SessionConfig
			for i, name := range tc.taps {
				sessions = append(sessions, testSession(name, uint32(2*i+1), uint32(2*i+2)))
			}
			p := startTest(t, o, testTunnel(1701, "198.51.100.1", sessions...))
			for _, s := range tc.steps {
				taken, err := failSession(t, p, o, s.tap, s.err)
				if !taken {
					t.Fatalf("%s failed: nothing taken", s.tap)
				}
				switch {
				case s.stop == "" && err != nil:
					t.Errorf("%s failed: %v; want the others to go on", s.tap, err)
				case s.stop != "" && (err == nil || !strings.HasPrefix(err.Error(), s.stop)):
					t.Errorf("%s failed: %v; want %q", s.tap, err, s.stop)
				}
				if s.err == ioErr && err != nil && !errors.Is(err, ioErr) {
					t.Errorf("%s failed: %v does not wrap the endpoint's error", s.tap, err)
				}
				if eps := o.opened(s.tap); !eps[0].isClosed() {
					t.Errorf("%s failed: its endpoint is still open", s.tap)
				}
				if n := len(runningTAPs(t, p, o)); n != s.running {
					t.Errorf("%s failed: %d sessions running; want %d", s.tap, n, s.running)
				}
				if want := fmt.Sprintf("%d sessions,", s.running); !strings.HasPrefix(p.statusLine(), want) {
					t.Errorf("%s failed: status line %q; want it to start %q", s.tap, p.statusLine(), want)
				}
			}
			if taken, err := p.takeFailures(); taken || err != nil {
				t.Errorf("nothing more failed: takeFailures() = %v, %v; want false, nil", taken, err)
			}
		})
	}
}

// TestStopCloses checks that stopping closes every socket and endpoint opened,
// those of sessions that failed or were removed too, and leaves the
// counters to print.
func TestStopCloses(t *testing.T) {
	a, b, c := testSession("a", 1, 2), testSession("b", 3, 4), testSession("c", 5, 6)
	for _, tc := range []struct {
		name    string
		tunnels []config.TunnelConfig
		sockets int // sockets opened: tunnels on one local port share one
		fail    string
		reload  []config.TunnelConfig
	}{
		{name: "one session", tunnels: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a)}, sockets: 1},
		{name: "two peers on one socket", tunnels: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a), testTunnel(1701, "198.51.100.2", b)}, sockets: 1},
		{name: "two sockets", tunnels: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b), testTunnel(1702, "198.51.100.2", c)}, sockets: 2},
		{name: "after a failure", tunnels: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)}, sockets: 1, fail: "a"},
		{name: "after a reload", tunnels: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a, b)}, sockets: 2,
			reload: []config.TunnelConfig{testTunnel(1701, "198.51.100.1", a), testTunnel(1703, "198.51.100.3", c)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newFakeOpener()
			p := startTest(t, o, tc.tunnels...)
			if tc.fail != "" {
				failSession(t, p, o, tc.fail, errDeleted)
			}
			if tc.reload != nil {
				p.reload(func() (*config.Config, error) { return &config.Config{Tunnels: tc.reload}, nil })
			}
			if len(o.sockets) != tc.sockets {
				t.Errorf("%d sockets opened; want %d", len(o.sockets), tc.sockets)
			}
			done := make(chan struct{})
			go func() { p.stop(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("stop did not return: a loop did not end")
			}
			checkStopped(t, o)
			var out bytes.Buffer
			p.writeCounters(&out)
			if !strings.Contains(out.String(), "\ntx_packets 0\n") && !strings.HasPrefix(out.String(), "tx_packets 0\n") {
				t.Errorf("counters after stop:\n%s\nwant tx_packets among them", out.String())
			}
		})
	}
}

// checkStopped fails the test for each endpoint or socket o opened that
// is still open.
func checkStopped(t *testing.T, o *fakeOpener) {
	t.Helper()
	for _, ep := range o.endpoints {
		if !ep.isClosed() {
			t.Errorf("endpoint %s left open", ep.name)
		}
	}
	for i, u := range o.sockets {
		if !u.isClosed() {
			t.Errorf("socket %d left open", i)
		}
	}
}
