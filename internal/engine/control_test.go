package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// recordControl is a ControlHandler that keeps a copy of every message.
type recordControl struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (r *recordControl) Control(msg []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, append([]byte(nil), msg...))
	r.mu.Unlock()
}

func (r *recordControl) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		got := append([][]byte(nil), r.msgs...)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%d control messages handed over, want %d", len(got), n)
			}
			return got
		}
	}
}

// carrierEndpoint is a fakeEndpoint with a carrier.
type carrierEndpoint struct {
	*fakeEndpoint
	mu      sync.Mutex
	history []bool
}

func (c *carrierEndpoint) SetCarrier(on bool) error {
	c.mu.Lock()
	c.history = append(c.history, on)
	c.mu.Unlock()
	return nil
}

func (c *carrierEndpoint) carriers() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.history...)
}

// TestControlHandover sends control messages both ways over UDP and IP:
// what one tunnel's SendControl sends reaches the other tunnel's handler
// as the bare control message (the zero session ID of IP removed), counted
// on both sides; a control message from a stranger is not handed over, and
// without a handler control messages are dropped as rx_control.
func TestControlHandover(t *testing.T) {
	for _, udp := range []bool{true, false} {
		t.Run(fmt.Sprintf("udp=%v", udp), func(t *testing.T) {
			ea, eb, _, _, sa, sb := twoEnds(t, udp, []pairConfig{{tx: 10, rx: 20}}, [][][]byte{nil})
			ta, tb := ea.Tunnels()[0], eb.Tunnels()[0]
			msg := []byte{0xc8, 0x03, 0x00, 0x0c, 0, 0, 0, 7, 0, 1, 0, 2} // a ZLB to connection 7
			// No handler yet: dropped as a control message.
			if err := ta.SendControl(msg); err != nil {
				t.Fatal(err)
			}
			waitTunnel(t, tb, "rx_control", 1)
			var ha, hb recordControl
			ta.SetControl(&ha)
			tb.SetControl(&hb)
			if err := ta.SendControl(msg); err != nil {
				t.Fatal(err)
			}
			if got := hb.wait(t, 1); !bytes.Equal(got[0], msg) {
				t.Errorf("handed over % x, want % x", got[0], msg)
			}
			back := append([]byte(nil), msg...)
			back[7] = 8
			if err := tb.SendControl(back); err != nil {
				t.Fatal(err)
			}
			if got := ha.wait(t, 1); !bytes.Equal(got[0], back) {
				t.Errorf("handed over % x, want % x", got[0], back)
			}
			// What went on the wire: over IP, behind a zero session ID.
			wire := msg
			if !udp {
				wire = append([]byte{0, 0, 0, 0}, msg...)
			}
			stranger := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.9"), sa.addr.Port())
			sb.deliver(stranger, wire)
			sb.deliver(sa.addr, wire)
			hb.wait(t, 2)
			c := waitTunnel(t, tb, "rx_wrong_source", 1)
			if c["control_rx"] != 2 || c["rx_control"] != 1 || c["rx_wrong_source"] != 1 {
				t.Errorf("b's tunnel counters: %v", c)
			}
			if c := counters(ta.Stats.Counters()); c["control_tx"] != 2 || c["control_rx"] != 1 || c["control_tx_errors"] != 0 {
				t.Errorf("a's tunnel counters: %v", c)
			}
			if err := ta.SendControl(make([]byte, maxControl+1)); err == nil {
				t.Error("an oversized control message was sent")
			}
		})
	}
}

// waitTunnel polls t's counters until name reaches at least want.
func waitTunnel(t *testing.T, tn *Tunnel, name string, want uint64) map[string]uint64 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c := counters(tn.Stats.Counters())
		if c[name] >= want || time.Now().After(deadline) {
			return c
		}
	}
}

// TestPeerDown turns a tunnel's peer down and up: an endpoint with a
// carrier has it turned off and on (a session added while down starts
// with it off), an endpoint without one has its frames dropped as
// tx_peer_down while down and sent again once up.
func TestPeerDown(t *testing.T) {
	n := &fakeNet{}
	addrA, addrB := netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701")
	sa, sb := n.socket(addrA, true), n.socket(addrB, true)
	ea, eb := New(), New()
	t.Cleanup(func() { ea.Close(); eb.Close() })
	ta, tb := ea.AddTunnel(sa, addrB), eb.AddTunnel(sb, addrA)
	h := l2tpv3.Header{UDP: true, TxSession: 10, RxSession: 20}
	hb := l2tpv3.Header{UDP: true, TxSession: 20, RxSession: 10}
	batch := [][]byte{frame(0, 0), frame(0, 1), frame(0, 2)}
	plain := newFakeEndpoint("plain", false, batch, batch)
	withCarrier := &carrierEndpoint{fakeEndpoint: newFakeEndpoint("tap", false)}
	far := newFakeEndpoint("far", false)
	if _, err := ea.AddSession(ta, SessionConfig{Header: h}, plain); err != nil {
		t.Fatal(err)
	}
	if _, err := ea.AddSession(ta, SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: 11, RxSession: 21}}, withCarrier); err != nil {
		t.Fatal(err)
	}
	fs, err := eb.AddSession(tb, SessionConfig{Header: hb}, far)
	if err != nil {
		t.Fatal(err)
	}
	if down, _ := ta.PeerDown(); down {
		t.Fatal("a new tunnel's peer is down")
	}
	before := time.Now()
	if !ta.SetPeerDown(true) || ta.SetPeerDown(true) {
		t.Fatal("SetPeerDown(true) twice: want a change, then none")
	}
	if down, since := ta.PeerDown(); !down || since.Before(before) || since.After(time.Now()) {
		t.Errorf("PeerDown() = %v, %v; want true, since the call", down, since)
	}
	if got := withCarrier.carriers(); len(got) != 1 || got[0] {
		t.Errorf("carrier history %v, want [false]", got)
	}
	late := &carrierEndpoint{fakeEndpoint: newFakeEndpoint("late", false)}
	if _, err := ea.AddSession(ta, SessionConfig{Header: l2tpv3.Header{UDP: true, TxSession: 12, RxSession: 22}}, late); err != nil {
		t.Fatal(err)
	}
	if got := late.carriers(); len(got) != 1 || got[0] {
		t.Errorf("session added while down: carrier history %v, want [false]", got)
	}
	plain.in <- 0
	var ps *Session
	for _, s := range ea.Sessions() {
		if s.Endpoint() == Endpoint(plain) {
			ps = s
		}
	}
	c := waitCounter(t, ps, "tx_peer_down", 3)
	if c["tx_peer_down"] != 3 || c["tx_packets"] != 0 {
		t.Errorf("while down: %v", c)
	}
	if !ta.SetPeerDown(false) {
		t.Fatal("SetPeerDown(false): no change")
	}
	if down, since := ta.PeerDown(); down || !since.IsZero() {
		t.Errorf("PeerDown() = %v, %v after up", down, since)
	}
	if got := withCarrier.carriers(); len(got) != 2 || !got[1] {
		t.Errorf("carrier history %v, want [false true]", got)
	}
	plain.in <- 1
	waitWritten(t, far, 3)
	if c := counters(ps.Counters()); c["tx_packets"] != 3 || c["tx_peer_down"] != 3 {
		t.Errorf("after up: %v", c)
	}
	if c := counters(fs.Counters()); c["rx_packets"] > 3 {
		t.Errorf("far side: %v", c)
	}
}
