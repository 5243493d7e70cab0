package engine

import (
	"errors"
	"log/slog"
	"os"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/underlay"
)

// receiveLoop verifies every packet the socket receives, hands it to its
// session by session ID (one map lookup, on a table replaced whole when
// sessions come and go), and writes each session's frames of a batch to
// its endpoint in one call. It returns when the socket is closed and
// allocates nothing per packet.
func (s *socket) receiveLoop() {
	msgs := make([]underlay.Message, s.u.BatchSize())
	var lim rateLimit
	var touched []*Session
	for {
		n, err := s.u.Receive(msgs)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if ts := *s.tunnels.Load(); len(ts) > 0 {
				ts[0].Stats.RxErrors.Add(1)
			}
			if held, ok := lim.allow(logReceiveError); ok {
				warn(held, "receive failed", slog.String("err", err.Error()), slog.String("reason", "rx_errors"))
			}
			continue
		}
		sessions := *s.sessions.Load()
		for i := range msgs[:n] {
			m := &msgs[i]
			if m.Drop != l2tpv3.DropNone {
				s.drop(m, m.Drop, &lim)
				continue
			}
			for one, rest := m.Datagram(m.Buf); len(one) > 0; one, rest = m.Datagram(rest) {
				id, why := l2tpv3.SessionID(one, s.udp)
				var ss *Session
				if why == l2tpv3.DropNone {
					if ss = sessions[id]; ss == nil {
						why = l2tpv3.DropSession
					} else if m.Src != ss.tunnel.Remote {
						why = l2tpv3.DropSource
					}
				}
				if why == l2tpv3.DropControl && s.handleControl(m.Src, one) {
					continue
				}
				if why != l2tpv3.DropNone {
					s.drop(m, why, &lim)
					continue
				}
				if ss.receive(one, m.Intact(), &lim) {
					touched = append(touched, ss)
				}
			}
		}
		for i, ss := range touched {
			ss.flush(&lim)
			touched[i] = nil
		}
		touched = touched[:0]
	}
}

// drop counts a packet that reached no session on the tunnel of its
// sender; a packet from a sender no tunnel of the socket serves counts as
// DropSource on the socket's first tunnel, whatever else is wrong with it.
func (s *socket) drop(m *underlay.Message, why l2tpv3.Reason, lim *rateLimit) {
	ts := *s.tunnels.Load()
	if len(ts) == 0 {
		return
	}
	t := ts[0]
	known := false
	for _, x := range ts {
		if x.Remote == m.Src {
			t, known = x, true
			break
		}
	}
	if !known {
		why = l2tpv3.DropSource
	}
	t.drop(why, lim)
}
