package control

import (
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// TestDynamicTieNoStaleSCCRQ: both ends initiate at once with a secret;
// the SCCRQ that lost the tie is not retransmitted into the connection
// that won (it was, signed with the new connection's nonces and
// addressed to its ID, so the peer counted authentication failures), and
// the connection stays up through a full retransmission cycle.
func TestDynamicTieNoStaleSCCRQ(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		clock := newFakeClock()
		a, b := dynPair(t, clock, 0, seed, "s3cret",
			PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{Initiator: true, Circuits: vm1(true)})
		a.d.Start()
		b.d.Start()
		if !runUntil(clock, 10*time.Second, bothUp(a, b)) {
			t.Fatalf("seed %d: no session: %v / %v", seed, a.ev.log, b.ev.log)
		}
		clock.Advance(40 * time.Second)
		for _, e := range []*dynEnd{a, b} {
			if n := e.d.Stats.AuthFailed.Load() + e.d.Stats.Stranger.Load() + e.d.Stats.NotOurs.Load(); n != 0 || !e.ev.conn {
				t.Errorf("seed %d: %d messages refused, connection up %v: %v", seed, n, e.ev.conn, e.ev.log)
			}
			sccrq := 0
			sent, _ := e.out.messages()
			for _, raw := range sent {
				if m, err := l2tpv3.ParseMessage(raw); err == nil && m.Type == l2tpv3.MsgSCCRQ {
					sccrq++
				}
			}
			if sccrq != 1 {
				t.Errorf("seed %d: %d SCCRQs sent, want 1", seed, sccrq)
			}
		}
	}
}

// TestDynamicStopBeforeReply: an initiator stopped before any SCCRP sends
// no StopCCN (the peer has no connection it could name), and its SCCRQ is
// not retransmitted once a new connection starts.
func TestDynamicStopBeforeReply(t *testing.T) {
	clock := newFakeClock()
	a, _ := dynPair(t, clock, 0, 1, "s3cret", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{})
	a.out.down = true
	a.d.Start()
	clock.Advance(500 * time.Millisecond)
	a.d.Stop("stopping")
	a.d.Start()
	clock.Advance(3500 * time.Millisecond) // retransmissions at 1 and 3 s
	sent, _ := a.out.messages()
	var types []l2tpv3.MessageType
	ids := map[uint32]int{}
	for _, raw := range sent {
		m, err := l2tpv3.ParseMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Type)
		var at l2tpv3.Attrs
		l2tpv3.ParseAttrs(&m, &at)
		ids[at.AssignedConnID]++
	}
	for _, typ := range types {
		if typ != l2tpv3.MsgSCCRQ {
			t.Fatalf("sent %v, want SCCRQs only", types)
		}
	}
	if len(ids) != 2 || len(types) != 4 {
		t.Errorf("SCCRQs by connection ID %v (%d sent): want the first once, the second three times", ids, len(types))
	}
}

// TestDynamicOwnSCCRQ: an SCCRQ that comes back to its sender (a peer
// address that is our own) is refused as a stranger's, rather than taken
// for a tie that restarts the connection at once, forever.
func TestDynamicOwnSCCRQ(t *testing.T) {
	clock := newFakeClock()
	a, _ := dynPair(t, clock, 0, 1, "", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{})
	a.out.to = a.d.Input
	a.d.Start()
	clock.Advance(2500 * time.Millisecond) // the first SCCRQ and its retransmission at 1 s
	sent, _ := a.out.messages()
	if len(sent) != 2 || a.d.Stats.Stranger.Load() != 2 || a.ev.conn {
		t.Errorf("%d messages sent, %d refused as a stranger's, connection %v: want 2, 2, none", len(sent), a.d.Stats.Stranger.Load(), a.ev.conn)
	}
}
