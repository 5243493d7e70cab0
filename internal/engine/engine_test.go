package engine

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/offload"
	"github.com/l2tap/l2tap/internal/pcap"
)

// frame returns a 60-byte Ethernet frame whose bytes name session s and
// frame i, so that a frame delivered to the wrong session shows.
func frame(s, i int) []byte {
	f := make([]byte, 60)
	copy(f, []byte{0x02, 0, 0, 0, 0, byte(s), 0x02, 0, 0, 0, 1, byte(s), 0x88, 0xb5})
	for k := 14; k < len(f); k++ {
		f[k] = byte(s*16 + i)
	}
	return f
}

// pairConfig describes one session on both ends: a's header, from which
// b's is mirrored.
type pairConfig struct {
	tx, rx   uint32
	cookie   int // a's cookie length, both ways unless rxCookie says
	rxCookie int // a's receive cookie length when it differs: 4, 8, or -1 for none
	sublayer l2tpv3.Sublayer
	// clampA and clampB are the MSS clamping of a's and b's session.
	clampA, clampB offload.MSSClamp
}

// twoEnds runs an engine on each side of a fakeNet, one tunnel between
// them, with the sessions of cfgs; frames[k] is the batch a's session k
// reads first. caps, if given, are the captures of a's and b's first
// sessions. It returns the engines and the endpoints of both sides.
func twoEnds(t testing.TB, udp bool, cfgs []pairConfig, frames [][][]byte, caps ...Capture) (ea, eb *Engine, epa, epb []*fakeEndpoint, sa, sb *fakeSocket) {
	t.Helper()
	n := &fakeNet{}
	port := uint16(0)
	if udp {
		port = 1701
	}
	addrA := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), port)
	addrB := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port)
	sa, sb = n.socket(addrA, udp), n.socket(addrB, udp)
	ea, eb = New(), New()
	t.Cleanup(func() { ea.Close(); eb.Close() })
	ta, tb := ea.AddTunnel(sa, addrB), eb.AddTunnel(sb, addrA)
	for k, c := range cfgs {
		ha := l2tpv3.Header{UDP: udp, TxSession: c.tx, RxSession: c.rx, TxCookieLen: c.cookie, RxCookieLen: c.cookie,
			TxCookie: uint64(0x1000 + k), RxCookie: uint64(0x2000 + k), Sublayer: c.sublayer}
		if c.rxCookie != 0 {
			ha.RxCookieLen = max(c.rxCookie, 0)
		}
		hb := ha
		hb.TxSession, hb.RxSession, hb.TxCookie, hb.RxCookie = ha.RxSession, ha.TxSession, ha.RxCookie, ha.TxCookie
		hb.TxCookieLen, hb.RxCookieLen = ha.RxCookieLen, ha.TxCookieLen
		a := newFakeEndpoint(fmt.Sprintf("a%d", k), true, frames[k])
		b := newFakeEndpoint(fmt.Sprintf("b%d", k), true)
		ca, cb := SessionConfig{Header: ha, MSSClamp: c.clampA}, SessionConfig{Header: hb, MSSClamp: c.clampB}
		if k == 0 && len(caps) == 2 {
			ca.Capture, cb.Capture = caps[0], caps[1]
		}
		if _, err := ea.AddSession(ta, ca, a); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.AddSession(tb, cb, b); err != nil {
			t.Fatal(err)
		}
		epa, epb = append(epa, a), append(epb, b)
	}
	return
}

// waitWritten waits until ep has written n frames.
func waitWritten(t *testing.T, ep *fakeEndpoint, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for ep.written.Load() < int64(n) {
		select {
		case <-ep.wrote:
		case <-deadline:
			t.Fatalf("%s: %d of %d frames written after 5s", ep.name, ep.written.Load(), n)
		}
	}
}

// TestSessionsDemultiplexed runs five sessions with different cookies
// (the same both ways, or of another length each way, or one way only) and
// sublayers over one tunnel, UDP and IP: every frame a session sends
// arrives at its peer session, intact and in order, and at no other.
func TestSessionsDemultiplexed(t *testing.T) {
	cfgs := []pairConfig{
		{tx: 10, rx: 20, cookie: 4, sublayer: l2tpv3.SublayerNone},
		{tx: 11, rx: 21, cookie: 8, sublayer: l2tpv3.SublayerCounter},
		{tx: 12, rx: 22, cookie: 0, sublayer: l2tpv3.SublayerPinned},
		{tx: 13, rx: 23, cookie: 4, rxCookie: 8, sublayer: l2tpv3.SublayerCounter},
		{tx: 14, rx: 24, cookie: 8, rxCookie: -1, sublayer: l2tpv3.SublayerNone},
	}
	for _, udp := range []bool{true, false} {
		t.Run(fmt.Sprintf("udp=%v", udp), func(t *testing.T) {
			frames := make([][][]byte, len(cfgs))
			for k := range cfgs {
				for i := 0; i < 5+k; i++ {
					frames[k] = append(frames[k], frame(k, i))
				}
			}
			_, eb, epa, epb, _, _ := twoEnds(t, udp, cfgs, frames)
			for k := range cfgs {
				epa[k].in <- 0
			}
			for k := range cfgs {
				waitWritten(t, epb[k], len(frames[k]))
				got := epb[k].frames()
				if len(got) != len(frames[k]) {
					t.Fatalf("session %d: %d frames, want %d", k, len(got), len(frames[k]))
				}
				for i := range got {
					if !bytes.Equal(got[i], frames[k][i]) {
						t.Errorf("session %d frame %d: % x, want % x", k, i, got[i][:16], frames[k][i][:16])
					}
				}
			}
			for k, s := range eb.Sessions() {
				c := waitCounter(t, s, "rx_packets", uint64(len(frames[k])))
				if c["rx_packets"] != uint64(len(frames[k])) || c["rx_errors"] != 0 {
					t.Errorf("session %d counters: %v", k, c)
				}
			}
		})
	}
}

// waitCounter polls s's counters until name reaches at least want (the
// loop counts a batch after the endpoint took it) and returns them.
func waitCounter(t *testing.T, s *Session, name string, want uint64) map[string]uint64 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c := counters(s.Counters())
		if c[name] >= want || time.Now().After(deadline) {
			return c
		}
	}
}

// counters turns a counter list into a map.
func counters(cs []Counter) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range cs {
		m[c.Name] = c.Value
	}
	return m
}

// TestTunnelDrops sends what no session takes: an unknown session ID and a
// packet from a stranger are counted on the tunnel, a wrong cookie on the
// session, and none of it reaches an endpoint.
func TestTunnelDrops(t *testing.T) {
	cfgs := []pairConfig{{tx: 10, rx: 20, cookie: 4}}
	_, eb, _, epb, sa, sb := twoEnds(t, true, cfgs, [][][]byte{nil})
	h := l2tpv3.Header{UDP: true, TxSession: 10, TxCookieLen: 4, RxCookieLen: 4, TxCookie: 0x1000} // what b expects of a
	pkt := func(h l2tpv3.Header) []byte {
		p := make([]byte, h.Len()+60)
		h.Encode(p, 0)
		copy(p[h.Len():], frame(0, 0))
		return p
	}
	unknown, badCookie, good := h, h, h
	unknown.TxSession = 99
	badCookie.TxCookie = 0xbad
	stranger := netip.MustParseAddrPort("192.0.2.9:1701")
	sb.deliver(sa.addr, pkt(unknown))
	sb.deliver(stranger, pkt(good))
	sb.deliver(sa.addr, pkt(badCookie))
	sb.deliver(sa.addr, []byte{0, 3})
	sb.deliver(sa.addr, pkt(good))
	waitWritten(t, epb[0], 1)
	tc := counters(eb.Tunnels()[0].Stats.Counters())
	sc := waitCounter(t, eb.Sessions()[0], "rx_packets", 1)
	if tc["rx_session_mismatch"] != 1 || tc["rx_wrong_source"] != 1 || tc["rx_invalid"] != 1 || tc["rx_errors"] != 3 {
		t.Errorf("tunnel counters: %v", tc)
	}
	if sc["rx_cookie_discards"] != 1 || sc["rx_packets"] != 1 || sc["rx_errors"] != 1 {
		t.Errorf("session counters: %v", sc)
	}
	if n := len(epb[0].frames()); n != 1 {
		t.Errorf("%d frames reached the endpoint, want 1", n)
	}
}

// TestAddRemoveSession adds and removes a session while another carries
// traffic: the other loses nothing, the removed one's endpoint is closed,
// its receive ID is free again, and a taken ID is refused.
func TestAddRemoveSession(t *testing.T) {
	const n = 200
	var batch [][]byte
	for i := 0; i < n; i++ {
		batch = append(batch, frame(0, i%16))
	}
	cfgs := []pairConfig{{tx: 10, rx: 20}}
	ea, eb, epa, epb, _, _ := twoEnds(t, true, cfgs, [][][]byte{batch})
	ta, tb := ea.Tunnels()[0], eb.Tunnels()[0]
	if _, err := eb.AddSession(tb, SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: 1, RxSession: 10}}, newFakeEndpoint("dup", false)); err == nil {
		t.Fatal("a second session with receive ID 10 was accepted")
	}
	for round := 0; round < 20; round++ {
		epa[0].in <- 0
		x := newFakeEndpoint("x", false)
		s, err := ea.AddSession(ta, SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: 30, RxSession: 31}}, x)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ea.RemoveSession(s)
		select {
		case <-x.closed:
		default:
			t.Fatal("a removed session's endpoint is still open")
		}
	}
	waitWritten(t, epb[0], 20*n)
	if got := epb[0].written.Load(); got != 20*n {
		t.Errorf("%d frames arrived, want %d", got, 20*n)
	}
}

// TestPeerRestartResync restarts a's session (its sequence numbers start
// again at 0) while b drops out-of-order packets: b follows the new
// numbering at once and loses nothing.
func TestPeerRestartResync(t *testing.T) {
	var batch [][]byte
	for i := 0; i < 50; i++ {
		batch = append(batch, frame(0, i%16))
	}
	cfgs := []pairConfig{{tx: 10, rx: 20, sublayer: l2tpv3.SublayerCounter}}
	ea, eb, epa, epb, _, _ := twoEnds(t, true, cfgs, [][][]byte{batch})
	sb := eb.Sessions()[0]
	sb.cfg.SeqCheck = true // before any packet: the loops read it only when one arrives
	epa[0].in <- 0
	epa[0].in <- 0
	waitWritten(t, epb[0], 100)
	ea.RemoveSession(ea.Sessions()[0])
	again := newFakeEndpoint("a0-again", false, batch)
	if _, err := ea.AddSession(ea.Tunnels()[0], SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: 10, RxSession: 20, Sublayer: l2tpv3.SublayerCounter}}, again); err != nil {
		t.Fatal(err)
	}
	again.in <- 0
	waitWritten(t, epb[0], 150)
	c := waitCounter(t, sb, "rx_packets", 150)
	if c["rx_seq_resyncs"] != 1 || c["rx_seq_discards"] != 0 || c["rx_packets"] != 150 {
		t.Errorf("counters after the peer's restart: %v", c)
	}
}

// TestLoopAllocs drives both loops of both engines through the fakes: a
// batch of 32 frames read, encapsulated, sent, received, verified,
// demultiplexed and written. In steady state nothing may allocate.
func TestLoopAllocs(t *testing.T) {
	var batch [][]byte
	for i := 0; i < 32; i++ {
		batch = append(batch, frame(1, i%16))
	}
	cfgs := []pairConfig{{tx: 10, rx: 20, cookie: 8, sublayer: l2tpv3.SublayerCounter}, {tx: 11, rx: 21}}
	_, _, epa, epb, _, _ := twoEnds(t, true, cfgs, [][][]byte{batch, batch})
	step, _ := batchStep(epa[0], epb[0], len(batch))
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Errorf("%v allocations per batch of %d frames, want 0", allocs, len(batch))
	}
}

// BenchmarkRoundTrip moves batches of 32 1500-byte frames from one engine to
// the other through the fakes; run with -benchmem: 0 allocs/op.
func BenchmarkRoundTrip(b *testing.B) {
	var batch [][]byte
	for i := 0; i < 32; i++ {
		f := make([]byte, 1500)
		copy(f, frame(0, i))
		batch = append(batch, f)
	}
	benchRoundTrip(b, pairConfig{tx: 10, rx: 20, cookie: 4, sublayer: l2tpv3.SublayerCounter}, batch)
}

// benchRoundTrip moves batch from one engine to the other through the
// fakes, once per iteration, the two ends' sessions configured by c.
func benchRoundTrip(b *testing.B, c pairConfig, batch [][]byte, caps ...Capture) {
	_, _, epa, epb, _, _ := twoEnds(b, true, []pairConfig{c}, [][][]byte{batch}, caps...)
	step, _ := batchStep(epa[0], epb[0], len(batch))
	n := 0
	for _, f := range batch {
		n += len(f)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}

// batchStep returns a step that has from's reader hand over its next
// batch of n frames and waits until to has written them, and the count of
// frames the steps have moved so far. It turns recording off on both ends,
// so that steps in steady state allocate nothing.
func batchStep(from, to *fakeEndpoint, n int) (step func(), moved *int) {
	from.record, to.record = false, false
	moved = new(int)
	return func() {
		from.in <- 0
		*moved += n
		for to.written.Load() < int64(*moved) {
			<-to.wrote
		}
	}, moved
}

// fakeCapture records what a session's loops show it.
type fakeCapture struct {
	mu      sync.Mutex
	packets [][]byte // copies
	rx      []bool
	frameAt []int
}

func (c *fakeCapture) Packet(received bool, pkt []byte, frameAt int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.packets = append(c.packets, append([]byte(nil), pkt...))
	c.rx = append(c.rx, received)
	c.frameAt = append(c.frameAt, frameAt)
}

func (c *fakeCapture) Dropped() uint64 { return 7 }

// TestCaptureHook checks what the loops hand a capture: every packet sent,
// after its header is written, and every packet received and verified,
// with the frame's offset; a packet the session drops is not shown.
func TestCaptureHook(t *testing.T) {
	for _, udp := range []bool{true, false} {
		t.Run(fmt.Sprintf("udp=%v", udp), func(t *testing.T) {
			batch := [][]byte{frame(0, 1), frame(0, 2), frame(0, 3)}
			capA, capB := &fakeCapture{}, &fakeCapture{}
			_, eb, epa, epb, _, _ := twoEnds(t, udp, []pairConfig{{tx: 10, rx: 20, cookie: 4, sublayer: l2tpv3.SublayerCounter}}, [][][]byte{batch}, capA, capB)
			epa[0].in <- 0
			waitWritten(t, epb[0], len(batch))
			hl := (&l2tpv3.Header{UDP: udp, TxCookieLen: 4, RxCookieLen: 4, Sublayer: l2tpv3.SublayerCounter}).Len()
			for _, c := range []struct {
				name string
				cap  *fakeCapture
				rx   bool
			}{{"a", capA, false}, {"b", capB, true}} {
				c.cap.mu.Lock()
				if len(c.cap.packets) != len(batch) {
					t.Fatalf("%s: %d packets captured, want %d", c.name, len(c.cap.packets), len(batch))
				}
				for i, p := range c.cap.packets {
					var d l2tpv3.Decoded
					h := l2tpv3.Header{UDP: udp, RxSession: 10, TxCookieLen: 4, RxCookieLen: 4, RxCookie: 0x1000, Sublayer: l2tpv3.SublayerCounter}
					if why := h.Decode(p, &d); why != l2tpv3.DropNone {
						t.Errorf("%s packet %d: does not decode as sent by a: %v", c.name, i, why)
					} else if d.Seq != uint32(i) {
						t.Errorf("%s packet %d: sequence %d", c.name, i, d.Seq)
					}
					if c.cap.rx[i] != c.rx || c.cap.frameAt[i] != hl || !bytes.Equal(p[hl:], batch[i]) {
						t.Errorf("%s packet %d: received=%v frameAt=%d (want %v, %d), frame equal: %v", c.name, i, c.cap.rx[i], c.cap.frameAt[i], c.rx, hl, bytes.Equal(p[hl:], batch[i]))
					}
				}
				c.cap.mu.Unlock()
			}
			var dropped uint64
			for _, x := range eb.Sessions()[0].Counters() {
				if x.Name == "pcap_dropped" {
					dropped = x.Value
				}
			}
			if dropped != 7 {
				t.Errorf("pcap_dropped %d, want the capture's 7", dropped)
			}
		})
	}
}

// BenchmarkRoundTripCapture is BenchmarkRoundTrip with both ends capturing
// the outer packets to files: 0 allocs/op still.
func BenchmarkRoundTripCapture(b *testing.B) {
	var batch [][]byte
	for i := 0; i < 32; i++ {
		f := make([]byte, 1500)
		copy(f, frame(0, i))
		batch = append(batch, f)
	}
	var caps []Capture
	for _, name := range []string{"a.pcap", "b.pcap"} {
		w, err := pcap.Open(pcap.Config{Path: filepath.Join(b.TempDir(), name), Outer: true, UDP: true,
			Local: netip.MustParseAddrPort("192.0.2.1:1701"), Remote: netip.MustParseAddrPort("192.0.2.2:1701"), UID: -1, GID: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.Close() })
		caps = append(caps, w)
	}
	benchRoundTrip(b, pairConfig{tx: 10, rx: 20, cookie: 4, sublayer: l2tpv3.SublayerCounter}, batch, caps...)
}

// brokenEndpoint is an endpoint whose every queue fails at once, as a
// deleted TAP does.
type brokenEndpoint struct{ *fakeEndpoint }

func (b brokenEndpoint) Queues() int { return 2 }

func (b brokenEndpoint) ReadLoop(int, []byte, int, [][]byte, func([][]byte) error, func(error)) error {
	return errors.New("device gone")
}

// TestFailuresAllReported fails many sessions at once, each on two queues:
// every one is reported, once, and its endpoint closed.
func TestFailuresAllReported(t *testing.T) {
	const n = 40
	e := New()
	defer e.Close()
	net := &fakeNet{}
	sock := net.socket(netip.MustParseAddrPort("192.0.2.1:1701"), true)
	tun := e.AddTunnel(sock, netip.MustParseAddrPort("192.0.2.2:1701"))
	eps := map[*Session]brokenEndpoint{}
	for i := 0; i < n; i++ {
		ep := brokenEndpoint{newFakeEndpoint(fmt.Sprintf("b%d", i), false)}
		s, err := e.AddSession(tun, SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: uint32(i + 1), RxSession: uint32(i + 1)}}, ep)
		if err != nil {
			t.Fatal(err)
		}
		eps[s] = ep
	}
	seen := map[*Session]int{}
	deadline := time.After(5 * time.Second)
	for len(seen) < n {
		select {
		case <-e.Failed():
			for _, f := range e.TakeFailures() {
				seen[f.Session]++
			}
		case <-deadline:
			t.Fatalf("%d of %d failed sessions reported", len(seen), n)
		}
	}
	for s, k := range seen {
		if k != 1 {
			t.Errorf("%s reported %d times", s.Endpoint().Name(), k)
		}
		select {
		case <-eps[s].closed:
		default:
			t.Errorf("%s: endpoint of a failed session left open", s.Endpoint().Name())
		}
	}
	for _, s := range e.Sessions() {
		s.wg.Wait() // every loop has ended: nothing more can be reported
	}
	if more := e.TakeFailures(); len(more) != 0 {
		t.Errorf("%d more reports after every session was reported", len(more))
	}
}

// droppingEndpoint reports frames it dropped for its own reasons, then
// waits to be closed.
type droppingEndpoint struct{ *fakeEndpoint }

func (d droppingEndpoint) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	dropped(fmt.Errorf("vm.sock: frame length 0: %w", l2tpv3.DropSocketFrame))
	dropped(fmt.Errorf("vm.sock: frame length 70000: %w", l2tpv3.DropSocketFrame))
	dropped(fmt.Errorf("vm.sock: second VM: %w", l2tpv3.DropSocketClient))
	dropped(errors.New("bad virtio-net header"))
	<-d.closed
	return nil
}

// TestEndpointDropReasons: an endpoint's drop that wraps a Reason raises
// that reason's counter on the session; any other is an offload error
// (counted by the endpoint itself), raising no drop counter.
func TestEndpointDropReasons(t *testing.T) {
	e := New()
	defer e.Close()
	sock := (&fakeNet{}).socket(netip.MustParseAddrPort("192.0.2.1:1701"), true)
	tun := e.AddTunnel(sock, netip.MustParseAddrPort("192.0.2.2:1701"))
	s, err := e.AddSession(tun, SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: 1, RxSession: 1}},
		droppingEndpoint{newFakeEndpoint("vm", false)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"socket_bad_frames": 2, "socket_refused": 1, "rx_errors": 0, "rx_invalid": 0}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := map[string]uint64{}
		for _, c := range s.Counters() {
			got[c.Name] = c.Value
		}
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
