package control

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// recorder is an Events that writes down what it is told.
type recorder struct {
	log  []string
	up   map[string]DataConfig
	conn bool
}

func newRecorder() *recorder { return &recorder{up: map[string]DataConfig{}} }

func (r *recorder) ConnUp(peer string) { r.conn = true; r.log = append(r.log, "conn up "+peer) }
func (r *recorder) ConnDown(reason string) {
	r.conn = false
	r.log = append(r.log, "conn down: "+reason)
}
func (r *recorder) SessionUp(d DataConfig) {
	r.up[d.EndID] = d
	r.log = append(r.log, "session up "+d.EndID)
}
func (r *recorder) SessionDown(id, reason string) {
	delete(r.up, id)
	r.log = append(r.log, "session down "+id+": "+reason)
}
func (r *recorder) CircuitStatus(id string, active bool) {
	r.log = append(r.log, fmt.Sprintf("circuit %s active=%v", id, active))
}

func (r *recorder) saw(s string) bool {
	for _, l := range r.log {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// packet is one control message on the in-memory link.
type packet struct {
	to  *node
	raw []byte
}

// network carries the messages of two nodes in order and without loss
// (reliability is the transport's business, tested on its own).
type network struct {
	queue []packet
	wire  [][]byte // every message sent, for inspection
	drop  func(from *node, raw []byte) bool
}

// node is one l2tap's control plane: a Conn, its wire and its events.
type node struct {
	name     string
	net      *network
	peer     *node
	conn     *Conn
	ev       *recorder
	local    uint32
	remote   uint32
	ns       uint16
	opens    int
	rejected []error
	sent     [][]byte
}

func (n *node) Open(local uint32)   { n.local, n.remote, n.ns = local, 0, 0; n.opens++ }
func (n *node) SetPeer(peer uint32) { n.remote = peer }
func (n *node) Close()              {}
func (n *node) Send(typ l2tpv3.MessageType, avps []l2tpv3.AVP) error {
	raw, err := n.conn.AppendMessage(nil, l2tpv3.ControlHeader{ConnID: n.remote, Ns: n.ns}, typ, avps)
	if err != nil {
		return err
	}
	n.ns++
	n.net.wire = append(n.net.wire, raw)
	n.sent = append(n.sent, raw)
	if n.net.drop == nil || !n.net.drop(n, raw) {
		n.net.queue = append(n.net.queue, packet{n.peer, raw})
	}
	return nil
}

// inject delivers raw to n as if it came from the wire.
func (n *node) inject(raw []byte) error {
	if err := n.conn.Accept(raw); err != nil {
		n.rejected = append(n.rejected, err)
		return err
	}
	m, err := l2tpv3.ParseMessage(raw)
	if err != nil {
		panic(err) // Accept parsed it
	}
	n.conn.Handle(&m)
	return nil
}

// run delivers queued messages until the link is quiet.
func (net *network) run(t *testing.T) {
	t.Helper()
	for i := 0; len(net.queue) > 0; i++ {
		if i > 1000 {
			t.Fatal("control messages never stop")
		}
		p := net.queue[0]
		net.queue = net.queue[1:]
		p.to.inject(p.raw)
	}
}

func newNode(t *testing.T, net *network, name string, cfg PeerConfig, seed int64) *node {
	t.Helper()
	n := &node{name: name, net: net, ev: newRecorder()}
	cfg.HostName = name
	c, err := NewConn(cfg, n.ev, n, rand.New(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	n.conn = c
	return n
}

func connPair(t *testing.T, a, b PeerConfig) (*network, *node, *node) {
	net := &network{}
	if a.PeerName == "" {
		a.PeerName = "b"
	}
	if b.PeerName == "" {
		b.PeerName = "a"
	}
	na, nb := newNode(t, net, "a", a, 1), newNode(t, net, "b", b, 2)
	na.peer, nb.peer = nb, na
	return net, na, nb
}

func vm1(initiate bool) []Circuit { return []Circuit{{EndID: "vm1", Initiate: initiate}} }

// checkMirrored verifies that what one side receives is what the other sends.
func checkMirrored(t *testing.T, a, b DataConfig) {
	t.Helper()
	if a.RxSession == 0 || a.TxSession == 0 || a.RxSession != b.TxSession || a.TxSession != b.RxSession ||
		a.RxCookie != b.TxCookie || a.TxCookie != b.RxCookie || a.RxCookieLen != b.TxCookieLen ||
		a.TxCookieLen != b.RxCookieLen || a.RxSublayer != b.TxSublayer || a.TxSublayer != b.RxSublayer {
		t.Fatalf("data configs do not mirror:\n%+v\n%+v", a, b)
	}
}

func TestSetupAndData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret string
		digest l2tpv3.DigestType
	}{
		{"plain", "", 0},
		{"hmac-md5", "s3cret", l2tpv3.DigestMD5},
		{"hmac-sha1", "s3cret", l2tpv3.DigestSHA1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, a, b := connPair(t,
				PeerConfig{Initiator: true, Secret: []byte(tc.secret), Digest: tc.digest, Circuits: vm1(true)},
				PeerConfig{Secret: []byte(tc.secret), Digest: tc.digest, Circuits: []Circuit{{EndID: "vm1", Sublayer: 0}}})
			if err := a.conn.Start(); err != nil {
				t.Fatal(err)
			}
			net.run(t)
			if a.conn.State() != "established" || b.conn.State() != "established" {
				t.Fatalf("states %s / %s; a %v b %v", a.conn.State(), b.conn.State(), a.ev.log, b.ev.log)
			}
			al, ap := a.conn.IDs()
			bl, bp := b.conn.IDs()
			if al != bp || bl != ap || al == 0 || bl == 0 {
				t.Fatalf("connection IDs a %d/%d b %d/%d", al, ap, bl, bp)
			}
			da, okA := a.ev.up["vm1"]
			db, okB := b.ev.up["vm1"]
			if !okA || !okB {
				t.Fatalf("session not up: a %v b %v", a.ev.log, b.ev.log)
			}
			checkMirrored(t, da, db)
			if da.RxCookieLen != 8 || da.RxCookie == 0 || db.RxCookie == 0 || da.PWType != l2tpv3.PWEthernet {
				t.Fatalf("cookies %+v %+v", da, db)
			}
			// Every message on the wire parses, and with a secret each
			// carries a digest of the configured type.
			var types []string
			for _, raw := range net.wire {
				m, attrs := parseWire(t, raw)
				if tc.secret != "" && (attrs.NumDigests != 1 || attrs.Digests[0].Type != tc.digest) {
					t.Fatalf("%v without a %v digest", m.Type, tc.digest)
				}
				types = append(types, m.Type.String())
			}
			if got := strings.Join(types, " "); got != "SCCRQ SCCRP SCCCN ICRQ ICRP ICCN" {
				t.Fatalf("exchange %s", got)
			}
		})
	}
}

func TestAuthenticationFailure(t *testing.T) {
	for _, tc := range []struct{ name, secretA, secretB string }{
		{"different secrets", "one", "two"},
		{"only the initiator has a secret", "one", ""},
		{"only the responder has a secret", "", "two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, a, b := connPair(t,
				PeerConfig{Initiator: true, Secret: []byte(tc.secretA), Circuits: vm1(true)},
				PeerConfig{Secret: []byte(tc.secretB), Circuits: vm1(false)})
			a.conn.Start()
			net.run(t)
			if b.conn.State() != "idle" || b.opens != 0 || len(b.ev.log) != 0 {
				t.Fatalf("responder has state %s, %d opens, events %v", b.conn.State(), b.opens, b.ev.log)
			}
			if len(b.rejected) != 1 || !errors.Is(b.rejected[0], ErrAuth) {
				t.Fatalf("rejections %v, want one ErrAuth", b.rejected)
			}
			if a.conn.State() != "wait-ctl-reply" || a.ev.conn {
				t.Fatalf("initiator state %s", a.conn.State())
			}
		})
	}
}

// TestStrangerCreatesNoState floods a responder with messages that are
// not a valid SCCRQ from its configured peer: none may open a connection.
func TestStrangerCreatesNoState(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		t.Run("secret="+secret, func(t *testing.T) {
			net, a, b := connPair(t, PeerConfig{Initiator: true, Secret: []byte(secret), Circuits: vm1(true)},
				PeerConfig{Secret: []byte(secret), Circuits: vm1(false)})
			// A stranger: another host name, same secret or none.
			stranger := newNode(t, net, "mallory", PeerConfig{Initiator: true, PeerName: "b", Secret: []byte(secret)}, 3)
			stranger.peer = b
			stranger.conn.Start()
			var bogus [][]byte
			bogus = append(bogus, net.queue[0].raw)
			net.queue = nil
			// The real peer's SCCRQ, damaged in various ways.
			a.conn.Start()
			good := net.queue[0].raw
			net.queue = nil
			flip := append([]byte(nil), good...)
			flip[len(flip)-1] ^= 1
			bogus = append(bogus, flip)
			if secret == "" {
				// Without authentication a damaged SCCRQ is a valid one:
				// damage the host name instead.
				bogus = bogus[:1]
			}
			hello := l2tpv3.BeginMessage(nil, l2tpv3.ControlHeader{}, l2tpv3.MsgHELLO)
			l2tpv3.SetControlLength(hello)
			noAVPs := l2tpv3.BeginMessage(nil, l2tpv3.ControlHeader{}, l2tpv3.MsgSCCRQ)
			l2tpv3.SetControlLength(noAVPs)
			toRandomConn := append([]byte(nil), good...)
			toRandomConn[7] = 0x42
			bogus = append(bogus, hello, noAVPs, toRandomConn, []byte{0xc8, 0x03, 0, 12}, good[:len(good)-3])
			r := rand.New(rand.NewSource(9))
			for i := 0; i < 1000; i++ {
				p := make([]byte, r.Intn(100))
				r.Read(p)
				if len(p) > 1 {
					p[0], p[1] = 0xc8, 0x03
				}
				bogus = append(bogus, p)
			}
			for _, p := range bogus {
				if b.inject(p) == nil {
					t.Fatalf("accepted % x", p)
				}
			}
			if b.conn.State() != "idle" || b.opens != 0 || len(b.ev.log) != 0 || len(net.queue) != 0 {
				t.Fatalf("stranger made state: %s, %d opens, %v, %d queued", b.conn.State(), b.opens, b.ev.log, len(net.queue))
			}
			// The configured peer still gets through.
			if err := b.inject(good); err != nil {
				t.Fatal(err)
			}
			net.run(t)
			if b.conn.State() != "established" {
				t.Fatalf("real peer refused after the flood: %s", b.conn.State())
			}
		})
	}
}

// TestCookieLengths checks that each end announces the cookie it expects,
// of its own length, and accepts the peer's of any length: 4 and 8 bytes,
// or none, each way, whichever end initiates.
func TestCookieLengths(t *testing.T) {
	for _, tc := range []struct {
		name       string
		init, resp int // Circuit.CookieLen: -1 none, 0 default (8)
		wantI      int // bytes the initiator expects (and the responder sends)
		wantR      int // bytes the responder expects (and the initiator sends)
	}{
		{"4-8", 4, 8, 4, 8},
		{"8-4", 8, 4, 8, 4},
		{"default-4", 0, 4, 8, 4},
		{"4-4", 4, 4, 4, 4},
		{"none-8", -1, 8, 0, 8},
		{"4-none", 4, -1, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, a, b := connPair(t,
				PeerConfig{Initiator: true, Circuits: []Circuit{{EndID: "vm1", Initiate: true, CookieLen: tc.init}}},
				PeerConfig{Circuits: []Circuit{{EndID: "vm1", CookieLen: tc.resp}}})
			if err := a.conn.Start(); err != nil {
				t.Fatal(err)
			}
			net.run(t)
			da, okA := a.ev.up["vm1"]
			db, okB := b.ev.up["vm1"]
			if !okA || !okB {
				t.Fatalf("session not up: a %v b %v", a.ev.log, b.ev.log)
			}
			checkMirrored(t, da, db)
			if da.RxCookieLen != tc.wantI || db.RxCookieLen != tc.wantR {
				t.Fatalf("cookie lengths expected: initiator %d, responder %d; want %d, %d", da.RxCookieLen, db.RxCookieLen, tc.wantI, tc.wantR)
			}
			for _, d := range []DataConfig{da, db} {
				if d.RxCookieLen == 4 && d.RxCookie > 0xffffffff {
					t.Fatalf("4-byte cookie %#x", d.RxCookie)
				}
			}
			// What each end announced on the wire is the length it expects.
			announced := map[l2tpv3.MessageType]int{}
			for _, raw := range net.wire {
				m, attrs := parseWire(t, raw)
				if m.Type == l2tpv3.MsgICRQ || m.Type == l2tpv3.MsgICRP {
					announced[m.Type] = len(attrs.Cookie)
				}
			}
			if announced[l2tpv3.MsgICRQ] != tc.wantI || announced[l2tpv3.MsgICRP] != tc.wantR {
				t.Fatalf("Assigned Cookie AVPs: ICRQ %d bytes, ICRP %d; want %d, %d", announced[l2tpv3.MsgICRQ], announced[l2tpv3.MsgICRP], tc.wantI, tc.wantR)
			}
		})
	}
}

func TestPseudowireTypeMismatch(t *testing.T) {
	net, a, b := connPair(t, PeerConfig{Initiator: true, Circuits: vm1(true)},
		PeerConfig{Circuits: []Circuit{{EndID: "vm1", PWType: l2tpv3.PWEthernetVLAN}}})
	a.conn.Start()
	net.run(t)
	if !a.ev.conn || !b.ev.conn {
		t.Fatal("control connection not up")
	}
	if len(a.ev.up) != 0 || len(b.ev.up) != 0 {
		t.Fatalf("session up despite the type mismatch: %v / %v", a.ev.log, b.ev.log)
	}
	if !a.ev.saw("session down vm1: peer sent CDN (result 14") {
		t.Fatalf("initiator was not told result 14: %v", a.ev.log)
	}
}

func TestTeardown(t *testing.T) {
	net, a, b := connPair(t, PeerConfig{Initiator: true, Circuits: vm1(true)}, PeerConfig{Circuits: vm1(false)})
	a.conn.Start()
	net.run(t)
	a.conn.Stop("shutting down")
	net.run(t)
	for _, n := range []*node{a, b} {
		if n.conn.State() != "idle" || n.ev.conn || len(n.ev.up) != 0 || !n.ev.saw("session down vm1") {
			t.Fatalf("%s after teardown: %s %v", n.name, n.conn.State(), n.ev.log)
		}
	}
	if !b.ev.saw("conn down: peer sent StopCCN (result 1)") {
		t.Fatalf("responder log %v", b.ev.log)
	}
	// The initiator can set up again.
	a.conn.Start()
	net.run(t)
	if len(a.ev.up) != 1 || len(b.ev.up) != 1 {
		t.Fatalf("no session after restart: %v", b.ev.log)
	}
	checkMirrored(t, a.ev.up["vm1"], b.ev.up["vm1"])
}

// TestSCCRQLeavesEstablished: a Conn that is established ignores any
// SCCRQ, a restarted peer's as a replayed one (an SCCRQ has no nonce, so
// both verify): no reply, no teardown. Dynamic answers it with a second
// handshake beside the connection (TestDynamicPeerRestartAndStranger).
func TestSCCRQLeavesEstablished(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		t.Run("secret="+secret, func(t *testing.T) {
			cfgA := PeerConfig{Initiator: true, Secret: []byte(secret), Circuits: vm1(true), PeerName: "b"}
			net, a, b := connPair(t, cfgA, PeerConfig{Secret: []byte(secret), Circuits: vm1(false)})
			a.conn.Start()
			net.run(t)
			before, logBefore, sentBefore := b.ev.up["vm1"], len(b.ev.log), len(b.sent)
			a2 := newNode(t, net, "a", cfgA, 77)
			a2.peer, b.peer = b, a2
			a2.conn.Start()
			net.run(t)
			if b.conn.State() != "established" || b.ev.up["vm1"] != before || len(b.ev.log) != logBefore || len(b.sent) != sentBefore {
				t.Fatalf("an SCCRQ changed the established connection: %s, sent %d more, %v", b.conn.State(), len(b.sent)-sentBefore, b.ev.log)
			}
		})
	}
}

func TestTieBreaking(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		net := &network{}
		a := newNode(t, net, "a", PeerConfig{Initiator: true, PeerName: "b", Circuits: vm1(true)}, 100+seed)
		b := newNode(t, net, "b", PeerConfig{Initiator: true, PeerName: "a", Circuits: vm1(true)}, 200+seed)
		a.peer, b.peer = b, a
		a.conn.Start()
		b.conn.Start()
		net.run(t)
		al, ap := a.conn.IDs()
		bl, bp := b.conn.IDs()
		if a.conn.State() != "established" || b.conn.State() != "established" || al != bp || bl != ap {
			t.Fatalf("seed %d: states %s/%s IDs %d/%d %d/%d\n%v\n%v", seed, a.conn.State(), b.conn.State(), al, ap, bl, bp, a.ev.log, b.ev.log)
		}
		da, okA := a.ev.up["vm1"]
		db, okB := b.ev.up["vm1"]
		if !okA || !okB || len(a.conn.sessions) != 1 || len(b.conn.sessions) != 1 {
			t.Fatalf("seed %d: sessions %v / %v", seed, a.ev.log, b.ev.log)
		}
		checkMirrored(t, da, db)
		// The lower Control Connection Tie Breaker wins: its side is the
		// originator, the one that sends the SCCCN.
		tieA, tieB := firstTie(t, a, l2tpv3.MsgSCCRQ), firstTie(t, b, l2tpv3.MsgSCCRQ)
		winner := a
		if tieB < tieA {
			winner = b
		}
		if !sentType(t, winner, l2tpv3.MsgSCCCN) {
			t.Fatalf("seed %d: the side with the lower tie breaker did not originate", seed)
		}
		// Likewise for the session: the winner's ICRQ is the one answered.
		sA, sB := firstTie(t, a, l2tpv3.MsgICRQ), firstTie(t, b, l2tpv3.MsgICRQ)
		winner = a
		if sB < sA {
			winner = b
		}
		if !sentType(t, winner, l2tpv3.MsgICCN) {
			t.Fatalf("seed %d: the session tie went to the higher tie breaker", seed)
		}
	}
}

// parseWire parses a control message an end sent and its attributes,
// failing t if either does not parse.
func parseWire(t *testing.T, raw []byte) (l2tpv3.Message, l2tpv3.Attrs) {
	t.Helper()
	m, err := l2tpv3.ParseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	var attrs l2tpv3.Attrs
	if err := l2tpv3.ParseAttrs(&m, &attrs); err != nil {
		t.Fatal(err)
	}
	return m, attrs
}

// firstTie returns the Tie Breaker of the first message of type typ n sent.
func firstTie(t *testing.T, n *node, typ l2tpv3.MessageType) uint64 {
	t.Helper()
	for _, raw := range n.sent {
		m, _ := l2tpv3.ParseMessage(raw)
		var a l2tpv3.Attrs
		if m.Type == typ && l2tpv3.ParseAttrs(&m, &a) == nil && a.Has(l2tpv3.AttrTieBreaker) {
			return a.TieBreaker
		}
	}
	t.Fatalf("%s sent no %v with a tie breaker", n.name, typ)
	return 0
}

func sentType(t *testing.T, n *node, typ l2tpv3.MessageType) bool {
	for _, raw := range n.sent {
		if m, _ := l2tpv3.ParseMessage(raw); m.Type == typ {
			return true
		}
	}
	return false
}

// established returns two nodes with the connection and vm1 up.
func established(t *testing.T, secret string) (*network, *node, *node) {
	net, a, b := connPair(t, PeerConfig{Initiator: true, Secret: []byte(secret), Circuits: vm1(true)},
		PeerConfig{Secret: []byte(secret), Circuits: vm1(false)})
	a.conn.Start()
	net.run(t)
	if len(b.ev.up) != 1 {
		t.Fatalf("not established: %v", b.ev.log)
	}
	return net, a, b
}

func TestUnknownMandatoryAVP(t *testing.T) {
	t.Run("connection", func(t *testing.T) {
		net, a, b := established(t, "s3cret")
		a.Send(l2tpv3.MsgHELLO, []l2tpv3.AVP{{Mandatory: true, Type: 250, Value: []byte{1}}})
		net.run(t)
		if b.conn.State() != "idle" || !b.ev.saw("unknown mandatory AVP") {
			t.Fatalf("responder: %s %v", b.conn.State(), b.ev.log)
		}
		if !a.ev.saw("peer sent StopCCN (result 2, error 8") || a.conn.State() != "idle" {
			t.Fatalf("initiator: %s %v", a.conn.State(), a.ev.log)
		}
	})
	t.Run("session", func(t *testing.T) {
		net, a, b := established(t, "")
		d := a.ev.up["vm1"]
		a.Send(l2tpv3.MsgSLI, []l2tpv3.AVP{
			u32AVP(l2tpv3.AttrLocalSessionID, d.RxSession), u32AVP(l2tpv3.AttrRemoteSessionID, d.TxSession),
			{Mandatory: true, Vendor: 9, Type: 1},
		})
		net.run(t)
		if b.conn.State() != "established" || len(b.ev.up) != 0 || len(a.ev.up) != 0 {
			t.Fatalf("session survived: %v / %v", a.ev.log, b.ev.log)
		}
		if !a.ev.saw("session down vm1: peer sent CDN (result 2, error 8") {
			t.Fatalf("initiator log %v", a.ev.log)
		}
	})
	t.Run("optional is ignored", func(t *testing.T) {
		net, a, b := established(t, "")
		a.Send(l2tpv3.MsgHELLO, []l2tpv3.AVP{{Type: 250, Value: []byte{1}}, {Vendor: 9, Type: 1}})
		net.run(t)
		if b.conn.State() != "established" || len(b.ev.up) != 1 {
			t.Fatalf("optional AVP hurt: %v", b.ev.log)
		}
	})
}

func TestSetLinkInfo(t *testing.T) {
	net, a, b := established(t, "s3cret")
	a.conn.SetCircuitStatus("vm1", false)
	net.run(t)
	a.conn.SetCircuitStatus("vm1", true)
	net.run(t)
	if !b.ev.saw("circuit vm1 active=false") || !b.ev.saw("circuit vm1 active=true") {
		t.Fatalf("SLI not seen: %v", b.ev.log)
	}
}

func TestCloseSession(t *testing.T) {
	net, a, b := established(t, "")
	b.conn.CloseSession("vm1")
	net.run(t)
	if len(a.ev.up) != 0 || !a.ev.saw("session down vm1: peer sent CDN (result 3)") || a.conn.State() != "established" {
		t.Fatalf("CDN not handled: %v", a.ev.log)
	}
}

func TestWrongPeerName(t *testing.T) {
	net, a, b := connPair(t, PeerConfig{Initiator: true, Circuits: vm1(true), PeerName: "b"},
		PeerConfig{Circuits: vm1(false), PeerName: "not-a"})
	a.conn.Start()
	net.run(t)
	if b.opens != 0 || len(b.rejected) != 1 || !errors.Is(b.rejected[0], ErrStranger) {
		t.Fatalf("responder accepted a wrong name: %v", b.rejected)
	}
}

func TestConfigCheck(t *testing.T) {
	for _, cfg := range []PeerConfig{
		{},
		{HostName: "a", Digest: 7},
		{HostName: "a", Circuits: []Circuit{{EndID: ""}}},
		{HostName: "a", Circuits: []Circuit{{EndID: "x"}, {EndID: "x"}}},
		{HostName: "a", Circuits: []Circuit{{EndID: "x", PWType: 7}}},
		{HostName: "a", Circuits: []Circuit{{EndID: "x", CookieLen: 3}}},
		{HostName: "a", Circuits: []Circuit{{EndID: "x", Sublayer: 2}}},
	} {
		if err := cfg.Check(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
