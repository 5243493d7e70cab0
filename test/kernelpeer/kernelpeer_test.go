//go:build linux

package kernelpeer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostTap is the TAP l2tap creates in the namespace.
const hostTap = "kpl2tap0"

// pwCase is one pseudowire configuration, set up identically (or, for the
// negative cases, deliberately not) on the kernel and on l2tap.
type pwCase struct {
	name  string
	peer  PeerSession
	flags []string // l2tap flags beyond addresses, ports, -txsession, -ifname
	// blocked cases must lose every ping; wantDrop names the l2tap counter
	// that must count the dropped packets ("" accepts any drop counter).
	blocked  bool
	wantDrop string
	// accepted blocked cases are delivered to the TAP, as Linux would
	// deliver them, but mangled; wantCount names the counter that flags them.
	accepted  bool
	wantCount string
}

// l2tapArgs returns l2tap's command line for c.
func (c pwCase) l2tapArgs() []string {
	p := c.peer
	args := []string{
		"-src", p.Remote(), "-dst", p.Local(),
		"-txsession", strconv.FormatUint(uint64(p.Session), 10),
		"-rxsession", strconv.FormatUint(uint64(p.peerSession()), 10),
		"-ifname", hostTap,
	}
	if p.IPv6 {
		args = append(args, "-ipv6")
	}
	if p.UDP {
		port := strconv.Itoa(L2TPPort)
		args = append(args, "-udp", "-srcport", port, "-dstport", port)
	}
	return append(args, c.flags...)
}

var pwCases = []pwCase{
	{
		name: "udp4-none",
		peer: PeerSession{UDP: true, Session: 101, Sublayer: SublayerNone},
	},
	{
		name: "udp4-zeros-cookie64",
		peer: PeerSession{UDP: true, Session: 102, Sublayer: SublayerZeros,
			Cookie: "0011223344556677", PeerCook: "8899aabbccddeeff"},
		flags: []string{"-cookie64", "-pincounter", "-txcookie", "0x8899aabbccddeeff", "-rxcookie", "0x0011223344556677"},
	},
	{
		name:  "udp4-seq",
		peer:  PeerSession{UDP: true, Session: 103, Sublayer: SublayerSeq},
		flags: []string{"-counter"},
	},
	{
		name: "ip4-cookie32",
		peer: PeerSession{Session: 104, PeerSess: 204, Sublayer: SublayerNone,
			Cookie: "11223344", PeerCook: "55667788"},
		flags: []string{"-txcookie", "0x55667788", "-rxcookie", "0x11223344"},
	},
	{
		name:  "ip4-seq-seqcheck",
		peer:  PeerSession{Session: 105, Sublayer: SublayerSeq},
		flags: []string{"-counter", "-seqcheck"},
	},
	{
		name:  "udp6-seq",
		peer:  PeerSession{IPv6: true, UDP: true, Session: 106, Sublayer: SublayerSeq},
		flags: []string{"-counter"},
	},
	{
		name:  "ip6-seq",
		peer:  PeerSession{IPv6: true, Session: 107, Sublayer: SublayerSeq},
		flags: []string{"-counter"},
	},
	// Cookies per direction (RFC 3931 §4.1): the kernel's "cookie" is the
	// one it sends (l2tap's -rxcookie), its "peer_cookie" the one it
	// expects (l2tap's -txcookie); either may be absent, and their lengths
	// may differ. The kernel sizes its MTU by the header it sends; l2tap
	// by the larger of its two headers, so its TAP MTU is lower by the
	// cookie bytes it sends beyond those it receives.
	{
		name:  "udp4-txcookie-only",
		peer:  PeerSession{UDP: true, Session: 111, Sublayer: SublayerNone, PeerCook: "0a0b0c0d"},
		flags: []string{"-txcookie", "0x0a0b0c0d"},
	},
	{
		name:  "udp6-txcookie64-only",
		peer:  PeerSession{IPv6: true, UDP: true, Session: 112, Sublayer: SublayerSeq, PeerCook: "f0e1d2c3b4a59687"},
		flags: []string{"-cookie64", "-counter", "-txcookie", "0xf0e1d2c3b4a59687"},
	},
	{
		name:  "ip4-rxcookie-only",
		peer:  PeerSession{Session: 113, Sublayer: SublayerZeros, Cookie: "11223344"},
		flags: []string{"-pincounter", "-rxcookie", "0x11223344"},
	},
	{
		name: "udp4-tx32-rx64",
		peer: PeerSession{UDP: true, Session: 114, PeerSess: 214, Sublayer: SublayerNone,
			Cookie: "0011223344556677", PeerCook: "55667788"},
		flags: []string{"-rxsession", "214", "-txcookie", "0x55667788", "-rxcookie64", "-rxcookie", "0x0011223344556677"},
	},
	{
		name: "ip6-tx64-rx32-seq",
		peer: PeerSession{IPv6: true, Session: 115, Sublayer: SublayerSeq,
			Cookie: "a1b2c3d4", PeerCook: "8899aabbccddeeff"},
		flags: []string{"-counter", "-txcookie64", "-txcookie", "0x8899aabbccddeeff", "-rxcookie", "0xa1b2c3d4"},
	},
	{
		name: "bad-cookie",
		peer: PeerSession{UDP: true, Session: 201, Sublayer: SublayerNone,
			Cookie: "11111111", PeerCook: "22222222"},
		flags:   []string{"-txcookie", "0x22222222", "-rxcookie", "0x33333333"},
		blocked: true, wantDrop: "rx_cookie_discards",
	},
	{
		// The kernel sends a 32-bit cookie; l2tap expects the same value
		// in 64 bits, so it reads the cookie on into the frame.
		name:    "bad-cookie-length",
		peer:    PeerSession{UDP: true, Session: 204, Sublayer: SublayerNone, Cookie: "11223344"},
		flags:   []string{"-rxcookie64", "-rxcookie", "0x11223344"},
		blocked: true, wantDrop: "rx_cookie_discards",
	},
	{
		name:    "bad-session",
		peer:    PeerSession{UDP: true, Session: 202, Sublayer: SublayerNone},
		flags:   []string{"-rxsession", "203"},
		blocked: true, wantDrop: "rx_session_mismatch",
	},
	{
		// The kernel sends no sublayer; l2tap, told to expect one, reads
		// the first 4 bytes of each frame as the sublayer (as Linux would),
		// finds reserved bits set (a broadcast or locally administered
		// MAC), delivers what is left and warns.
		name:    "bad-sublayer",
		peer:    PeerSession{UDP: true, Session: 203, Sublayer: SublayerNone},
		flags:   []string{"-counter"},
		blocked: true, accepted: true, wantCount: "rx_sublayer_reserved",
	},
}

// TestKernelPeer runs every pwCase against the guest kernel's l2tp_eth.
func TestKernelPeer(t *testing.T) {
	g, bin := needL2tap(t)
	for _, c := range pwCases {
		t.Run(c.name, func(t *testing.T) { runCase(t, g, bin, c) })
	}
}

func runCase(t *testing.T, g *Guest, bin string, c pwCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := env.ns
	p := c.peer

	if _, err := g.MustRun("dmesg -c >/dev/null"); err != nil {
		t.Fatal(err)
	}
	guestSession(t, g, p)

	l, err := StartL2tap(ctx, ns, bin, c.l2tapArgs(), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _ = l.Stop(5 * time.Second)
			// Do not let a TAP left by a failed case break the next one.
			_, _ = ns.Output(context.Background(), "ip", "link", "del", hostTap)
		}
	})
	if _, err := ns.Output(ctx, "ip", "addr", "add", fmt.Sprintf("%s/%d", HostOverlayAddr, OverlayPrefix), "dev", hostTap); err != nil {
		t.Fatal(err)
	}

	hostMTU, err := readNetnsInt(ctx, ns, "/sys/class/net/"+hostTap+"/mtu")
	if err != nil {
		t.Fatal(err)
	}
	guestMTU, err := readGuestInt(g, "/sys/class/net/"+PeerDev+"/mtu")
	if err != nil {
		t.Fatal(err)
	}

	var summary string
	if c.blocked {
		summary = checkBlocked(ctx, t, g, l, c)
	} else {
		summary = checkPasses(ctx, t, g, l, c, hostMTU, guestMTU)
	}
	stopped = true
	if out, err := ns.Output(ctx, "ip", "link", "show", hostTap); err == nil {
		t.Errorf("l2tap left its TAP %s behind after exit:\n%s", hostTap, out)
		_, _ = ns.Output(ctx, "ip", "link", "del", hostTap)
	}
	status := "ok"
	if t.Failed() {
		status = "FAILED"
	}
	t.Logf("%s: %s, mtu host=%d guest=%d; %s", c.name, status, hostMTU, guestMTU, summary)
}

// guestSession sets session p up in the guest, and tears it down at the
// end of the test.
func guestSession(t *testing.T, g *Guest, p PeerSession) {
	t.Helper()
	t.Cleanup(func() {
		if _, err := g.MustRun(p.TeardownCommand()); err != nil {
			t.Errorf("guest teardown: %v", err)
		}
	})
	for _, cmd := range p.SetupCommands() {
		if out, err := g.MustRun(cmd); err != nil {
			t.Fatalf("guest setup: %v\n%s", err, out)
		}
	}
}

// checkPasses verifies a matching configuration end to end and stops l2tap.
func checkPasses(ctx context.Context, t *testing.T, g *Guest, l *L2tap, c pwCase, hostMTU, guestMTU int) string {
	t.Helper()
	p := c.peer
	if want := guestMTU - p.MTUBelowKernel(); hostMTU != want {
		t.Errorf("TAP MTU %d, want %d: the kernel's %s MTU %d less the %d cookie bytes l2tap sends beyond those it receives",
			hostMTU, want, PeerDev, guestMTU, p.MTUBelowKernel())
	}
	if want := p.ExpectedMTU(); guestMTU != want {
		t.Errorf("kernel %s MTU %d, want %d by the l2tp_eth formula", PeerDev, guestMTU, want)
	}

	type ping struct {
		name string
		host bool // from the namespace (else from the guest)
		opts PingOpts
	}
	pings := []ping{
		{"host->guest", true, PingOpts{Count: 3, Deadline: 15}},
		{"guest->host", false, PingOpts{Count: 3, Deadline: 15}},
		{"host->guest 1300B", true, PingOpts{Count: 2, Size: 1300, Deadline: 10}},
		{"guest->host 1300B", false, PingOpts{Count: 2, Size: 1300, Deadline: 10}},
		{fmt.Sprintf("host->guest %dB DF (full MTU)", hostMTU-28), true,
			PingOpts{Count: 2, Size: hostMTU - 28, Deadline: 10, DontFrag: true}},
	}
	var results []string
	for _, pg := range pings {
		var r PingResult
		var err error
		if pg.host {
			r, err = HostPing(ctx, env.ns, PeerAddr, pg.opts)
		} else {
			r, err = GuestPing(g, HostOverlayAddr, pg.opts)
		}
		if err != nil {
			t.Errorf("%s: %v", pg.name, err)
			continue
		}
		results = append(results, pg.name+" "+r.String())
		// With a deadline, iputils ping sends until Count replies are in:
		// under a slow guest a late reply makes it send more, so success
		// is Count replies, not one per request. Frames the pseudowire
		// lost show in the drop counters checked below.
		if !r.Answered(pg.opts) {
			t.Errorf("%s: %d of %d replies, want %d\n%s", pg.name, r.Received, r.Sent, pg.opts.Count, r.Output)
		}
	}

	ks, dmesg := kernelStats(t, g, p.Session)
	if ks.RxErrors != 0 {
		t.Errorf("kernel discarded %d packets from l2tap (sequence, cookie or malformed); dmesg:\n%s", ks.RxErrors, dmesg)
	}
	if ks.RxPackets == 0 {
		t.Errorf("kernel session received nothing from l2tap")
	}

	counters, err := l.Stop(5 * time.Second)
	if err != nil {
		t.Error(err)
	}
	if drops, which := counters.Drops(); drops != 0 {
		t.Errorf("l2tap dropped %d packets from the kernel: %s\nstderr:\n%s", drops, which, l.Stderr())
	}
	if counters["rx_packets"] == 0 || counters["tx_packets"] == 0 {
		t.Errorf("l2tap counters show no traffic: rx_packets=%d tx_packets=%d\nstdout:\n%s",
			counters["rx_packets"], counters["tx_packets"], l.Stdout())
	}
	seq := ""
	if p.Sublayer == SublayerSeq {
		// A virtual link does not reorder: the kernel's sequence numbers
		// must arrive in order. Gaps are possible (the kernel may send
		// before l2tap starts), so rx_lost_packets is only reported.
		if oos := counters["rx_oos_packets"]; oos != 0 {
			t.Errorf("l2tap counted %d out-of-order packets from the kernel", oos)
		}
		seq = fmt.Sprintf(" oos %d lost %d", counters["rx_oos_packets"], counters["rx_lost_packets"])
	}
	return fmt.Sprintf("pings %s; kernel rx %d/err %d tx %d; l2tap rx %d tx %d%s",
		strings.Join(results, ", "), ks.RxPackets, ks.RxErrors, ks.TxPackets,
		counters["rx_packets"], counters["tx_packets"], seq)
}

// checkBlocked verifies that a mismatched configuration passes nothing and
// that l2tap names the reason, then stops l2tap.
func checkBlocked(ctx context.Context, t *testing.T, g *Guest, l *L2tap, c pwCase) string {
	t.Helper()
	// Both pings wait for replies that never come: run them side by side.
	opts := PingOpts{Count: 3, Wait: 1}
	var hr PingResult
	var herr error
	hostDone := make(chan struct{})
	go func() {
		defer close(hostDone)
		hr, herr = HostPing(ctx, env.ns, PeerAddr, opts)
	}()
	gr, gerr := GuestPing(g, HostOverlayAddr, opts)
	<-hostDone
	for _, r := range []struct {
		name string
		res  PingResult
		err  error
	}{{"host->guest", hr, herr}, {"guest->host", gr, gerr}} {
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
		} else if r.res.Received != 0 {
			t.Errorf("%s: %d replies through a mismatched pseudowire", r.name, r.res.Received)
		}
	}

	// Frames l2tap writes to its TAP are the TAP's received packets.
	tapRx, err := readNetnsInt(ctx, env.ns, "/sys/class/net/"+hostTap+"/statistics/rx_packets")
	if err != nil {
		t.Error(err)
	}
	ks, _ := kernelStats(t, g, c.peer.Session)

	counters, err := l.Stop(5 * time.Second)
	if err != nil {
		t.Error(err)
	}
	drops, which := counters.Drops()
	switch {
	case c.accepted:
		if counters[c.wantCount] == 0 || counters["rx_packets"] == 0 {
			t.Errorf("l2tap counter %s is %d and rx_packets %d, want both > 0\nstdout:\n%s\nstderr:\n%s",
				c.wantCount, counters[c.wantCount], counters["rx_packets"], l.Stdout(), l.Stderr())
		}
		if n := strings.Count(l.Stderr(), "sublayer reserved bits"); n != 1 {
			t.Errorf("sublayer warning logged %d times, want once:\n%s", n, l.Stderr())
		}
		which = fmt.Sprintf("%s=%d (accepted)", c.wantCount, counters[c.wantCount])
	case tapRx != 0 || counters["rx_packets"] != 0:
		t.Errorf("l2tap passed frames to its TAP: tap rx_packets=%d, l2tap rx_packets=%d", tapRx, counters["rx_packets"])
	case c.wantDrop != "" && counters[c.wantDrop] == 0:
		t.Errorf("l2tap counter %s is 0 (drops: %q)\nstdout:\n%s\nstderr:\n%s", c.wantDrop, which, l.Stdout(), l.Stderr())
	case drops == 0:
		t.Errorf("no l2tap drop counter grew\nstdout:\n%s\nstderr:\n%s", l.Stdout(), l.Stderr())
	}
	return fmt.Sprintf("pings host->guest %s, guest->host %s; l2tap drops: %s; tap rx %d; kernel rx %d/err %d",
		hr, gr, which, tapRx, ks.RxPackets, ks.RxErrors)
}

// kernelStats reads the guest kernel's counters for session id and the
// l2tp lines of its kernel log (which say why a packet was discarded).
func kernelStats(t *testing.T, g *Guest, id uint32) (KernelSessionStats, string) {
	t.Helper()
	out, err := g.MustRun("cat /sys/kernel/debug/l2tp/tunnels")
	if err != nil {
		t.Errorf("read l2tp debugfs: %v", err)
		return KernelSessionStats{}, ""
	}
	ks, err := ParseKernelSessionStats(out, id)
	if err != nil {
		t.Error(err)
	}
	dmesg, _, _ := g.Run("dmesg | grep -i l2tp | tail -n 20")
	return ks, dmesg
}

func readNetnsInt(ctx context.Context, ns *Netns, path string) (int, error) {
	out, err := ns.Output(ctx, "cat", path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("netns %s: %s: %w", ns.Name, path, err)
	}
	return v, nil
}

func readGuestInt(g *Guest, path string) (int, error) {
	out, err := g.MustRun("cat " + path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("guest %s: %w", path, err)
	}
	return v, nil
}
