package control

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// The attacks of an on-path host that reads the control channel and
// injects messages with the peer's address and port: what it sends
// changes no established connection and draws a bounded number of
// replies.

// forge builds a control message for connection connID with ns and nr;
// with key it carries a Message Digest of type dt signed with the
// sender's nonce first (none for an SCCRQ).
func forge(t testing.TB, typ l2tpv3.MessageType, connID uint32, ns, nr uint16, avps []l2tpv3.AVP, key []byte, dt l2tpv3.DigestType, senderNonce, receiverNonce []byte) []byte {
	t.Helper()
	if key != nil {
		dig := l2tpv3.AppendDigestAVP(nil, dt)[l2tpv3.AVPHeaderLen:]
		avps = append([]l2tpv3.AVP{{Mandatory: true, Type: l2tpv3.AttrMessageDigest, Value: dig}}, avps...)
	}
	b, err := l2tpv3.AppendMessage(nil, l2tpv3.ControlHeader{ConnID: connID, Ns: ns, Nr: nr}, typ, avps)
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		if err := signFor(b, key, senderNonce, receiverNonce); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// sccrq forges the SCCRQ of host "a" asking for connection id, unsigned
// (no secret) or with a nonce and signed.
func sccrq(t testing.TB, id uint32, key []byte, dt l2tpv3.DigestType) []byte {
	t.Helper()
	avps := []l2tpv3.AVP{
		{Mandatory: true, Type: l2tpv3.AttrHostName, Value: []byte("a")},
		u32AVP(l2tpv3.AttrRouterID, 1),
		u32AVP(l2tpv3.AttrAssignedConnID, id),
		{Mandatory: true, Type: l2tpv3.AttrPWCapabilities, Value: []byte{0, 5}},
	}
	if key != nil {
		avps = append(avps, l2tpv3.AVP{Mandatory: true, Type: l2tpv3.AttrCtlMsgAuthNonce, Value: []byte("0123456789abcdef")})
	}
	return forge(t, l2tpv3.MsgSCCRQ, 0, 0, 0, avps, key, dt, nil, nil)
}

// snapshot is what an attack must leave unchanged on an established end.
type snapshot struct {
	state         string
	local, peer   uint32
	localN, peerN string
	session       DataConfig
	events        int
}

func snap(e *dynEnd) snapshot {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	c := e.d.Conn
	return snapshot{state: c.state.String(), local: c.localID, peer: c.peerID, localN: string(c.localNonce),
		peerN: string(c.peerNonce), session: e.ev.up["vm1"], events: len(e.ev.log)}
}

// sentCount returns how many messages e has put on the wire.
func sentCount(e *dynEnd) int {
	e.out.mu.Lock()
	defer e.out.mu.Unlock()
	return len(e.out.sent)
}

// pendingTimers returns the timers the fake clock still has to run.
func pendingTimers(c *fakeClock) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// established sets up a and b (a initiates) with secret and returns them
// with their session up.
func establishedPair(t *testing.T, clock *fakeClock, secret string, digest l2tpv3.DigestType) (a, b *dynEnd) {
	t.Helper()
	a, b = dynPair(t, clock, 0, 1, secret,
		PeerConfig{Initiator: true, Digest: digest, Circuits: vm1(true)}, PeerConfig{Digest: digest, Circuits: vm1(false)})
	a.d.Start()
	if !runUntil(clock, 10*time.Second, bothUp(a, b)) {
		t.Fatalf("no session: %v / %v", a.ev.log, b.ev.log)
	}
	clock.Advance(time.Second) // the last acknowledgements
	return a, b
}

// TestAttackPreviousConnection (attack 1): after a connection ended with
// our StopCCN and a new one came up, messages for the previous
// connection's ID go to its lingering transport. Unsigned, or signed with
// that connection's own nonces, none of them reaches the new connection:
// the closed one takes acknowledgements only, and delivers nothing.
func TestAttackPreviousConnection(t *testing.T) {
	for _, secret := range []string{"s3cret", ""} {
		t.Run("secret="+secret, func(t *testing.T) {
			clock := newFakeClock()
			a, b := establishedPair(t, clock, secret, l2tpv3.DigestMD5)
			b.d.mu.Lock()
			oldLocal, oldLocalN, oldPeerN := b.d.Conn.localID, b.d.Conn.localNonce, b.d.Conn.peerNonce
			b.d.mu.Unlock()
			// b ends the connection with a StopCCN, a asks again.
			a.out.down = true // the StopCCN's acknowledgement is lost: b's transport lingers
			b.d.Stop("operator")
			clock.Advance(10 * time.Millisecond)
			a.out.down = false
			a.d.Stop("peer gone")
			a.d.Start()
			if !runUntil(clock, 10*time.Second, bothUp(a, b)) {
				t.Fatalf("no new session: %v", b.ev.log)
			}
			clock.Advance(time.Second)
			b.d.mu.Lock()
			last := b.d.last
			b.d.mu.Unlock()
			if last == nil || last.sign.localID != oldLocal {
				t.Fatal("the previous connection's transport does not linger")
			}
			before := snap(b)
			var key []byte
			if secret != "" {
				key = l2tpv3.SharedKey([]byte(secret))
			}
			stop := []l2tpv3.AVP{u32AVP(l2tpv3.AttrAssignedConnID, 1), resultAVP(l2tpv3.ResultCode{Result: l2tpv3.StopClear})}
			for _, m := range []struct {
				name string
				raw  []byte
			}{
				{"unsigned StopCCN", forge(t, l2tpv3.MsgStopCCN, oldLocal, 0, 1, stop, nil, 0, nil, nil)},
				{"StopCCN signed with the old nonces", forge(t, l2tpv3.MsgStopCCN, oldLocal, 0, 1, stop, key, l2tpv3.DigestMD5, oldPeerN, oldLocalN)},
				{"HELLO signed with the old nonces", forge(t, l2tpv3.MsgHELLO, oldLocal, 0, 1, nil, key, l2tpv3.DigestMD5, oldPeerN, oldLocalN)},
				{"ICRQ", forge(t, l2tpv3.MsgICRQ, oldLocal, 0, 1, nil, key, l2tpv3.DigestMD5, oldPeerN, oldLocalN)},
			} {
				for ns := uint16(0); ns < 8; ns++ {
					raw := append([]byte(nil), m.raw...)
					binary.BigEndian.PutUint16(raw[8:], ns)
					if key != nil {
						signFor(raw, key, oldPeerN, oldLocalN)
					}
					sent := sentCount(b)
					b.d.Input(raw)
					clock.Advance(200 * time.Millisecond)
					if after := snap(b); after != before {
						t.Fatalf("%s Ns %d: changed %+v into %+v", m.name, ns, before, after)
					}
					// Nothing answers it: what b sent meanwhile is its
					// StopCCN, retransmitted.
					out, _ := b.out.messages()
					for _, o := range out[sent:] {
						if p, err := l2tpv3.ParseMessage(o); err != nil || p.Type != l2tpv3.MsgStopCCN {
							t.Fatalf("%s Ns %d: b sent %v (%v)", m.name, ns, p.Type, err)
						}
					}
				}
			}
			last.t.mu.Lock()
			nr := last.t.ns // acknowledges everything it sent
			last.t.mu.Unlock()
			if secret != "" {
				// An ACK signed with the other connection's nonces is not
				// taken for the previous one's.
				refused := b.d.Stats.AuthFailed.Load()
				b.d.Input(forge(t, l2tpv3.MsgACK, oldLocal, 1, nr, nil, key, l2tpv3.DigestMD5, []byte("wrong nonce"), oldLocalN))
				if b.d.Stats.AuthFailed.Load() != refused+1 || last.t.Outstanding() == 0 {
					t.Fatalf("an ACK with the wrong nonce was taken (auth failures %d → %d)", refused, b.d.Stats.AuthFailed.Load())
				}
			}
			// The real acknowledgement (of everything it sent) is still taken.
			ack := forge(t, l2tpv3.MsgACK, oldLocal, 1, nr, nil, key, l2tpv3.DigestMD5, oldPeerN, oldLocalN)
			if key == nil {
				ack = l2tpv3.AppendZLB(nil, l2tpv3.ControlHeader{ConnID: oldLocal, Ns: 1, Nr: nr})
			}
			b.d.Input(ack)
			if n := last.t.Outstanding(); n != 0 {
				t.Fatalf("the StopCCN's acknowledgement was not taken: %d outstanding", n)
			}
		})
	}
}

// TestAttackRestartKeepsOld (attack 1, after a restart): the peer
// restarts without a StopCCN; the new connection replaces the old one
// only once its SCCCN verified, and then nothing addressed to the old
// connection's ID changes it.
func TestAttackRestartKeepsOld(t *testing.T) {
	clock := newFakeClock()
	a, b := establishedPair(t, clock, "s3cret", l2tpv3.DigestMD5)
	b.d.mu.Lock()
	oldLocal := b.d.Conn.localID
	b.d.mu.Unlock()
	first := b.ev.up["vm1"]
	a2, _ := dynPair(t, clock, 0, 4, "s3cret", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{})
	a2.out.to, b.out.to = b.d.Input, a2.d.Input
	_ = a
	a2.d.Start()
	if !runUntil(clock, 10*time.Second, bothUp(a2, b)) || b.ev.up["vm1"] == first {
		t.Fatalf("no new session after the restart: %v", b.ev.log)
	}
	clock.Advance(time.Second)
	before := snap(b)
	stop := []l2tpv3.AVP{u32AVP(l2tpv3.AttrAssignedConnID, 1), resultAVP(l2tpv3.ResultCode{Result: l2tpv3.StopClear})}
	for ns := uint16(0); ns < 8; ns++ {
		b.d.Input(forge(t, l2tpv3.MsgStopCCN, oldLocal, ns, 2, stop, nil, 0, nil, nil))
	}
	clock.Advance(time.Second)
	if after := snap(b); after != before {
		t.Fatalf("messages for the old connection changed %+v into %+v", before, after)
	}
	if n := b.d.Stats.NotOurs.Load() + b.d.Stats.AuthFailed.Load(); n != 8 {
		t.Fatalf("%d of 8 messages for the old connection refused", n)
	}
}

// TestAttackReplayedSCCRQ (attack 2): a captured SCCRQ replayed 21 s
// later, then two captured SCCRQs alternated 10,000 times: the
// established connection is untouched and the replies are bounded by
// the SCCRQ rate limit, whatever the flood.
func TestAttackReplayedSCCRQ(t *testing.T) {
	clock := newFakeClock()
	a, b := establishedPair(t, clock, "s3cret", l2tpv3.DigestMD5)
	// Captured SCCRQs: those of two earlier starts of a (other IDs and
	// nonces, the same secret).
	var captured [][]byte
	for seed := uint64(8); seed <= 9; seed++ {
		x, _ := dynPair(t, clock, 0, seed, "s3cret", PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{})
		x.out.down = true
		x.d.Start()
		sent, _ := x.out.messages()
		if p, err := l2tpv3.ParseMessage(sent[0]); err != nil || p.Type != l2tpv3.MsgSCCRQ {
			t.Fatalf("captured %v, %v: want an SCCRQ", p.Type, err)
		}
		captured = append(captured, sent[0])
		x.d.Stop("")
	}
	first, second := captured[0], captured[1]
	before := snap(b)
	goroutines := runtime.NumGoroutine()

	clock.Advance(21 * time.Second)
	bSent := sentCount(b)
	b.d.Input(first)
	clock.Advance(40 * time.Second) // every retransmission of the reply
	if after := snap(b); after != before {
		t.Fatalf("one replay changed %+v into %+v: %v", before, after, b.ev.log)
	}
	if n := sentCount(b) - bSent; n > 1+DefaultRetryLimit+1 {
		t.Fatalf("one replay drew %d messages", n)
	}

	const flood = 10000
	bSent = sentCount(b)
	start := clock.Now()
	for i := range flood {
		if i%2 == 0 {
			b.d.Input(first)
		} else {
			b.d.Input(second)
		}
		clock.Advance(time.Millisecond)
		if i%1000 == 0 {
			// The real connection carries on meanwhile.
			b.d.Hello(0)
		}
	}
	secs := int(clock.Now().Sub(start) / SCCRQInterval)
	clock.Advance(40 * time.Second)
	replies := sentCount(b) - bSent
	if after := snap(b); after != before {
		t.Fatalf("the flood changed %+v into %+v: %v", before, after, b.ev.log)
	}
	// Each SCCRQ the limit lets through draws one SCCRP, repeated until
	// the next replaces it (about once a second), and the last one's
	// retransmissions; plus the connection's own HELLOs.
	limit := 2*(SCCRQBurst+secs) + DefaultRetryLimit + 1 + flood/1000
	t.Logf("%d replayed SCCRQs in %d s: %d messages sent (limit %d), %d rate-limited, %d timers pending, goroutines %d → %d",
		flood, secs, replies, limit, b.d.Stats.RateLimited.Load(), pendingTimers(clock), goroutines, runtime.NumGoroutine())
	if replies > limit {
		t.Fatalf("%d messages sent for %d replayed SCCRQs, limit %d", replies, flood, limit)
	}
	if n := pendingTimers(clock); n > 4 {
		t.Fatalf("%d timers pending after the flood", n)
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Fatalf("goroutines %d → %d", goroutines, g)
	}
	// The connection still works: a HELLO is acknowledged.
	if !b.d.Hello(0) {
		t.Fatal("no HELLO on the established connection")
	}
	if !runUntil(clock, 5*time.Second, func() bool { return b.d.w.t.Outstanding() == 0 }) {
		t.Fatal("the peer does not acknowledge the HELLO")
	}
	if !a.ev.conn || !b.ev.conn {
		t.Fatalf("connection down: %v / %v", a.ev.log, b.ev.log)
	}
}

// TestAttackSpoofedSCCRQ (attack 3): without a secret, 20,000 spoofed
// SCCRQs with distinct connection IDs, to an established end and to one
// waiting for its peer: the established connection stays, at most one
// half-open connection exists at a time, the replies are bounded by the
// rate limit, and no timer or goroutine is left per SCCRQ.
func TestAttackSpoofedSCCRQ(t *testing.T) {
	for _, established := range []bool{true, false} {
		name := "established"
		if !established {
			name = "responder waiting"
		}
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			var a, b *dynEnd
			if established {
				a, b = establishedPair(t, clock, "", l2tpv3.DigestMD5)
			} else {
				a, b = dynPair(t, clock, 0, 1, "", PeerConfig{Circuits: vm1(true)}, PeerConfig{Circuits: vm1(false)})
			}
			before := snap(b)
			goroutines := runtime.NumGoroutine()
			bSent := sentCount(b)
			const flood = 20000
			start := clock.Now()
			maxHalfOpen := 0
			for i := range flood {
				b.d.Input(sccrq(t, uint32(1_000_000+i), nil, 0))
				clock.Advance(500 * time.Microsecond)
				b.d.mu.Lock()
				half := 0
				if b.d.cand != nil {
					half++
				}
				if b.d.Conn.state == connWaitConn {
					half++
				}
				b.d.mu.Unlock()
				maxHalfOpen = max(maxHalfOpen, half)
			}
			secs := int(clock.Now().Sub(start) / SCCRQInterval)
			timersAfterFlood := pendingTimers(clock)
			clock.Advance(40 * time.Second)
			replies := sentCount(b) - bSent
			limit := 2*(SCCRQBurst+secs) + DefaultRetryLimit + 1
			t.Logf("%d spoofed SCCRQs in %d s: %d messages sent (limit %d), %d rate-limited, at most %d half-open, %d timers pending, goroutines %d → %d",
				flood, secs, replies, limit, b.d.Stats.RateLimited.Load(), maxHalfOpen, timersAfterFlood, goroutines, runtime.NumGoroutine())
			if replies > limit {
				t.Fatalf("%d messages sent for %d SCCRQs, limit %d", replies, flood, limit)
			}
			if maxHalfOpen > 1 {
				t.Fatalf("%d half-open connections at once", maxHalfOpen)
			}
			if timersAfterFlood > 4 {
				t.Fatalf("%d timers pending during the flood", timersAfterFlood)
			}
			if g := runtime.NumGoroutine(); g > goroutines+2 {
				t.Fatalf("goroutines %d → %d", goroutines, g)
			}
			if established {
				if after := snap(b); after != before || !a.ev.conn {
					t.Fatalf("the flood changed %+v into %+v: %v", before, after, b.ev.log)
				}
			} else if len(b.ev.log) != 1 {
				// The half-open connections were replaced silently; the
				// last one, never confirmed, ends with one line.
				t.Fatalf("events: %v, want one connection down", b.ev.log)
			}
		})
	}
}

// TestDigestPinned: an end configured for HMAC-SHA-1 refuses a peer
// signing with HMAC-MD5 (same secret), counting every message as an
// authentication failure, and the other way round.
func TestDigestPinned(t *testing.T) {
	for _, tc := range []struct{ a, b l2tpv3.DigestType }{
		{l2tpv3.DigestMD5, l2tpv3.DigestSHA1},
		{l2tpv3.DigestSHA1, l2tpv3.DigestMD5},
	} {
		clock := newFakeClock()
		a, b := dynPair(t, clock, 0, 1, "s3cret",
			PeerConfig{Initiator: true, Digest: tc.a, Circuits: vm1(true)}, PeerConfig{Digest: tc.b, Circuits: vm1(false)})
		a.d.Start()
		clock.Advance(5 * time.Second)
		if b.ev.conn || len(b.ev.log) != 0 || b.d.Stats.AuthFailed.Load() == 0 || sentCount(b) != 0 {
			t.Fatalf("%v against %v: events %v, %d auth failures, %d sent", tc.a, tc.b, b.ev.log, b.d.Stats.AuthFailed.Load(), sentCount(b))
		}
	}
	// Established with SHA-1, a message signed with MD5 and the right
	// nonces is refused too.
	clock := newFakeClock()
	_, b := establishedPair(t, clock, "s3cret", l2tpv3.DigestSHA1)
	before := snap(b)
	b.d.mu.Lock()
	c := b.d.Conn
	raw := forge(t, l2tpv3.MsgStopCCN, c.localID, 1, 2, []l2tpv3.AVP{u32AVP(l2tpv3.AttrAssignedConnID, c.peerID),
		resultAVP(l2tpv3.ResultCode{Result: l2tpv3.StopClear})}, c.key, l2tpv3.DigestMD5, c.peerNonce, c.localNonce)
	b.d.mu.Unlock()
	failed := b.d.Stats.AuthFailed.Load()
	b.d.Input(raw)
	clock.Advance(time.Second)
	if after := snap(b); after != before || b.d.Stats.AuthFailed.Load() != failed+1 {
		t.Fatalf("an HMAC-MD5 StopCCN to an HMAC-SHA-1 connection: %+v → %+v, auth failures %d → %d", before, after, failed, b.d.Stats.AuthFailed.Load())
	}
}

// TestRefusedInputAllocs: what an attacker can send in bulk costs no
// allocation once refused (a replayed SCCRQ beyond the rate limit, an
// unsigned one, a forged message for our connection, one for a
// connection we do not have), so a flood grows no heap.
func TestRefusedInputAllocs(t *testing.T) {
	clock := newFakeClock()
	_, b := establishedPair(t, clock, "s3cret", l2tpv3.DigestMD5)
	key := l2tpv3.SharedKey([]byte("s3cret"))
	b.d.mu.Lock()
	local := b.d.Conn.localID
	b.d.mu.Unlock()
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"replayed SCCRQ", sccrq(t, 99, key, l2tpv3.DigestMD5)},
		{"unsigned SCCRQ", sccrq(t, 99, nil, 0)},
		{"unsigned StopCCN", forge(t, l2tpv3.MsgStopCCN, local, 3, 0, nil, nil, 0, nil, nil)},
		{"StopCCN with wrong nonces", forge(t, l2tpv3.MsgStopCCN, local, 3, 0, nil, key, l2tpv3.DigestMD5, []byte("x"), []byte("y"))},
		{"HELLO for another connection", forge(t, l2tpv3.MsgHELLO, local+1, 3, 0, nil, nil, 0, nil, nil)},
	} {
		for range SCCRQBurst + 1 {
			b.d.Input(c.msg) // past the rate limit's burst
		}
		if n := testing.AllocsPerRun(200, func() { b.d.Input(c.msg) }); n != 0 {
			t.Errorf("%s: %v allocations per message", c.name, n)
		}
	}
}
