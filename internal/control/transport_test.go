package control

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

const (
	idA = 0x0a0a0a0a // A's control connection ID
	idB = 0x0b0b0b0b
)

// msg builds a message to A (connection idA) as the peer would send it.
func msg(t testing.TB, typ l2tpv3.MessageType, ns, nr uint16) []byte {
	t.Helper()
	h := l2tpv3.ControlHeader{ConnID: idA, Ns: ns, Nr: nr}
	if typ == 0 {
		return l2tpv3.AppendZLB(nil, h)
	}
	b, err := l2tpv3.AppendMessage(nil, h, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sent describes a message on the wire as "TYPE ns/nr".
func sent(t testing.TB, b []byte) string {
	t.Helper()
	m, err := l2tpv3.ParseMessage(b)
	if err != nil {
		t.Fatalf("sent a message that does not parse (% x): %v", b, err)
	}
	if m.Header.ConnID != idB {
		t.Errorf("sent to connection %#x, want the peer's %#x", m.Header.ConnID, idB)
	}
	return fmt.Sprintf("%v %d/%d", m.Type, m.Header.Ns, m.Header.Nr)
}

// rig is a transport A whose messages are recorded, not delivered.
type rig struct {
	clock     *fakeClock
	out       *link
	tr        *Transport
	delivered []string
	acked     []string
	failed    []time.Duration // since the start, when Failed was called
	start     time.Time
}

func newRig(t testing.TB, mod func(*Config)) *rig {
	r := &rig{clock: newFakeClock()}
	r.start = r.clock.Now()
	r.out = &link{clock: r.clock, rng: rand.New(rand.NewPCG(1, 2))}
	cfg := Config{LocalID: idA, PeerID: idB, Send: r.out.send, Clock: r.clock,
		Deliver: func(m *l2tpv3.Message) {
			r.delivered = append(r.delivered, fmt.Sprintf("%v %d", m.Type, m.Header.Ns))
		},
		Acked: func(types []l2tpv3.MessageType) {
			for _, x := range types {
				r.acked = append(r.acked, x.String())
			}
		},
		Failed: func(since time.Time) { r.failed = append(r.failed, r.clock.Now().Sub(r.start)) },
	}
	if mod != nil {
		mod(&cfg)
	}
	r.tr = NewTransport(cfg)
	return r
}

// wire returns what A sent, as "TYPE ns/nr" strings.
func (r *rig) wire(t testing.TB) []string {
	msgs, _ := r.out.messages()
	var s []string
	for _, b := range msgs {
		s = append(s, sent(t, b))
	}
	return s
}

// TestReceive feeds A sequences of messages from its peer and checks what
// it delivers and what it sends back.
func TestReceive(t *testing.T) {
	type in struct {
		typ    l2tpv3.MessageType
		ns, nr uint16
	}
	hello := l2tpv3.MsgHELLO
	cases := []struct {
		name      string
		in        []in
		delivered []string
		wire      []string // A's messages after AckDelay
		dups, ooo uint64
	}{
		{name: "in order, one ZLB after the delay for both",
			in:        []in{{hello, 0, 0}, {hello, 1, 0}},
			delivered: []string{"HELLO 0", "HELLO 1"},
			wire:      []string{"ZLB 0/2"}},
		{name: "duplicate acknowledged again at once",
			in:        []in{{hello, 0, 0}, {hello, 0, 0}},
			delivered: []string{"HELLO 0"},
			wire:      []string{"ZLB 0/1"}, dups: 1}, // the one due rides on the immediate one
		{name: "gap held, delivered in order when filled",
			in:        []in{{hello, 1, 0}, {hello, 2, 0}, {hello, 0, 0}},
			delivered: []string{"HELLO 0", "HELLO 1", "HELLO 2"},
			wire:      []string{"ZLB 0/0", "ZLB 0/0", "ZLB 0/3"}, ooo: 2},
		{name: "beyond the window dropped",
			in:        []in{{hello, 4, 0}, {hello, 0, 0}},
			delivered: []string{"HELLO 0"},
			wire:      []string{"ZLB 0/0", "ZLB 0/1"}, ooo: 1},
		{name: "ZLBs and ACKs are not delivered; an ACK makes ours ACKs",
			in:        []in{{0, 0, 0}, {l2tpv3.MsgACK, 0, 0}, {hello, 0, 0}},
			delivered: []string{"HELLO 0"},
			wire:      []string{"ACK 0/1"}},
		{name: "wrapping sequence numbers",
			in:        []in{{hello, 0, 0}},
			delivered: []string{"HELLO 0"},
			wire:      []string{"ZLB 0/1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, nil)
			for _, x := range c.in {
				if err := r.tr.Input(msg(t, x.typ, x.ns, x.nr)); err != nil {
					t.Fatal(err)
				}
			}
			r.clock.Advance(DefaultAckDelay)
			if !slices.Equal(r.delivered, c.delivered) {
				t.Errorf("delivered %q, want %q", r.delivered, c.delivered)
			}
			if w := r.wire(t); !slices.Equal(w, c.wire) {
				t.Errorf("sent %q, want %q", w, c.wire)
			}
			if d, o := r.tr.Stats.Duplicates.Load(), r.tr.Stats.OutOfOrder.Load(); d != c.dups || o != c.ooo {
				t.Errorf("duplicates %d, out of order %d; want %d, %d", d, o, c.dups, c.ooo)
			}
		})
	}
}

// TestReceiveWrap delivers across the 16-bit wrap of Ns.
func TestReceiveWrap(t *testing.T) {
	r := newRig(t, nil)
	r.tr.nr = 0xfffe
	for _, ns := range []uint16{0xffff, 0xfffe, 0} { // one ahead, then the gap, then past the wrap
		if err := r.tr.Input(msg(t, l2tpv3.MsgHELLO, ns, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"HELLO 65534", "HELLO 65535", "HELLO 0"}; !slices.Equal(r.delivered, want) {
		t.Errorf("delivered %q, want %q", r.delivered, want)
	}
}

// TestInputRejects: what does not parse or is for another connection is
// counted and changes nothing.
func TestInputRejects(t *testing.T) {
	r := newRig(t, nil)
	other := msg(t, l2tpv3.MsgHELLO, 0, 0)
	binary.BigEndian.PutUint32(other[4:], idB)
	for _, b := range [][]byte{nil, {0xc8, 0x03}, other, append(msg(t, l2tpv3.MsgHELLO, 0, 0)[:12:12], 0x80, 0x08, 0, 0, 0, 5, 0, 6)} {
		if r.tr.Input(b) == nil {
			t.Errorf("% x accepted", b)
		}
	}
	r.clock.Advance(time.Second)
	if n := r.tr.Stats.Invalid.Load(); n != 4 {
		t.Errorf("invalid %d, want 4", n)
	}
	if len(r.delivered) != 0 || len(r.wire(t)) != 0 {
		t.Errorf("delivered %q, sent %q", r.delivered, r.wire(t))
	}
}

// TestRetransmitBackoff: an unanswered message is sent again after 1, 2, 4,
// 8, 8 s; Failed comes 8 s after the fifth retransmission and at every
// retransmission after it; an acknowledgement ends it all.
func TestRetransmitBackoff(t *testing.T) {
	r := newRig(t, nil)
	if err := r.tr.Send(l2tpv3.MsgHELLO, nil); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(50 * time.Second)
	_, times := r.out.messages()
	var at []time.Duration
	for _, x := range times {
		at = append(at, x.Sub(r.start))
	}
	want := []time.Duration{0, 1, 3, 7, 15, 23, 31, 39, 47}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(at, want) {
		t.Errorf("sent at %v, want %v", at, want)
	}
	if w := []time.Duration{31 * time.Second, 39 * time.Second, 47 * time.Second}; !slices.Equal(r.failed, w) {
		t.Errorf("Failed at %v, want %v", r.failed, w)
	}
	if n := r.tr.Stats.Retransmits.Load(); n != 8 {
		t.Errorf("retransmits %d, want 8", n)
	}
	if err := r.tr.Input(msg(t, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	if n := len(times); n != len(r.wire(t)) {
		t.Errorf("sent %d more after the acknowledgement", len(r.wire(t))-n)
	}
	if !slices.Equal(r.acked, []string{"HELLO"}) || r.tr.Outstanding() != 0 {
		t.Errorf("acked %q, outstanding %d", r.acked, r.tr.Outstanding())
	}
	// The next message starts over at 1 s.
	r.tr.Send(l2tpv3.MsgHELLO, nil)
	r.clock.Advance(1500 * time.Millisecond)
	if w := r.wire(t); !slices.Equal(w[len(w)-2:], []string{"HELLO 1/0", "HELLO 1/0"}) {
		t.Errorf("after the acknowledgement: %q", w)
	}
}

// TestWindow: with the peer's window of 2, the third message waits for an
// acknowledgement; acknowledgements ride on messages when there are any.
func TestWindow(t *testing.T) {
	r := newRig(t, func(c *Config) { c.PeerWindow = 2 })
	for i := 0; i < 4; i++ {
		if err := r.tr.Send(l2tpv3.MsgHELLO, nil); err != nil {
			t.Fatal(err)
		}
	}
	if w := r.wire(t); !slices.Equal(w, []string{"HELLO 0/0", "HELLO 1/0"}) {
		t.Fatalf("sent %q, want two", w)
	}
	// The peer's message acknowledges 0: message 2 goes, carrying Nr 1.
	r.tr.Input(msg(t, l2tpv3.MsgHELLO, 0, 1))
	r.clock.Advance(time.Second / 2)
	if w := r.wire(t); !slices.Equal(w[2:], []string{"HELLO 2/1"}) {
		t.Errorf("then %q, want HELLO 2/1 alone (it carries the acknowledgement)", w[2:])
	}
	r.tr.Input(msg(t, 0, 1, 3))
	// An Nr beyond what was sent acknowledges nothing.
	r.tr.Input(msg(t, 0, 1, 9))
	r.clock.Advance(time.Second / 2)
	if w := r.wire(t); !slices.Equal(w[3:], []string{"HELLO 3/1"}) || r.tr.Outstanding() != 1 {
		t.Errorf("then %q, outstanding %d", w[3:], r.tr.Outstanding())
	}
	if n := len(r.acked); n != 3 {
		t.Errorf("acked %q, want 3", r.acked)
	}
}

// TestResync: a peer that restarts (Ns 0, Nr 0 while we are further
// along) is followed: what is unacknowledged goes again from Ns 0 at once.
func TestResync(t *testing.T) {
	restarts := 0
	r := newRig(t, func(c *Config) { c.ResyncOnRestart = true; c.PeerRestarted = func() { restarts++ } })
	// Both at the start: not a restart.
	r.tr.Send(l2tpv3.MsgHELLO, nil)
	r.tr.Input(msg(t, l2tpv3.MsgHELLO, 0, 0))
	r.tr.Input(msg(t, 0, 1, 1))
	r.tr.Send(l2tpv3.MsgHELLO, nil)
	r.clock.Advance(100 * time.Millisecond)
	if restarts != 0 {
		t.Fatalf("restart seen at the start")
	}
	r.tr.Input(msg(t, l2tpv3.MsgHELLO, 0, 0))
	if restarts != 1 || r.tr.Stats.Restarts.Load() != 1 {
		t.Fatalf("restarts %d", restarts)
	}
	w := r.wire(t)
	if last := w[len(w)-1]; last != "HELLO 0/1" {
		t.Errorf("after the restart sent %q, want HELLO 0/1", w)
	}
	if !slices.Equal(r.delivered, []string{"HELLO 0", "HELLO 0"}) {
		t.Errorf("delivered %q", r.delivered)
	}
}
