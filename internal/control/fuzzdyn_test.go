package control

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// FuzzDynamic drives the dynamic control plane of one end, b, with a
// sequence of operations read from the input, three bytes each: time
// passing; messages of the real peer a replayed (as they were, or with
// another connection ID, Ns or Nr); messages forged for b's current,
// previous or second-handshake connection ID or connection 0, signed with
// wrong nonces, with the other digest algorithm, or not at all; SCCRQs
// with new IDs and good digests (an SCCRQ has no nonce, so the harness
// can sign one); restarts of a; b clearing its connection (StopCCN).
// After each operation: b has at most one
// established connection and at most one half-open one, a bounded number
// of timers, and an established connection that a message failing
// verification (with b's current nonces, or its second handshake's) did
// not change at all.
func FuzzDynamic(f *testing.F) {
	f.Add([]byte{0, 10, 0, 1, 3, 0, 2, 3, 1, 3, 14, 2, 7, 14, 1, 5, 1, 2, 0, 50, 0})
	f.Add([]byte{5, 1, 2, 5, 3, 4, 0, 60, 0, 6, 9, 0, 0, 200, 0, 0, 200, 0, 1, 7, 0, 2, 8, 1})
	f.Add([]byte{6, 3, 0, 0, 100, 0, 1, 1, 1, 2, 2, 2, 3, 4, 3, 4, 4, 0, 7, 14, 1, 7, 14, 2})
	f.Add([]byte{3, 14, 1, 3, 14, 2, 3, 14, 3, 4, 14, 1, 4, 3, 0, 7, 6, 1, 0, 255, 0, 0, 255, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const secret = "s3cret"
		key := l2tpv3.SharedKey([]byte(secret))
		clock := newFakeClock()
		a, b := dynPair(t, clock, 0, 1, secret,
			PeerConfig{Initiator: true, Digest: l2tpv3.DigestSHA1, Circuits: vm1(true)},
			PeerConfig{Digest: l2tpv3.DigestSHA1, Circuits: vm1(false)})
		a.d.Start()
		runUntil(clock, 2*time.Second, bothUp(a, b))
		var peers []*dynEnd // every start of a, for the replay pool
		peers = append(peers, a)
		pool := func() [][]byte {
			var p [][]byte
			for _, e := range append(peers, b) {
				s, _ := e.out.messages()
				p = append(p, s...)
			}
			return p
		}
		var prevIDs []uint32 // b's connection IDs that ended
		lastID := uint32(0)
		for len(data) >= 3 {
			op, x, y := data[0], data[1], data[2]
			data = data[3:]

			b.d.mu.Lock()
			if id := b.d.Conn.localID; id != lastID {
				if lastID != 0 {
					prevIDs = append(prevIDs, lastID)
				}
				lastID = id
			}
			targetOf := func(sel byte) uint32 {
				switch sel % 4 {
				case 0:
					return b.d.Conn.localID
				case 1:
					if len(prevIDs) > 0 {
						return prevIDs[int(sel/4)%len(prevIDs)]
					}
				case 2:
					if b.d.cand != nil {
						return b.d.cand.localID
					}
				}
				return 0
			}
			target := targetOf(y)
			var nextNs uint16
			if b.d.w.t != nil {
				b.d.w.t.mu.Lock()
				nextNs = b.d.w.t.nr
				b.d.w.t.mu.Unlock()
			}
			b.d.mu.Unlock()

			var msg []byte
			switch op % 8 {
			case 0:
				// The peer asks again if its connection ended, as l2tap
				// does a second after.
				peers[len(peers)-1].d.Start()
				clock.Advance(time.Duration(x+1) * 20 * time.Millisecond)
				continue
			case 1, 2:
				p := pool()
				if len(p) == 0 {
					continue
				}
				msg = append([]byte(nil), p[int(x)%len(p)]...)
				if op%8 == 2 && len(msg) >= l2tpv3.ControlHeaderLen {
					binary.BigEndian.PutUint32(msg[4:], target)
					binary.BigEndian.PutUint16(msg[8:], nextNs+uint16(y>>4))
				}
			case 3, 4, 7:
				typ := l2tpv3.MessageType(x%21 + 1)
				avps := []l2tpv3.AVP{u32AVP(l2tpv3.AttrAssignedConnID, uint32(x)+1),
					resultAVP(l2tpv3.ResultCode{Result: l2tpv3.StopClear})}
				ns := nextNs + uint16(y>>4)
				switch op % 8 {
				case 3: // the right key, nonces not this connection's
					msg = forge(t, typ, target, ns, 0, avps, key, l2tpv3.DigestSHA1, []byte("not the nonce"), []byte("of this connection"))
				case 4: // the right nonces, the other algorithm
					b.d.mu.Lock()
					peerN, localN := b.d.Conn.peerNonce, b.d.Conn.localNonce
					b.d.mu.Unlock()
					msg = forge(t, typ, target, ns, 0, avps, key, l2tpv3.DigestMD5, peerN, localN)
				case 7: // no digest
					msg = forge(t, typ, target, ns, 0, avps, nil, 0, nil, nil)
				}
			case 5:
				msg = sccrq(t, uint32(x)<<8|uint32(y)+1, key, l2tpv3.DigestSHA1)
			case 6:
				if y%2 == 1 {
					// b's operator clears the connection: its StopCCN
					// lingers (the previous connection's transport).
					b.d.Stop("operator")
					continue
				}
				if len(peers) >= 4 {
					continue
				}
				old := peers[len(peers)-1]
				old.out.down = true // the old process is gone
				n, _ := dynPair(t, clock, 0, uint64(x)+10, secret,
					PeerConfig{Initiator: true, Digest: l2tpv3.DigestSHA1, Circuits: vm1(true)}, PeerConfig{})
				n.out.to, b.out.to = b.d.Input, n.d.Input
				peers = append(peers, n)
				n.d.Start()
				continue
			}

			before := snap(b)
			b.d.mu.Lock()
			authentic := verifiesFor(msg, b.d.Conn) || b.d.cand != nil && verifiesFor(msg, b.d.cand)
			b.d.mu.Unlock()
			b.d.Input(msg)
			if after := snap(b); before.state == "established" && !authentic && after != before {
				t.Fatalf("a message that fails verification (op %d) changed the established connection:\n%+v\n%+v\n% x", op%8, before, after, msg)
			}
			checkDynInvariants(t, b, clock)
		}
		clock.Advance(time.Minute)
		checkDynInvariants(t, b, clock)
	})
}

// verifiesFor reports whether msg is addressed to connection c and its
// digest checks with c's nonces and algorithm.
func verifiesFor(msg []byte, c *Conn) bool {
	m, err := l2tpv3.ParseMessage(msg)
	if err != nil || c.state == connIdle || m.Header.ConnID != c.localID || m.Header.ConnID == 0 {
		return false
	}
	var a l2tpv3.Attrs
	if l2tpv3.ParseAttrs(&m, &a) != nil && a.NumDigests == 0 {
		return false
	}
	peer := c.peerNonce
	if m.Type == l2tpv3.MsgSCCRP && c.state == connWaitReply {
		peer = a.Nonce
	}
	return len(peer) > 0 && l2tpv3.VerifyMessageType(&m, &a, c.cfg.Digest, c.key, peer, c.localNonce)
}

// checkDynInvariants: at most one established connection, at most one
// half-open one, and no timer piling up.
func checkDynInvariants(t *testing.T, e *dynEnd, clock *fakeClock) {
	t.Helper()
	e.d.mu.Lock()
	cand, state := e.d.cand, e.d.Conn.state
	candUp := cand != nil && cand.state == connEstablished
	e.d.mu.Unlock()
	if candUp {
		t.Fatal("the second handshake is established beside the connection")
	}
	if cand != nil && state == connWaitConn {
		t.Fatal("two half-open connections")
	}
	if n := pendingTimers(clock); n > 40 {
		t.Fatalf("%d timers pending", n)
	}
}
