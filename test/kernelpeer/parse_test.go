//go:build linux

package kernelpeer

import (
	"strings"
	"testing"
)

// These tests cover the harness's parsers and need neither root nor QEMU.

func TestParsePing(t *testing.T) {
	tests := []struct {
		name, out      string
		sent, received int
	}{
		{"iputils", "--- 10.77.0.2 ping statistics ---\n3 packets transmitted, 2 received, 33% packet loss, time 402ms\n", 3, 2},
		{"busybox", "--- 10.77.0.1 ping statistics ---\n3 packets transmitted, 0 packets received, 100% packet loss\n", 3, 0},
		{"iputils-errors", "3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2041ms\n", 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parsePing(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sent != tt.sent || r.Received != tt.received {
				t.Errorf("got %d/%d, want %d/%d", r.Received, r.Sent, tt.received, tt.sent)
			}
		})
	}
	if _, err := parsePing("ping: unknown host\n"); err == nil {
		t.Error("parsePing accepted output without a summary")
	}
}

// TestPingAnswered: with a deadline, Count replies are success even when
// ping sent one more request that was still on its way; without one,
// every request needs its reply.
func TestPingAnswered(t *testing.T) {
	withDeadline := PingOpts{Count: 5, Deadline: 10}
	noDeadline := PingOpts{Count: 3}
	tests := []struct {
		name           string
		opts           PingOpts
		sent, received int
		want           bool
	}{
		{"all", withDeadline, 5, 5, true},
		{"one in flight", withDeadline, 6, 5, true},
		{"one lost", withDeadline, 6, 4, false},
		{"none", withDeadline, 10, 0, false},
		{"no deadline, all", noDeadline, 3, 3, true},
		{"no deadline, one lost", noDeadline, 3, 2, false},
		{"no deadline, nothing sent", noDeadline, 0, 0, false},
	}
	for _, tt := range tests {
		r := PingResult{Sent: tt.sent, Received: tt.received}
		if got := r.Answered(tt.opts); got != tt.want {
			t.Errorf("%s: %v answered %v for %+v, want %v", tt.name, r, got, tt.opts, tt.want)
		}
	}
}

func TestParseCountersAndDrops(t *testing.T) {
	// rx_coalesced, rx_seq_resyncs and rx_sublayer_reserved count
	// delivered packets, not drops.
	c := ParseCounters("rx_packets 5\nrx_bytes 600\nrx_errors 4\nrx_oos_packets 1\nrx_coalesced 9\n" +
		"rx_seq_resyncs 1\nrx_sublayer_reserved 2\n" +
		"rx_cookie_discards 3\nrx_session_mismatch 1\nrx_invalid 0\ntx_packets 7\nnot a counter line\n")
	if c["rx_packets"] != 5 || c["tx_packets"] != 7 {
		t.Fatalf("counters parsed wrong: %v", c)
	}
	sum, which := c.Drops()
	if sum != 4 || which != "rx_cookie_discards=3 rx_session_mismatch=1" {
		t.Errorf("Drops() = %d %q, want 4 %q", sum, which, "rx_cookie_discards=3 rx_session_mismatch=1")
	}
}

// debugfsSample is /sys/kernel/debug/l2tp/tunnels from Linux 6.1.
const debugfsSample = `TUNNEL 1 peer 1 from 192.0.2.2 to 192.0.2.1
 source port 1701, dest port 1701
 L2TPv3, UDP
 1 sessions, refcnt 3/3
 00000000 rx 9/806/0 rx 7/500/2
  SESSION 5, peer 5, ETH
   nr 0, ns 9
   refcnt 2
   config 0/0/R/S/-/LAC 00000000 0
   offset 0 l2specific 1/4
   cookie 0011223344556677
   peer cookie 8899aabbccddeeff
   0/9 tx 9/806/1 rx 7/500/2
   interface l2tpeth0
`

func TestParseKernelSessionStats(t *testing.T) {
	ks, err := ParseKernelSessionStats(debugfsSample, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := KernelSessionStats{TxPackets: 9, TxBytes: 806, TxErrors: 1, RxPackets: 7, RxBytes: 500, RxErrors: 2}
	if ks != want {
		t.Errorf("got %+v, want %+v", ks, want)
	}
	if _, err := ParseKernelSessionStats(debugfsSample, 6); err == nil {
		t.Error("found counters for a session that does not exist")
	}
}

func TestExpectedMTU(t *testing.T) {
	tests := []struct {
		peer PeerSession
		want int
	}{
		{PeerSession{UDP: true, Sublayer: SublayerNone}, 1450},
		{PeerSession{UDP: true, Sublayer: SublayerSeq}, 1446},
		{PeerSession{UDP: true, Sublayer: SublayerZeros, Cookie: "0011223344556677"}, 1438},
		{PeerSession{Sublayer: SublayerSeq}, 1458},
		{PeerSession{IPv6: true, UDP: true, Sublayer: SublayerSeq}, 1426},
		{PeerSession{IPv6: true, Sublayer: SublayerNone, Cookie: "11223344"}, 1438},
	}
	for _, tt := range tests {
		if got := tt.peer.ExpectedMTU(); got != tt.want {
			t.Errorf("%+v: ExpectedMTU() = %d, want %d", tt.peer, got, tt.want)
		}
	}
}

func TestParseSessionCounters(t *testing.T) {
	out := "rx_packets 12\ntx_packets 9\n" +
		"session kpmtap0 301/301: rx_packets=5 rx_bytes=490 tx_packets=4\n" +
		"session kpmtap1 302/312: rx_packets=7 rx_bytes=686 tx_packets=5\n"
	m, err := ParseSessionCounters(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["kpmtap0"]["rx_packets"] != 5 || m["kpmtap1"]["rx_packets"] != 7 || m["kpmtap1"]["tx_packets"] != 5 {
		t.Errorf("got %v", m)
	}
	if _, err := ParseSessionCounters("session kpmtap0 301/301: rx_packets=x\n"); err == nil {
		t.Error("accepted a counter that is not a number")
	}
	if _, err := ParseSessionCounters("session kpmtap0 rx_packets=1\n"); err == nil {
		t.Error("accepted a session line without IDs")
	}
}

func TestL2tapConfig(t *testing.T) {
	c := multiCase{tunnels: []PeerTunnel{{UDP: true, Port: 1702, PeerPort: 1703, Sessions: threeSessions(301)}}}
	tunnels, sess := c.layout()
	got := l2tapConfig(tunnels, sess, "/run/x.sock")
	for _, want := range []string{
		"control = \"/run/x.sock\"\n",
		"src = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nudp = true\nsrcport = 1703\ndstport = 1702\n",
		"ifname = \"kpmtap1\"\n  txsession = 302\n  rxsession = 312\n  txcookie = \"0x01020304\"\n  rxcookie = \"0xa1b2c3d4\"\n  pincounter = true\n",
		"rxcookie = \"0x0011223344556677\"\n  cookie64 = true\n  counter = true\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if sess[2].peer.Dev != "kpmw2" || sess[2].hostAddr != "10.78.2.1" || sess[2].peer.ExpectedMTU() != 1438 {
		t.Errorf("layout of session 2: %+v", sess[2])
	}
}

func TestMTUBelowKernel(t *testing.T) {
	tests := []struct {
		peer PeerSession
		want int
	}{
		{PeerSession{}, 0},
		{PeerSession{Cookie: "11223344", PeerCook: "55667788"}, 0},
		{PeerSession{PeerCook: "0a0b0c0d"}, 4},                             // l2tap sends 4, receives none
		{PeerSession{PeerCook: "f0e1d2c3b4a59687"}, 8},                     // sends 8, receives none
		{PeerSession{Cookie: "11223344"}, 0},                               // receives 4: the kernel counts them too
		{PeerSession{Cookie: "0011223344556677", PeerCook: "55667788"}, 0}, // sends 4, receives 8
		{PeerSession{Cookie: "a1b2c3d4", PeerCook: "8899aabbccddeeff"}, 4}, // sends 8, receives 4
	}
	for _, tt := range tests {
		if got := tt.peer.MTUBelowKernel(); got != tt.want {
			t.Errorf("%+v: MTUBelowKernel() = %d, want %d", tt.peer, got, tt.want)
		}
	}
}
