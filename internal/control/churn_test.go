package control

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/testalloc"
)

// tally is an Events that keeps no history: the sessions up now, and how
// many came up and went down.
type tally struct {
	up       map[string]DataConfig
	ups, cdn int
}

func (e *tally) ConnUp(string)                 {}
func (e *tally) ConnDown(string)               {}
func (e *tally) CircuitStatus(string, bool)    {}
func (e *tally) SessionUp(d DataConfig)        { e.up[d.EndID] = d; e.ups++ }
func (e *tally) SessionDown(id, reason string) { delete(e.up, id); e.cdn++ }

// TestDynamicSessionChurn keeps one control connection up while the peer
// ends a circuit's session with a CDN and asks for a new one with an ICRQ,
// 500 times, on the real transport with a fake clock and links that keep
// nothing. Each new session must come up on both ends with new IDs, and
// the live heap after a collection must come back within 1 MiB of where
// it was after the first round: an ended session leaves nothing in the
// connection's tables or the transport's queues.
func TestDynamicSessionChurn(t *testing.T) {
	const rounds = 500
	clock := newFakeClock()
	mk := func(name, peer string, initiator bool) (*Dynamic, *tally, *link) {
		ev := &tally{up: map[string]DataConfig{}}
		out := &link{clock: clock, delay: 5 * time.Millisecond, forget: true, rng: rand.New(rand.NewPCG(1, 2))}
		d, err := NewDynamic(PeerConfig{HostName: name, PeerName: peer, Secret: []byte("s3cret"), Initiator: initiator, Circuits: vm1(initiator)},
			ev, Config{Send: out.send, Clock: clock}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d, ev, out
	}
	peer, pev, pout := mk("peer", "us", true)
	us, uev, uout := mk("us", "peer", false)
	pout.to, uout.to = us.Input, peer.Input
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	bothUp := func() bool {
		_, a := pev.up["vm1"]
		_, b := uev.up["vm1"]
		return a && b
	}
	if !runUntil(clock, 10*time.Second, bothUp) {
		t.Fatal("no session within 10 s")
	}
	round := func(i int) {
		was := uev.up["vm1"]
		peer.CloseSession("vm1") // the peer's CDN
		if !runUntil(clock, 10*time.Second, func() bool { _, ok := uev.up["vm1"]; return !ok }) {
			t.Fatalf("round %d: the CDN did not end our session", i)
		}
		peer.mu.Lock() // the peer's new ICRQ
		peer.Conn.startSession(&peer.Conn.cfg.Circuits[0])
		peer.mu.Unlock()
		if !runUntil(clock, 10*time.Second, bothUp) {
			t.Fatalf("round %d: no new session within 10 s", i)
		}
		if now := uev.up["vm1"]; now.RxSession == was.RxSession && now.TxSession == was.TxSession {
			t.Fatalf("round %d: the new session has the old IDs %d/%d", i, now.TxSession, now.RxSession)
		}
		checkMirrored(t, pev.up["vm1"], uev.up["vm1"])
	}
	if grew := testalloc.HeapGrowth(t, rounds, round); grew > 1<<20 {
		t.Errorf("live heap grew by %d KiB over %d sessions ended by CDN and requested anew (more than 1 MiB)", grew>>10, rounds)
	}
	if uev.ups != rounds+1 || uev.cdn != rounds {
		t.Errorf("%d sessions up and %d down on our end, want %d and %d", uev.ups, uev.cdn, rounds+1, rounds)
	}
	clock.Advance(time.Second) // the last acknowledgements
	for _, e := range []struct {
		name string
		d    *Dynamic
	}{{"our", us}, {"the peer's", peer}} {
		e.d.mu.Lock()
		n, tr := len(e.d.Conn.sessions), e.d.w.t
		e.d.mu.Unlock()
		if n != 1 {
			t.Errorf("%d sessions in %s connection's table, want 1", n, e.name)
		}
		tr.mu.Lock()
		if len(tr.sent)+len(tr.queued)+len(tr.held) != 0 {
			t.Errorf("%s transport holds %d messages unacknowledged, %d queued, %d held", e.name, len(tr.sent), len(tr.queued), len(tr.held))
		}
		tr.mu.Unlock()
	}
}
