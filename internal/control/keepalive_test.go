package control

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// end is one side of a keepalive pair: its keepalive, the states it
// applied, and its log.
type end struct {
	k      *Keepalive
	mu     sync.Mutex
	states []bool // SetPeerDown's arguments, in order
	log    bytes.Buffer
}

func (e *end) applied() []bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]bool(nil), e.states...)
}

func newEnd(clock *fakeClock, local, peer uint32, out *link, required bool) *end {
	return newEndHello(clock, local, peer, out, required, 0, time.Second)
}

// newEndHello is newEnd with retries (0: the default) and a HELLO interval.
func newEndHello(clock *fakeClock, local, peer uint32, out *link, required bool, retries int, hello time.Duration) *end {
	e := &end{}
	e.k = NewKeepalive(KeepaliveConfig{
		Transport: Config{LocalID: local, PeerID: peer, Send: out.send, Clock: clock},
		Hello:     hello, Retries: retries, Required: required, Peer: "peer",
		SetPeerDown: func(down bool) {
			e.mu.Lock()
			e.states = append(e.states, down)
			e.mu.Unlock()
		},
		Log: slog.New(slog.NewTextHandler(&e.log, nil)),
	})
	return e
}

// pair joins two keepalives by lossy links.
type pair struct {
	clock  *fakeClock
	ab, ba *link
	a, b   *end
}

func newPair(loss float64, seed uint64) *pair { return newPairHello(loss, seed, 0, time.Second) }

// newPairRetries is newPair with retries (0: the default).
func newPairRetries(loss float64, seed uint64, retries int) *pair {
	return newPairHello(loss, seed, retries, time.Second)
}

// newPairHello is newPair with retries and a HELLO interval.
func newPairHello(loss float64, seed uint64, retries int, hello time.Duration) *pair {
	p := &pair{clock: newFakeClock()}
	rng := rand.New(rand.NewPCG(seed, 7))
	p.ab = &link{clock: p.clock, delay: 5 * time.Millisecond, loss: loss, rng: rng}
	p.ba = &link{clock: p.clock, delay: 5 * time.Millisecond, loss: loss, rng: rng}
	p.a = newEndHello(p.clock, idA, idB, p.ab, true, retries, hello)
	p.b = newEndHello(p.clock, idB, idA, p.ba, true, retries, hello)
	p.ab.to = p.b.k.Control
	p.ba.to = p.a.k.Control
	return p
}

func counter(k *Keepalive, name string) uint64 {
	for _, c := range k.Counters() {
		if c.Name == name {
			return c.Value
		}
	}
	panic("no counter " + name)
}

// TestKeepaliveLossy runs two keepalives (a 1 s interval, the default
// retries) for an hour of simulated time over links that lose nothing,
// 20 % and 30 % of the messages each way: no peer is ever declared down,
// every loss is made good by retransmissions, and HELLOs go every second.
func TestKeepaliveLossy(t *testing.T) {
	for _, c := range []struct {
		loss  float64
		seeds int
	}{{0, 1}, {0.2, 10}, {0.3, 10}} {
		for seed := 0; seed < c.seeds; seed++ {
			t.Run(fmt.Sprintf("loss=%v/seed=%d", c.loss, seed), func(t *testing.T) {
				p := newPair(c.loss, uint64(seed))
				p.a.k.Start()
				p.b.k.Start()
				p.clock.Advance(time.Hour)
				for _, e := range []*end{p.a, p.b} {
					if down := counter(e.k, "control_peer_down"); down != 0 || len(e.applied()) != 0 {
						t.Errorf("peer declared down %d times (states %v); log:\n%s", down, e.applied(), e.log.String())
					}
					sent, acked := counter(e.k, "control_hellos_sent"), counter(e.k, "control_hellos_acked")
					if sent < 1500 || acked+1 < sent {
						t.Errorf("hellos sent %d, acked %d", sent, acked)
					}
					rtx := counter(e.k, "control_retransmits")
					if c.loss == 0 && rtx != 0 || c.loss > 0 && rtx < 100 {
						t.Errorf("retransmits %d at loss %v", rtx, c.loss)
					}
				}
				if c.loss == 0 {
					// Without loss a HELLO goes exactly every second.
					if s := counter(p.a.k, "control_hellos_sent"); s != 3601 {
						t.Errorf("hellos sent %d in an hour, want 3601", s)
					}
				}
			})
		}
	}
}

// TestKeepaliveLossyRetries shows what the retries buy under 30 % loss
// each way: with 5 a live peer is declared down several times an hour,
// with 8 hardly ever (never over these seeds' hour), so the default
// guards against it with room to spare.
func TestKeepaliveLossyRetries(t *testing.T) {
	downs := map[int]uint64{}
	for _, retries := range []int{5, 8} {
		for seed := 0; seed < 4; seed++ {
			p := newPairRetries(0.3, uint64(seed), retries)
			p.a.k.Start()
			p.b.k.Start()
			p.clock.Advance(time.Hour)
			downs[retries] += counter(p.a.k, "control_peer_down") + counter(p.b.k, "control_peer_down")
		}
	}
	t.Logf("false dead peers in 8 peer-hours at 30 %% loss: %d with 5 retries, %d with 8", downs[5], downs[8])
	if downs[5] < 4 || downs[8] != 0 || DefaultHelloRetries < 8 {
		t.Errorf("false dead peers %v (retries: count), default %d", downs, DefaultHelloRetries)
	}
}

// TestKeepaliveDeadPeer cuts the link both ways at every tenth of an
// interval after a HELLO, for several intervals and retries: the peer is
// declared down once, within Hello × (Retries + 1) of the cut (up to an
// interval until the next HELLO, then Retries waits of at most an
// interval) and no earlier than the sum of those waits (1 s doubling up to
// Hello) after it, less the 105 ms a HELLO sent just before the cut waits
// for its acknowledgement, which the cut loses. The log says
// it once, HELLOs keep going; the link back, the first acknowledgement
// brings the peer up.
func TestKeepaliveDeadPeer(t *testing.T) {
	for _, c := range []struct {
		hello   time.Duration
		retries int
	}{{time.Second, 0}, {time.Second, 1}, {time.Second, 5}, {3 * time.Second, 3}, {10 * time.Second, 5}} {
		retries := c.retries
		if retries == 0 {
			retries = DefaultHelloRetries
		}
		bound := c.hello * time.Duration(retries+1)
		// The waits: the first min(1 s, hello), doubling up to hello.
		least := -105 * time.Millisecond
		for i, rto := 0, min(time.Second, c.hello); i < retries; i, rto = i+1, min(2*rto, c.hello) {
			least += rto
		}
		t.Run(fmt.Sprintf("hello=%v/retries=%d", c.hello, retries), func(t *testing.T) {
			var worst time.Duration
			for phase := 0; phase < 10; phase++ {
				p := newPairHello(0, 1, retries, c.hello)
				p.a.k.Start()
				p.b.k.Start()
				p.clock.Advance(10*c.hello + time.Duration(phase)*c.hello/10 + time.Millisecond)
				p.ab.down, p.ba.down = true, true
				cut := p.clock.Now()
				for p.clock.Now().Sub(cut) < 2*bound {
					p.clock.Advance(10 * time.Millisecond)
					if down, _ := p.a.k.State(); down {
						break
					}
				}
				down, since := p.a.k.State()
				took := since.Sub(cut)
				worst = max(worst, took)
				if !down || took > bound || took < least {
					t.Fatalf("cut %v after a HELLO: down %v after %v, want within %v to %v", time.Duration(phase)*c.hello/10, down, took, least, bound)
				}
				if s := p.a.applied(); len(s) != 1 || !s[0] {
					t.Errorf("states applied %v, want [true]", s)
				}
				n, _ := p.ab.messages()
				p.clock.Advance(10 * c.hello)
				if m, _ := p.ab.messages(); len(m)-len(n) < 9 {
					t.Errorf("%d messages in the %v after the peer went down, want a HELLO every interval", len(m)-len(n), 10*c.hello)
				}
				if c := strings.Count(p.a.log.String(), "stopped acknowledging"); c != 1 {
					t.Errorf("logged %d times, want once:\n%s", c, p.a.log.String())
				}
				p.ab.down, p.ba.down = false, false
				back := p.clock.Now()
				for p.clock.Now().Sub(back) < 2*c.hello && func() bool { d, _ := p.a.k.State(); return d }() {
					p.clock.Advance(10 * time.Millisecond)
				}
				if d, _ := p.a.k.State(); d {
					t.Fatalf("still down %v after the link came back", 2*c.hello)
				}
				if s := p.a.applied(); len(s) != 2 || s[1] {
					t.Errorf("states applied %v, want [true false]", s)
				}
				if !strings.Contains(p.a.log.String(), "answers the control channel again") {
					t.Errorf("log:\n%s", p.a.log.String())
				}
				if counter(p.a.k, "control_peer_down") != 1 {
					t.Errorf("control_peer_down %d", counter(p.a.k, "control_peer_down"))
				}
			}
			t.Logf("down at most %v after the cut (bound %v)", worst, bound)
		})
	}
}

// TestKeepalivePeerRestart: B is replaced by a fresh keepalive (a peer
// restarted) while A is down; A follows B's new numbering and is up within
// a second of B's first HELLO.
func TestKeepalivePeerRestart(t *testing.T) {
	p := newPair(0, 1)
	p.a.k.Start()
	p.b.k.Start()
	p.clock.Advance(5 * time.Second)
	p.b.k.Stop()
	p.ab.to = nil
	p.clock.Advance(40 * time.Second)
	if d, _ := p.a.k.State(); !d {
		t.Fatal("A not down 40 s after B stopped")
	}
	b2 := newEnd(p.clock, idB, idA, p.ba, true)
	p.ab.to = b2.k.Control
	start := p.clock.Now()
	b2.k.Start()
	for i := 0; i < 20 && func() bool { d, _ := p.a.k.State(); return d }(); i++ {
		p.clock.Advance(50 * time.Millisecond)
	}
	if d, _ := p.a.k.State(); d || p.clock.Now().Sub(start) > time.Second {
		t.Fatalf("A down %v, %v after B restarted", d, p.clock.Now().Sub(start))
	}
	p.clock.Advance(time.Minute)
	if counter(p.a.k, "control_peer_restarts") != 1 || counter(b2.k, "control_peer_down") != 0 || counter(p.a.k, "control_peer_down") != 1 {
		t.Errorf("A: %v\nB: %v", p.a.k.Counters(), b2.k.Counters())
	}
}

// TestKeepaliveSilentPeer: a peer that never answers (no control channel)
// is reported as such; with Required the tunnel goes down, without it
// only the log says so.
func TestKeepaliveSilentPeer(t *testing.T) {
	for _, required := range []bool{true, false} {
		t.Run(fmt.Sprint("required=", required), func(t *testing.T) {
			clock := newFakeClock()
			out := &link{clock: clock, rng: rand.New(rand.NewPCG(1, 1))}
			e := newEnd(clock, idA, idB, out, required)
			e.k.Start()
			clock.Advance(2 * time.Minute)
			log := e.log.String()
			if strings.Count(log, "never answered the control channel") != 1 {
				t.Errorf("log:\n%s", log)
			}
			if required && (!strings.Contains(log, "-hello-required=off to keep data flowing") || len(e.applied()) != 1) {
				t.Errorf("states %v, log:\n%s", e.applied(), log)
			}
			if !required && (!strings.Contains(log, "data keeps flowing") || len(e.applied()) != 0) {
				t.Errorf("states %v, log:\n%s", e.applied(), log)
			}
			if d, _ := e.k.State(); !d {
				t.Error("state up")
			}
		})
	}
}
