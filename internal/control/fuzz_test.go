package control

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// FuzzInput feeds a keepalive's transport a stream of messages cut from
// the input (each preceded by a length byte), with time passing between
// them: it never panics, delivers each Ns at most once and in order, keeps
// no more than the window held, and what it sends always parses.
func FuzzInput(f *testing.F) {
	seed := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = append(b, byte(len(m)))
			b = append(b, m...)
		}
		return b
	}
	f.Add(seed(msg(f, l2tpv3.MsgHELLO, 0, 0), msg(f, 0, 1, 1), msg(f, l2tpv3.MsgHELLO, 2, 1), msg(f, l2tpv3.MsgHELLO, 1, 1)))
	f.Add(seed(msg(f, l2tpv3.MsgACK, 0, 1), msg(f, l2tpv3.MsgHELLO, 0, 0), msg(f, l2tpv3.MsgHELLO, 0, 0)))
	f.Add(seed(msg(f, l2tpv3.MsgSCCRQ, 5, 9), []byte{0xc8, 0x03, 0, 12, 0x0a, 0x0a, 0x0a, 0x0a, 0xff, 0xff, 0, 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		clock := newFakeClock()
		var next uint16
		first := true
		var held int
		tr := NewTransport(Config{LocalID: idA, PeerID: idB, Clock: clock, ResyncOnRestart: true,
			Send: func(b []byte) error {
				if _, err := l2tpv3.ParseMessage(b); err != nil {
					t.Fatalf("sent % x: %v", b, err)
				}
				return nil
			},
			Deliver: func(m *l2tpv3.Message) {
				if !first && m.Header.Ns != next {
					t.Fatalf("delivered Ns %d, want %d", m.Header.Ns, next)
				}
				first = false
				next = m.Header.Ns + 1
			},
			PeerRestarted: func() { next = 0 },
		})
		tr.Send(l2tpv3.MsgHELLO, nil)
		for len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			m := data[1 : 1+n]
			data = data[1+n:]
			if len(m) >= 8 {
				// Mostly for us, so that the sequence logic runs.
				binary.BigEndian.PutUint32(m[4:], idA)
			}
			tr.Input(m)
			tr.mu.Lock()
			held = len(tr.held)
			tr.mu.Unlock()
			if held > DefaultWindow {
				t.Fatalf("%d messages held", held)
			}
			clock.Advance(300 * time.Millisecond)
		}
	})
}
