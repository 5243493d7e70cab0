//go:build linux

package kernelpeer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// multiCase is one l2tap process, started with -config, serving every
// session of the guest tunnels; each guest tunnel is one [[tunnel]] of the
// file and each of its sessions one [[tunnel.session]] with its own TAP.
type multiCase struct {
	name    string
	tunnels []PeerTunnel // Dev and Addr are assigned by layout
}

// threeSessions are three sessions that differ in every setting that
// tells sessions apart on the wire: IDs (the second has different IDs
// each way), cookie length and sublayer.
func threeSessions(id uint32) []PeerSession {
	return []PeerSession{
		{Session: id, Sublayer: SublayerNone},
		{Session: id + 1, PeerSess: id + 11, Sublayer: SublayerZeros,
			Cookie: "a1b2c3d4", PeerCook: "01020304"},
		{Session: id + 2, Sublayer: SublayerSeq,
			Cookie: "0011223344556677", PeerCook: "8899aabbccddeeff"},
	}
}

var multiCases = []multiCase{
	{name: "3-sessions-udp4", tunnels: []PeerTunnel{{UDP: true, Sessions: threeSessions(301)}}},
	{name: "3-sessions-ip6", tunnels: []PeerTunnel{{IPv6: true, Sessions: threeSessions(321)}}},
	{name: "2-tunnels-udp4", tunnels: []PeerTunnel{
		{ID: 1, UDP: true, Port: 1701, PeerPort: 1701, Sessions: []PeerSession{{Session: 341, Sublayer: SublayerNone}}},
		{ID: 2, UDP: true, Port: 1702, PeerPort: 1702, Sessions: []PeerSession{{Session: 342, Sublayer: SublayerSeq}}},
	}},
}

// mSession is one session of a multiCase as both ends see it.
type mSession struct {
	peer     PeerSession // with its tunnel's IPv6 and UDP
	tap      string      // l2tap's TAP in the namespace
	hostAddr string      // the TAP's overlay address
}

// layout gives session k (counting across tunnels) the guest interface
// kpmw<k> with 10.78.<k>.2/24 and the host TAP kpmtap<k> with
// 10.78.<k>.1/24: one subnet per pair, so each ping has one way to go.
func (c multiCase) layout() ([]PeerTunnel, []mSession) {
	var tunnels []PeerTunnel
	var sess []mSession
	for _, t := range c.tunnels {
		t.Sessions = append([]PeerSession(nil), t.Sessions...)
		for i := range t.Sessions {
			k := len(sess)
			t.Sessions[i].Dev = fmt.Sprintf("kpmw%d", k)
			t.Sessions[i].Addr = fmt.Sprintf("10.78.%d.2", k)
			sess = append(sess, mSession{
				peer:     t.Session(i),
				tap:      fmt.Sprintf("kpmtap%d", k),
				hostAddr: fmt.Sprintf("10.78.%d.1", k),
			})
		}
		tunnels = append(tunnels, t)
	}
	return tunnels, sess
}

// l2tapConfig writes l2tap's configuration file for the guest's tunnels:
// the same ends, ports, IDs, cookies and sublayers seen from the host, and
// the TAP names of sess (in layout order).
func l2tapConfig(tunnels []PeerTunnel, sess []mSession, control string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "control = %q\n", control)
	k := 0
	for _, t := range tunnels {
		p0 := t.Session(0)
		fmt.Fprintf(&b, "\n[[tunnel]]\nsrc = %q\ndst = %q\n", p0.Remote(), p0.Local())
		if t.IPv6 {
			b.WriteString("ipv6 = true\n")
		}
		if t.UDP {
			fmt.Fprintf(&b, "udp = true\nsrcport = %d\ndstport = %d\n", t.RemotePort(), t.LocalPort())
		}
		for _, p := range t.Sessions {
			fmt.Fprintf(&b, "  [[tunnel.session]]\n  ifname = %q\n  txsession = %d\n  rxsession = %d\n",
				sess[k].tap, p.Session, p.peerSession())
			k++
			if p.PeerCook != "" {
				fmt.Fprintf(&b, "  txcookie = \"0x%s\"\n", p.PeerCook)
			}
			if p.Cookie != "" {
				fmt.Fprintf(&b, "  rxcookie = \"0x%s\"\n", p.Cookie)
			}
			if len(p.Cookie) == 16 {
				b.WriteString("  cookie64 = true\n")
			}
			switch p.Sublayer {
			case SublayerZeros:
				b.WriteString("  pincounter = true\n")
			case SublayerSeq:
				b.WriteString("  counter = true\n")
			}
		}
	}
	return b.String()
}

// TestKernelPeerMulti runs one l2tap process against several guest
// sessions and tunnels at once: every pair pings both ways, and a burst
// of pings on one session reaches no other session's interface at either
// end nor any other session's l2tap counters.
func TestKernelPeerMulti(t *testing.T) {
	g, bin := needL2tap(t)
	start := time.Now()
	for _, c := range multiCases {
		t.Run(c.name, func(t *testing.T) { runMulti(t, g, bin, c) })
	}
	t.Logf("multi-session cases took %v", time.Since(start).Round(100*time.Millisecond))
}

func runMulti(t *testing.T, g *Guest, bin string, c multiCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := env.ns
	tunnels, sess := c.layout()

	if _, err := g.MustRun("dmesg -c >/dev/null"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := len(tunnels) - 1; i >= 0; i-- {
			if _, err := g.MustRun(tunnels[i].TeardownCommand()); err != nil {
				t.Errorf("guest teardown: %v", err)
			}
		}
	})
	for _, tn := range tunnels {
		for _, cmd := range tn.SetupCommands() {
			if out, err := g.MustRun(cmd); err != nil {
				t.Fatalf("guest setup: %v\n%s", err, out)
			}
		}
	}

	dir := t.TempDir()
	control := filepath.Join(dir, "control.sock")
	cfgPath := filepath.Join(dir, "l2tap.toml")
	cfg := l2tapConfig(tunnels, sess, control)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := StartL2tap(ctx, ns, bin, []string{"-config", cfgPath}, 15*time.Second)
	if err != nil {
		t.Fatalf("%v\nconfig:\n%s", err, cfg)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _ = l.Stop(5 * time.Second)
			for _, s := range sess {
				_, _ = ns.Output(context.Background(), "ip", "link", "del", s.tap)
			}
		}
	})
	if err := l.WaitReady(len(sess), 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// No IPv6 on the TAPs either: the only frames are the test's.
	for _, s := range sess {
		if _, err := ns.Output(ctx, "sysctl", "-qw", "net.ipv6.conf."+s.tap+".disable_ipv6=1"); err != nil {
			t.Fatal(err)
		}
		if _, err := ns.Output(ctx, "ip", "addr", "add", fmt.Sprintf("%s/%d", s.hostAddr, OverlayPrefix), "dev", s.tap); err != nil {
			t.Fatal(err)
		}
	}

	summary := make([]string, len(sess))
	for i, s := range sess {
		hostMTU, err := readNetnsInt(ctx, ns, "/sys/class/net/"+s.tap+"/mtu")
		if err != nil {
			t.Fatal(err)
		}
		guestMTU, err := readGuestInt(g, "/sys/class/net/"+s.peer.dev()+"/mtu")
		if err != nil {
			t.Fatal(err)
		}
		if want := s.peer.ExpectedMTU(); hostMTU != guestMTU || guestMTU != want {
			t.Errorf("%s: TAP MTU %d, kernel %s MTU %d, want both %d", s.tap, hostMTU, s.peer.dev(), guestMTU, want)
		}
		summary[i] = fmt.Sprintf("%s<->%s mtu %d/%d", s.tap, s.peer.dev(), hostMTU, guestMTU)
	}

	for i, s := range sess {
		hostOpts := PingOpts{Count: 3, Deadline: 10}
		hr, err := HostPing(ctx, ns, s.peer.addr(), hostOpts)
		if err != nil {
			t.Errorf("%s host->guest: %v", s.tap, err)
		} else if !hr.Answered(hostOpts) {
			t.Errorf("%s host->guest: %d of %d replies\n%s", s.tap, hr.Received, hr.Sent, hr.Output)
		}
		guestOpts := PingOpts{Count: 2, Deadline: 10}
		gr, err := GuestPing(g, s.hostAddr, guestOpts)
		if err != nil {
			t.Errorf("%s guest->host: %v", s.tap, err)
		} else if !gr.Answered(guestOpts) {
			t.Errorf("%s guest->host: %d of %d replies\n%s", s.tap, gr.Received, gr.Sent, gr.Output)
		}
		summary[i] += fmt.Sprintf(" pings %s %s", hr, gr)
	}
	if t.Failed() {
		t.FailNow()
	}

	// ARP resolved above; pin the neighbours so that no ARP refresh on an
	// idle session falls into another session's burst.
	if err := pinNeighbours(ctx, g, sess); err != nil {
		t.Fatal(err)
	}
	for i := range sess {
		summary[i] += " " + checkIsolated(ctx, t, g, bin, control, sess, i)
	}

	debugfs, err := g.MustRun("cat /sys/kernel/debug/l2tp/tunnels")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sess {
		ks, err := ParseKernelSessionStats(debugfs, s.peer.Session)
		if err != nil {
			t.Error(err)
			continue
		}
		if ks.RxErrors != 0 || ks.RxPackets == 0 {
			dmesg, _, _ := g.Run("dmesg | grep -i l2tp | tail -n 20")
			t.Errorf("kernel session %d: rx %d, discarded %d; dmesg:\n%s", s.peer.Session, ks.RxPackets, ks.RxErrors, dmesg)
		}
	}

	total, err := l.Stop(5 * time.Second)
	stopped = true
	if err != nil {
		t.Error(err)
	}
	if drops, which := total.Drops(); drops != 0 {
		t.Errorf("l2tap dropped %d packets from the kernel: %s\nstderr:\n%s", drops, which, l.Stderr())
	}
	perSession, err := ParseSessionCounters(l.Stdout())
	if err != nil {
		t.Error(err)
	}
	var rxSum uint64
	for _, s := range sess {
		pc, ok := perSession[s.tap]
		if !ok {
			t.Errorf("no exit line for session %s\nstdout:\n%s", s.tap, l.Stdout())
			continue
		}
		if pc["rx_packets"] == 0 || pc["tx_packets"] == 0 {
			t.Errorf("session %s exit counters show no traffic: rx_packets=%d tx_packets=%d", s.tap, pc["rx_packets"], pc["tx_packets"])
		}
		rxSum += pc["rx_packets"]
	}
	if len(perSession) != len(sess) || rxSum != total["rx_packets"] {
		t.Errorf("%d session exit lines for %d sessions, their rx_packets sum to %d, total rx_packets %d\nstdout:\n%s",
			len(perSession), len(sess), rxSum, total["rx_packets"], l.Stdout())
	}
	for _, s := range sess {
		if out, err := ns.Output(ctx, "ip", "link", "show", s.tap); err == nil {
			t.Errorf("l2tap left its TAP %s behind after exit:\n%s", s.tap, out)
			_, _ = ns.Output(ctx, "ip", "link", "del", s.tap)
		}
	}

	status := "ok"
	if t.Failed() {
		status = "FAILED"
	}
	t.Logf("%s: %s, %d tunnel(s), %d sessions, one l2tap:\n  %s", c.name, status, len(tunnels), len(sess), strings.Join(summary, "\n  "))
}

// pinNeighbours makes each end's neighbour entry for the other permanent.
func pinNeighbours(ctx context.Context, g *Guest, sess []mSession) error {
	for _, s := range sess {
		hostMAC, err := env.ns.Output(ctx, "cat", "/sys/class/net/"+s.tap+"/address")
		if err != nil {
			return err
		}
		guestMAC, err := g.MustRun("cat /sys/class/net/" + s.peer.dev() + "/address")
		if err != nil {
			return err
		}
		if _, err := env.ns.Output(ctx, "ip", "neigh", "replace", s.peer.addr(), "lladdr", strings.TrimSpace(guestMAC),
			"dev", s.tap, "nud", "permanent"); err != nil {
			return err
		}
		if _, err := g.MustRun(fmt.Sprintf("ip neigh replace %s lladdr %s dev %s nud permanent",
			s.hostAddr, strings.TrimSpace(hostMAC), s.peer.dev())); err != nil {
			return err
		}
	}
	return nil
}

// rxState is what every session has received so far: the frames the
// host TAPs and the guest interfaces were handed (sysfs rx_packets) and
// l2tap's counters per session (from `l2tap show -json`).
type rxState struct {
	host, guest []int
	l2tap       map[string]Counters
}

func readRx(ctx context.Context, g *Guest, bin, control string, sess []mSession) (rxState, error) {
	var st rxState
	hostArgs := []string{"cat"}
	guestCmd := "cat"
	for _, s := range sess {
		hostArgs = append(hostArgs, "/sys/class/net/"+s.tap+"/statistics/rx_packets")
		guestCmd += " /sys/class/net/" + s.peer.dev() + "/statistics/rx_packets"
	}
	hostOut, err := env.ns.Output(ctx, hostArgs...)
	if err != nil {
		return st, err
	}
	guestOut, err := g.MustRun(guestCmd)
	if err != nil {
		return st, err
	}
	if st.host, err = atois(hostOut, len(sess)); err != nil {
		return st, fmt.Errorf("host TAP rx_packets: %w", err)
	}
	if st.guest, err = atois(guestOut, len(sess)); err != nil {
		return st, fmt.Errorf("guest rx_packets: %w", err)
	}
	snap, err := Show(ctx, env.ns, bin, control)
	if err != nil {
		return st, err
	}
	st.l2tap = SessionCounters(snap)
	return st, nil
}

// atois parses n integers, one per line.
func atois(s string, n int) ([]int, error) {
	f := strings.Fields(s)
	if len(f) != n {
		return nil, fmt.Errorf("%d values, want %d: %q", len(f), n, s)
	}
	v := make([]int, n)
	for i := range f {
		var err error
		if v[i], err = strconv.Atoi(f[i]); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkIsolated pings session i's guest from the host and checks that
// the requests reached only session i's guest interface, the replies only
// session i's TAP, and that l2tap counted them on session i alone.
func checkIsolated(ctx context.Context, t *testing.T, g *Guest, bin, control string, sess []mSession, i int) string {
	t.Helper()
	me := sess[i]
	before, err := readRx(ctx, g, bin, control, sess)
	if err != nil {
		t.Error(err)
		return "burst: " + err.Error()
	}
	burst := PingOpts{Count: 5, Deadline: 10}
	r, err := HostPing(ctx, env.ns, me.peer.addr(), burst)
	if err != nil {
		t.Errorf("%s burst: %v", me.tap, err)
		return "burst: " + err.Error()
	}
	if !r.Answered(burst) {
		t.Errorf("%s burst: %d of %d replies\n%s", me.tap, r.Received, r.Sent, r.Output)
	}
	after, err := readRx(ctx, g, bin, control, sess)
	if err != nil {
		t.Error(err)
		return "burst: " + err.Error()
	}
	want := r.Received
	crossed := 0
	for j, s := range sess {
		dHost := after.host[j] - before.host[j]
		dGuest := after.guest[j] - before.guest[j]
		b, a := before.l2tap[s.tap], after.l2tap[s.tap]
		if a == nil {
			t.Errorf("l2tap show has no session with TAP %s", s.tap)
			continue
		}
		dRx, dTx := int(a["rx_packets"]-b["rx_packets"]), int(a["tx_packets"]-b["tx_packets"])
		if j == i {
			if dHost < want || dGuest < want || dRx < want || dTx < want {
				t.Errorf("burst of %d on %s: its TAP received %d, %s received %d, l2tap counted rx %d tx %d; want each >= %d",
					r.Sent, me.tap, dHost, s.peer.dev(), dGuest, dRx, dTx, want)
			}
			continue
		}
		if dHost != 0 || dGuest != 0 || dRx != 0 || dTx != 0 {
			crossed++
			t.Errorf("burst on %s crossed into %s: its TAP received %d, %s received %d, l2tap counted rx %d tx %d; want all 0",
				me.tap, s.tap, dHost, s.peer.dev(), dGuest, dRx, dTx)
		}
	}
	if crossed > 0 {
		return fmt.Sprintf("burst %s, CROSSED into %d other session(s)", r, crossed)
	}
	return fmt.Sprintf("burst %s, others +0", r)
}
