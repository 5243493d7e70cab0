package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/underlay"
)

const (
	// txArena is the bytes of L2TP packets collected before one send.
	txArena = 512 << 10
	// txMaxPackets bounds the packets of one send.
	txMaxPackets = 512
	// maxFrame is the largest frame an endpoint hands over.
	maxFrame = 65535
)

// Session is one pseudowire: an endpoint, its L2TPv3 header, and its
// counters.
type Session struct {
	cfg    SessionConfig
	ep     Endpoint
	tunnel *Tunnel
	Stats  *Stats
	wg     sync.WaitGroup
	failed bool // its endpoint failed; guarded by the engine's mutex

	// Receive state, owned by the socket's receive loop.
	seq          l2tpv3.Sequence
	pending      [][]byte // frames of the current batch, not yet written
	intact       []bool   // pending[i] came in a message the kernel vouched for
	reservedSeen bool
	clampOn      bool // cfg.MSSClamp.Enabled()
}

func newSession(t *Tunnel, c SessionConfig, ep Endpoint) *Session {
	return &Session{cfg: c, ep: ep, tunnel: t, Stats: &Stats{}, clampOn: c.MSSClamp.Enabled()}
}

// Header returns the session's L2TPv3 header.
func (s *Session) Header() l2tpv3.Header { return s.cfg.Header }

// Endpoint returns the session's endpoint.
func (s *Session) Endpoint() Endpoint { return s.ep }

// Tunnel returns the tunnel the session belongs to.
func (s *Session) Tunnel() *Tunnel { return s.tunnel }

// Counters returns a snapshot of the session's counters, the endpoint's
// included (see Stats.Counters), and pcap_dropped last when it captures.
func (s *Session) Counters() []Counter {
	sf, oe := s.ep.ReadStats()
	c := s.Stats.Counters(sf, oe)
	if s.cfg.Capture != nil {
		c = append(c, Counter{"pcap_dropped", s.cfg.Capture.Dropped()})
	}
	return c
}

// start runs a send loop for every queue of the endpoint.
func (s *Session) start(e *Engine) {
	for q := 0; q < s.ep.Queues(); q++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.sendLoop(q); err != nil {
				e.fail(s, err)
			}
		}()
	}
}

// stop closes the endpoint and waits for the send loops.
func (s *Session) stop() {
	s.ep.Close()
	s.wg.Wait()
}

// sendLoop encapsulates every frame read from queue q of the endpoint and
// sends it to the peer in batches. It returns nil when the endpoint or the
// socket is closed, and the endpoint's error otherwise. Each loop counts
// the packets the kernel refuses in its own batch, so that the shared
// counters stay exact with several queues. It allocates nothing per frame.
func (s *Session) sendLoop(q int) error {
	h := s.cfg.Header
	hl := h.TxLen()
	st := s.Stats
	arena := make([]byte, txArena+hl+maxFrame)
	pkts := make([][]byte, txMaxPackets)
	var lim rateLimit
	var seq uint32
	var failed, failedBytes uint64
	remote := s.tunnel.Remote
	sender := s.tunnel.sock.u.NewSender(remote, txMaxPackets,
		func(pkt []byte, e syscall.Errno) {
			failed++
			failedBytes += uint64(len(pkt) - hl)
			st.TxErrors.Add(1)
			if underlay.TransientSendError(e) {
				st.TxTransient.Add(1)
			}
			if held, ok := lim.allow(sendErrorKey(e)); ok {
				warn(held, "send failed", s.logAttrs(slog.String("to", remote.Addr().String()), slog.String("errno", errnoName(e)),
					slog.Int("frame_bytes", len(pkt)-hl), slog.String("reason", "tx_errors"))...)
			}
		},
		func(e syscall.Errno) {
			if held, ok := lim.allow(logNoGSO); ok {
				warn(held, "UDP segmentation offload refused: sending datagrams one by one",
					s.logAttrs(slog.String("errno", errnoName(e)))...)
			}
		})
	capture := s.cfg.Capture
	clamp := s.cfg.MSSClamp
	clampOn := clamp.Enabled()
	send := func(pkts [][]byte) error {
		if s.peerDownDrop(len(pkts)) {
			return nil
		}
		var bytes uint64
		for _, p := range pkts {
			if clampOn && clamp.Clamp(p[hl:]) {
				st.TxMSSClamped.Add(1)
			}
			h.Encode(p, seq)
			seq++
			bytes += uint64(len(p) - hl)
			if capture != nil {
				capture.Packet(false, p, hl)
			}
		}
		failed, failedBytes = 0, 0
		if err := sender.Send(pkts); err != nil {
			return err
		}
		st.TxPackets.Add(uint64(len(pkts)) - failed)
		st.TxBytes.Add(bytes - failedBytes)
		return nil
	}
	dropped := func(err error) {
		// An endpoint reports a frame it dropped for a reason of its own
		// (a VM socket's bad length) by wrapping that reason.
		var r l2tpv3.Reason
		if errors.As(err, &r) && r < l2tpv3.NumReasons {
			st.Drops[r].Add(1)
			if held, ok := lim.allow(logKey(r)); ok {
				warn(held, "frame dropped", s.logAttrs(slog.String("reason", r.Counter()), slog.String("why", err.Error()))...)
			}
			return
		}
		if held, ok := lim.allow(logOffloadError); ok {
			warn(held, "offload failed", s.logAttrs(slog.String("err", err.Error()), slog.String("reason", "tx_offload_errors"))...)
		}
	}
	err := s.ep.ReadLoop(q, arena, hl, pkts, send, dropped)
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// receive verifies one datagram for the session and holds its frame for
// the batch's write, or counts why it is dropped. intact says the kernel
// vouched for the datagram's bytes (underlay.Message.Intact).
func (s *Session) receive(pkt []byte, intact bool, lim *rateLimit) (first bool) {
	var d l2tpv3.Decoded
	h := &s.cfg.Header
	why := h.Decode(pkt, &d)
	if why == l2tpv3.DropNone && d.Reserved {
		s.Stats.RxSublayerReserved.Add(1)
		if !s.reservedSeen {
			s.reservedSeen = true
			if held, ok := lim.allow(logSublayerReserved); ok {
				warn(held, "sublayer reserved bits set: packets accepted, as Linux does",
					s.logAttrs(slog.String("word", fmt.Sprintf("%#08x", binary.BigEndian.Uint32(pkt[h.RxLen()-h.Offset-4:]))),
						slog.String("hint", "a peer that sends no sublayer (ip l2tp l2spec_type none, QEMU counter=off) needs no -counter/-pincounter here, "+
							"and QEMU's counter=on sets these bits after 2^24 packets (harmless)"),
						slog.String("reason", "rx_sublayer_reserved"))...)
			}
		}
	}
	if why == l2tpv3.DropNone && d.HasSeq {
		why = s.checkSeq(d.Seq, lim)
	}
	if why != l2tpv3.DropNone {
		s.drop(why, lim)
		return false
	}
	if s.cfg.Capture != nil {
		s.cfg.Capture.Packet(true, pkt, len(pkt)-len(d.Frame))
	}
	if s.clampOn && s.cfg.MSSClamp.Clamp(d.Frame) {
		s.Stats.RxMSSClamped.Add(1)
	}
	s.pending = append(s.pending, d.Frame)
	s.intact = append(s.intact, intact)
	return len(s.pending) == 1
}

// drop counts a received packet the session dropped and logs its reason,
// rate-limited, with the session's keys, reason (the counter raised) and
// count.
func (s *Session) drop(r l2tpv3.Reason, lim *rateLimit) {
	s.Stats.drop(r)
	if held, ok := lim.allow(logKey(r)); ok {
		warn(held, "frame dropped", s.logAttrs(slog.String("reason", r.Counter()), slog.String("why", r.String()))...)
	}
}

// logAttrs returns the keys that name the session in its log lines (tap,
// session as TX/RX, tunnel), followed by more.
func (s *Session) logAttrs(more ...slog.Attr) []slog.Attr {
	h := s.cfg.Header
	a := []slog.Attr{
		slog.String("tap", s.ep.Name()),
		slog.String("session", fmt.Sprintf("%d/%d", h.TxSession, h.RxSession)),
	}
	if s.tunnel != nil {
		a = append(a, slog.String("tunnel", s.tunnel.name))
	}
	return append(a, more...)
}

// checkSeq follows the peer's sequence numbers: gaps count as lost packets,
// late ones as out of order (dropped under SeqCheck), and a resync, the
// peer's numbering taken anew after a restart, is counted and logged.
func (s *Session) checkSeq(nr uint32, lim *rateLimit) l2tpv3.Reason {
	res, lost := s.seq.Check(nr)
	switch res {
	case l2tpv3.SeqInOrder:
		if lost > 0 {
			s.Stats.RxLost.Add(uint64(lost))
		}
	case l2tpv3.SeqOutOfOrder:
		s.Stats.RxOOS.Add(1)
		if s.cfg.SeqCheck {
			return l2tpv3.DropSequence
		}
	case l2tpv3.SeqResync:
		s.Stats.RxOOS.Add(1)
		s.Stats.RxSeqResyncs.Add(1)
		if held, ok := lim.allow(logSeqResync); ok {
			warn(held, "peer's sequence numbers restarted (peer restarted?): following them from here on",
				s.logAttrs(slog.Uint64("seq", uint64(nr)), slog.String("reason", "rx_seq_resyncs"))...)
		}
	}
	return l2tpv3.DropNone
}

// flush writes the frames held for the batch to the endpoint.
func (s *Session) flush(lim *rateLimit) {
	frames, intact := s.pending, s.intact
	s.pending, s.intact = s.pending[:0], s.intact[:0]
	var written, merged, bytes int
	var err error
	if w, ok := s.ep.(IntactWriter); ok {
		written, merged, bytes, err = w.WriteIntact(frames, intact)
	} else {
		written, merged, bytes, err = s.ep.Write(frames)
	}
	st := s.Stats
	st.RxPackets.Add(uint64(written))
	st.RxBytes.Add(uint64(bytes))
	st.RxCoalesced.Add(uint64(merged))
	if refused := len(frames) - written; refused > 0 {
		// Frames for a closed endpoint (a session stopping) count as
		// refused too, without a log line each batch.
		st.TapErrors.Add(uint64(refused))
		if !errors.Is(err, os.ErrClosed) {
			if held, ok := lim.allow(logTAPWrite); ok {
				warn(held, "write to the endpoint failed", s.logAttrs(slog.String("err", err.Error()), slog.Int("refused", refused),
					slog.String("reason", "tap_write_errors"))...)
			}
		}
	}
}
