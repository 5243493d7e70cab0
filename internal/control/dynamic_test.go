package control

import (
	randv2 "math/rand/v2"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

type dynEnd struct {
	d   *Dynamic
	ev  *recorder
	out *link
}

// dynPair joins two Dynamics over lossy in-memory links run by a fake
// clock: the state machines on the real reliable transport.
func dynPair(t *testing.T, clock *fakeClock, loss float64, seed uint64, secret string, cfgA, cfgB PeerConfig) (a, b *dynEnd) {
	t.Helper()
	mk := func(name, peer string, cfg PeerConfig, s uint64) *dynEnd {
		e := &dynEnd{ev: newRecorder(), out: &link{clock: clock, delay: 5 * time.Millisecond, loss: loss, rng: randv2.New(randv2.NewPCG(seed, s))}}
		cfg.HostName, cfg.PeerName, cfg.Secret = name, peer, []byte(secret)
		d, err := NewDynamic(cfg, e.ev, Config{Send: e.out.send, Clock: clock}, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.d = d
		return e
	}
	a, b = mk("a", "b", cfgA, 1), mk("b", "a", cfgB, 2)
	a.out.to, b.out.to = b.d.Input, a.d.Input
	return a, b
}

// runUntil advances the clock in small steps until cond holds or limit passes.
func runUntil(clock *fakeClock, limit time.Duration, cond func() bool) bool {
	for step := time.Duration(0); step < limit; step += 10 * time.Millisecond {
		if cond() {
			return true
		}
		clock.Advance(10 * time.Millisecond)
	}
	return cond()
}

func bothUp(a, b *dynEnd) func() bool {
	return func() bool {
		_, okA := a.ev.up["vm1"]
		_, okB := b.ev.up["vm1"]
		return okA && okB
	}
}

func TestDynamicOverLossyTransport(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		for seed := uint64(1); seed <= 5; seed++ {
			clock := newFakeClock()
			a, b := dynPair(t, clock, 0.2, seed, secret,
				PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{Circuits: vm1(false)})
			a.d.Start()
			if !runUntil(clock, 120*time.Second, bothUp(a, b)) {
				t.Fatalf("secret %q seed %d: no session in 120 s of 20%% loss: %v / %v", secret, seed, a.ev.log, b.ev.log)
			}
			checkMirrored(t, a.ev.up["vm1"], b.ev.up["vm1"])
			for _, e := range []*dynEnd{a, b} {
				if n := e.d.Stats.AuthFailed.Load() + e.d.Stats.Invalid.Load() + e.d.Stats.Stranger.Load(); n != 0 {
					t.Fatalf("secret %q seed %d: %d messages of the peer refused", secret, seed, n)
				}
				sent, _ := e.out.messages()
				for _, raw := range sent {
					m, err := l2tpv3.ParseMessage(raw)
					if err != nil {
						t.Fatal(err)
					}
					if secret != "" && m.IsZLB() {
						t.Fatalf("a ZLB with authentication on")
					}
				}
			}
			// Teardown crosses the lossy link reliably.
			a.d.Stop("test over")
			if !runUntil(clock, 60*time.Second, func() bool { return !b.ev.conn && len(b.ev.up) == 0 }) {
				t.Fatalf("secret %q seed %d: StopCCN never arrived: %v", secret, seed, b.ev.log)
			}
		}
	}
}

func TestDynamicPeerRestartAndStranger(t *testing.T) {
	clock := newFakeClock()
	a, b := dynPair(t, clock, 0, 1, "s3cret", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{Circuits: vm1(false)})
	a.d.Start()
	if !runUntil(clock, 10*time.Second, bothUp(a, b)) {
		t.Fatalf("no session: %v / %v", a.ev.log, b.ev.log)
	}
	first := b.ev.up["vm1"]
	// A stranger with the wrong secret knocks: refused, nothing changes.
	x, _ := dynPair(t, clock, 0, 3, "wrong", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{})
	x.out.to = b.d.Input
	x.d.Start()
	clock.Advance(time.Second)
	if b.d.Stats.AuthFailed.Load() == 0 || b.ev.up["vm1"] != first {
		t.Fatalf("stranger: auth failures %d, log %v", b.d.Stats.AuthFailed.Load(), b.ev.log)
	}
	// The peer restarts: a new process with new IDs.
	a2, _ := dynPair(t, clock, 0, 4, "s3cret", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{})
	a2.out.to = b.d.Input
	b.out.to = a2.d.Input
	a2.d.Start()
	if !runUntil(clock, 10*time.Second, bothUp(a2, b)) || b.ev.up["vm1"] == first {
		t.Fatalf("no new session after the restart: %v", b.ev.log)
	}
	checkMirrored(t, a2.ev.up["vm1"], b.ev.up["vm1"])
}

// TestDynamicHelloAcknowledged: with authentication, once the peer has
// acknowledged with ACK messages the transport answers in kind, and those
// ACKs are signed too (they were sent without a digest, refused by the
// signer, so that a quiet connection's HELLOs went unacknowledged until
// the peer gave up on it). A HELLO each way, several times over.
func TestDynamicHelloAcknowledged(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		clock := newFakeClock()
		a, b := dynPair(t, clock, 0, 1, secret, PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{Circuits: vm1(false)})
		a.d.Start()
		if !runUntil(clock, 10*time.Second, bothUp(a, b)) {
			t.Fatalf("secret %q: no session", secret)
		}
		for round := range 3 {
			for _, e := range []*dynEnd{a, b} {
				clock.Advance(2 * time.Second)
				if !e.d.Hello(time.Second) {
					t.Fatalf("secret %q round %d: no HELLO sent", secret, round)
				}
				if !runUntil(clock, 500*time.Millisecond, func() bool { return e.d.w.t.Outstanding() == 0 }) {
					t.Fatalf("secret %q round %d: HELLO not acknowledged within 500 ms", secret, round)
				}
			}
		}
		for _, e := range []*dynEnd{a, b} {
			if n := e.d.Retransmits(); n != 0 || !e.ev.conn {
				t.Fatalf("secret %q: %d retransmissions, connection up %v", secret, n, e.ev.conn)
			}
		}
	}
}
