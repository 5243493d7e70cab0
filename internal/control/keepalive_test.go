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
	e := &end{}
	e.k = NewKeepalive(KeepaliveConfig{
		Transport: Config{LocalID: local, PeerID: peer, Send: out.send, Clock: clock},
		Hello:     time.Second, Required: required, Peer: "peer",
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

func newPair(loss float64, seed uint64) *pair {
	p := &pair{clock: newFakeClock()}
	rng := rand.New(rand.NewPCG(seed, 7))
	p.ab = &link{clock: p.clock, delay: 5 * time.Millisecond, loss: loss, rng: rng}
	p.ba = &link{clock: p.clock, delay: 5 * time.Millisecond, loss: loss, rng: rng}
	p.a = newEnd(p.clock, idA, idB, p.ab, true)
	p.b = newEnd(p.clock, idB, idA, p.ba, true)
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

// TestKeepaliveLossy runs two keepalives for an hour of simulated time
// over links that lose nothing, 20 % and 30 % of the messages each way:
// no peer is ever declared down, every loss is made good by
// retransmissions, and HELLOs go every second.
func TestKeepaliveLossy(t *testing.T) {
	for _, c := range []struct {
		loss  float64
		seeds int
	}{{0, 1}, {0.2, 5}, {0.3, 2}} {
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

// TestKeepaliveDeadPeer cuts the link both ways: the peer is declared down
// once, within a second plus 31 s (1+2+4+8+8+8 of backoff), the log says
// it once, HELLOs keep going; the link back, the first acknowledgement
// brings the peer up.
func TestKeepaliveDeadPeer(t *testing.T) {
	p := newPair(0, 1)
	p.a.k.Start()
	p.b.k.Start()
	p.clock.Advance(10*time.Second + 300*time.Millisecond)
	p.ab.down, p.ba.down = true, true
	cut := p.clock.Now()
	for i := 0; i < 40*10; i++ {
		p.clock.Advance(100 * time.Millisecond)
		if down, _ := p.a.k.State(); down {
			break
		}
	}
	down, since := p.a.k.State()
	took := since.Sub(cut)
	if !down || took > 32*time.Second || took < 31*time.Second {
		t.Fatalf("down %v after %v, want within 31-32 s", down, took)
	}
	if s := p.a.applied(); len(s) != 1 || !s[0] {
		t.Errorf("states applied %v, want [true]", s)
	}
	n, _ := p.ab.messages()
	p.clock.Advance(time.Minute)
	m, _ := p.ab.messages()
	if len(m)-len(n) < 7 {
		t.Errorf("%d messages in the minute after the peer went down, want HELLOs every 8 s", len(m)-len(n))
	}
	if c := strings.Count(p.a.log.String(), "stopped acknowledging"); c != 1 {
		t.Errorf("logged %d times, want once:\n%s", c, p.a.log.String())
	}
	p.ab.down, p.ba.down = false, false
	back := p.clock.Now()
	for i := 0; i < 100 && func() bool { d, _ := p.a.k.State(); return d }(); i++ {
		p.clock.Advance(100 * time.Millisecond)
	}
	if d, _ := p.a.k.State(); d {
		t.Fatal("still down 10 s after the link came back")
	}
	t.Logf("down after %v; up %v after the link came back", took, p.clock.Now().Sub(back))
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
