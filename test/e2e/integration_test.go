//go:build linux

package e2e

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// encaps are the four underlays: flags for side a and b (addresses included).
var encaps = []struct {
	name string
	a, b []string
	v6   bool
	udp  bool
}{
	{"udp4", []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.1", "-dst", "192.0.2.2"},
		[]string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.2", "-dst", "192.0.2.1"}, false, true},
	{"udp6", []string{"-udp", "-ipv6", "-srcport", "5000", "-dstport", "5001", "-src", "2001:db8::1", "-dst", "2001:db8::2"},
		[]string{"-udp", "-ipv6", "-srcport", "5001", "-dstport", "5000", "-src", "2001:db8::2", "-dst", "2001:db8::1"}, true, true},
	{"ip4", []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}, []string{"-src", "192.0.2.2", "-dst", "192.0.2.1"}, false, false},
	{"ip6", []string{"-ipv6", "-src", "2001:db8::1", "-dst", "2001:db8::2"}, []string{"-ipv6", "-src", "2001:db8::2", "-dst", "2001:db8::1"}, true, false},
}

// variants are option sets that must work on every underlay, with the L2TP
// header length they add beyond session (and T/Ver) for the MTU check.
var variants = []struct {
	name  string
	flags []string
	extra int
}{
	{"plain", []string{"-txsession", "1"}, 0},
	{"cookie32", []string{"-txsession", "0x10", "-rxsession", "0x10", "-txcookie", "0xdeadbeef", "-rxcookie", "0xdeadbeef"}, 4},
	{"cookie64-counter", []string{"-txsession", "7", "-cookie64", "-txcookie", "0x0102030405060708", "-rxcookie", "0x0102030405060708", "-counter"}, 12},
	{"pincounter-offset", []string{"-txsession", "4294967295", "-pincounter=on", "-offset", "8"}, 12},
}

// TestPseudowire runs two l2tap processes joined by a veth underlay for every
// underlay and option set, and pings across both ways, large frames included.
func TestPseudowire(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: pings (a 2 s deadline each) in namespaces of its
	// own.
	t.Parallel()
	for _, e := range encaps {
		for _, v := range variants {
			t.Run(e.name+"-"+v.name, func(t *testing.T) {
				t.Parallel()
				a, b, pa, pb := pseudowire(t, "pw", "pw0", slices.Concat(e.a, v.flags), slices.Concat(e.b, v.flags))

				want := wantTAPMTU(e.v6, e.udp, v.extra)
				checkTAPMTU(t, "pw0", want, a, b)
				if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
					t.Fatal(err)
				}
				pingAll(t, overlayPings(a, b, pingCheck{a, "fd00::2", 1400})...)
				ca, cb := pa.stop(t), pb.stop(t)
				for side, c := range map[string]map[string]uint64{"a": ca, "b": cb} {
					if c["rx_packets"] < 10 || c["tx_packets"] < 10 || c["rx_errors"] != 0 || c["tx_errors"] != 0 {
						t.Errorf("side %s counters: %v", side, c)
					}
				}
				for _, ns := range []netns{a, b} {
					if _, err := ns.cmd("ip", "link", "show", "pw0").CombinedOutput(); err == nil {
						t.Errorf("%s: TAP pw0 still exists after l2tap stopped", ns)
					}
				}
			})
		}
	}
}

// wantTAPMTU is the automatic TAP MTU over a 1500-byte underlay: the outer
// IPv4 (or IPv6) header, UDP's 8 bytes and the 4 of the L2TPv3-over-UDP
// header (IP encapsulation has neither), the 4-byte session ID, extra
// bytes of cookie and sublayer, and the 14-byte Ethernet header.
func wantTAPMTU(v6, udp bool, extra int) int {
	want := 1500 - 20 - 4 - extra - 14
	if v6 {
		want -= 20
	}
	if udp {
		want -= 12
	}
	return want
}

// checkTAPMTU checks that TAP dev has MTU want in each of the namespaces.
func checkTAPMTU(t *testing.T, dev string, want int, nss ...netns) {
	t.Helper()
	for _, ns := range nss {
		if got := tapMTU(t, ns, dev); got != want {
			t.Errorf("%s: TAP MTU %d, want %d", ns, got, want)
		}
	}
}

func tapMTU(t *testing.T, ns netns, dev string) int {
	t.Helper()
	out, err := ns.cmd("cat", "/sys/class/net/"+dev+"/mtu").Output()
	if err != nil {
		t.Fatalf("read MTU of %s in %s: %v", dev, ns, err)
	}
	mtu, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return mtu
}

// TestMismatchDrops checks that a misconfigured side loses every frame and
// that the receiving l2tap counts the drops under the right name.
func TestMismatchDrops(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: pings in namespaces of its own, counted after;
	// no time bound.
	t.Parallel()
	base := encaps[0] // UDP over IPv4
	cases := []struct {
		name    string
		a, b    []string
		counter string // raised on side b
		// accepted: side b takes the packets (and counts them) but the
		// frames inside are not what a sent, so pings still fail.
		accepted bool
	}{
		{"cookie", []string{"-txsession", "1", "-txcookie", "0x11", "-rxcookie", "0x22"},
			[]string{"-txsession", "1", "-txcookie", "0x22", "-rxcookie", "0x12"}, "rx_cookie_discards", false},
		{"session", []string{"-txsession", "5"}, []string{"-txsession", "6"}, "rx_session_mismatch", false},
		{"cookie-length", []string{"-txsession", "1", "-cookie64", "-txcookie", "0x11", "-rxcookie", "0x11"},
			[]string{"-txsession", "1", "-txcookie", "0x11", "-rxcookie", "0x11"}, "rx_cookie_discards", false},
		// As Linux does, a sublayer with reserved bits set is accepted and
		// counted: here a sends none, so b strips 4 bytes of each frame.
		{"sublayer", []string{"-txsession", "1"}, []string{"-txsession", "1", "-counter"}, "rx_sublayer_reserved", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, _, pa, pb := pseudowire(t, "mm", "mm0", slices.Concat(base.a, tc.a), slices.Concat([]string{"-mtu", "1400"}, base.b, tc.b))
			a.ip(t, "link", "set", "mm0", "mtu", "1400")
			if err := a.ping(t, "10.1.0.2", 5, 56); err == nil {
				t.Fatal("ping crossed a mismatched pseudowire")
			}
			pa.stop(t)
			c := pb.stop(t)
			if c[tc.counter] == 0 || (c["rx_packets"] != 0) != tc.accepted {
				t.Fatalf("side b: want %s > 0 and rx_packets > 0 %v, got %v", tc.counter, tc.accepted, c)
			}
			if tc.accepted && strings.Count(pb.stderr.String(), "sublayer reserved bits") != 1 {
				t.Errorf("side b: want the sublayer warning logged once:\n%s", pb.stderr.String())
			}
			t.Logf("side b: %s=%d rx_errors=%d", tc.counter, c[tc.counter], c["rx_errors"])
		})
	}
}

// TestWrongSource checks that a packet from an address other than -dst is
// dropped and counted even when it is otherwise valid.
func TestWrongSource(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	a, b := vethPair(t, "ws")
	a.ip(t, "addr", "add", "192.0.2.3/24", "dev", "ua")
	flags := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txsession", "1"}
	// The impostor sends from 192.0.2.3 what b would accept from 192.0.2.1.
	pa := startL2tap(t, a, append([]string{"-ifname", "ws0", "-src", "192.0.2.3", "-dst", "192.0.2.2"}, flags...)...)
	pb := startL2tap(t, b, append([]string{"-ifname", "ws0", "-src", "192.0.2.2", "-dst", "192.0.2.1"}, flags...)...)
	overlay(t, a, b, "ws0")
	if err := a.ping(t, "10.1.0.2", 3, 56); err == nil {
		t.Fatal("ping crossed from the wrong source")
	}
	pa.stop(t)
	if c := pb.stop(t); c["rx_wrong_source"] == 0 || c["rx_packets"] != 0 {
		t.Fatalf("side b: want rx_wrong_source > 0 and rx_packets 0, got %v", c)
	}
}

// TestAttachLeavesTAP checks that an existing TAP is used and left in place,
// with its MTU back as it was.
func TestAttachLeavesTAP(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	a, b := vethPair(t, "at")
	a.ip(t, "tuntap", "add", "dev", "keep0", "mode", "tap")
	a.ip(t, "link", "set", "keep0", "mtu", "1280")
	flags := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txsession", "1"}
	pa := startL2tap(t, a, append([]string{"-ifname", "keep0", "-attach", "-mtu", "1400", "-src", "192.0.2.1", "-dst", "192.0.2.2"}, flags...)...)
	pb := startL2tap(t, b, append([]string{"-ifname", "keep0", "-mtu", "1400", "-src", "192.0.2.2", "-dst", "192.0.2.1"}, flags...)...)
	overlay(t, a, b, "keep0")
	if got := tapMTU(t, a, "keep0"); got != 1400 {
		t.Errorf("attached TAP MTU %d, want 1400 while running", got)
	}
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pa.stop(t)
	pb.stop(t)
	if got := tapMTU(t, a, "keep0"); got != 1280 {
		t.Errorf("attached TAP MTU %d after exit, want 1280 restored", got)
	}
	if out := a.ip(t, "-d", "link", "show", "keep0"); !strings.Contains(out, "tun type tap") {
		t.Errorf("attached TAP changed: %s", out)
	}
}

// TestBridgeMaster checks -master: the TAP l2tap creates joins the bridge.
func TestBridgeMaster(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "br")
	a.ip(t, "link", "add", "br0", "type", "bridge")
	p := startL2tap(t, a, "-ifname", "brt0", "-master", "br0", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1", "-owner", "65534", "-group", "65534")
	if out := a.ip(t, "link", "show", "brt0"); !strings.Contains(out, "master br0") {
		t.Errorf("TAP brt0 not enslaved to br0: %s", out)
	}
	for _, attr := range []string{"owner", "group"} {
		out, err := a.cmd("cat", "/sys/class/net/brt0/"+attr).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != "65534" {
			t.Errorf("TAP brt0 %s = %q (%v), want 65534", attr, got, err)
		}
	}
	p.stop(t)
}

// TestStopsOnSignal checks SIGINT as well as SIGTERM stops l2tap cleanly.
func TestStopsOnSignal(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "sg")
	p := startL2tap(t, a, "-ifname", "sg0", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1")
	p.cmd.Process.Signal(syscall.SIGUSR1) // counters, and keep running
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.stdout.String(), "rx_packets "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no counters within 5s of SIGUSR1: %q", p.stdout.String())
		}
	}
	select {
	case <-p.done:
		t.Fatalf("SIGUSR1 stopped l2tap: %v", p.exit)
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("no exit within 5s of SIGINT")
	}
	if c := p.stop(t); len(c) < 10 {
		t.Fatalf("counters not printed on SIGINT: %q", p.stdout.String())
	}
	if n := strings.Count(p.stdout.String(), "rx_packets "); n != 2 {
		t.Fatalf("want counters printed twice (SIGUSR1, then exit), got %d times:\n%s", n, p.stdout.String())
	}
	if _, err := a.cmd("ip", "link", "show", "sg0").CombinedOutput(); err == nil {
		t.Error("TAP sg0 left behind")
	}
}

// TestJumboFrames checks that frames far above the underlay MTU cross whole:
// the outer packets fragment, nothing is truncated, and the oversize -mtu is
// reported once.
func TestJumboFrames(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: pings (a 2 s deadline each) in namespaces of its
	// own.
	t.Parallel()
	for _, e := range encaps {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			jumbo := []string{"-mtu", "9000", "-txsession", "3"}
			a, b, pa, pb := pseudowire(t, "jf", "jf0", slices.Concat(jumbo, e.a), slices.Concat(jumbo, e.b))
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := a.ping(t, "10.1.0.2", 3, 8900); err != nil {
				t.Error(err)
			}
			if err := b.ping(t, "10.1.0.1", 3, 8900); err != nil {
				t.Error(err)
			}
			ca, cb := pa.stop(t), pb.stop(t)
			if ca["rx_errors"]+cb["rx_errors"]+ca["tx_errors"]+cb["tx_errors"] != 0 {
				t.Errorf("errors: a %v b %v", ca, cb)
			}
			if n := len(regexp.MustCompile(`-mtu exceeds what fits the path tunnel=\S+ mtu=9000 `).FindAllString(pa.stderr.String(), -1)); n != 1 {
				t.Errorf("oversize MTU reported %d times, want once:\n%s", n, pa.stderr.String())
			}
		})
	}
}

// TestUnderlayOutage checks that send errors while the underlay is down are
// counted, not fatal, and that traffic resumes when it comes back.
func TestUnderlayOutage(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	e := encaps[0]
	a, _, pa, pb := pseudowire(t, "uo", "uo0", slices.Concat([]string{"-txsession", "1"}, e.a), slices.Concat([]string{"-txsession", "1"}, e.b))
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.ip(t, "link", "set", "ua", "down")
	if err := a.ping(t, "10.1.0.2", 3, 56); err == nil {
		t.Fatal("ping crossed a downed underlay")
	}
	select {
	case <-pa.done:
		t.Fatalf("l2tap exited while the underlay was down: %v\n%s", pa.exit, pa.stderr.String())
	default:
	}
	a.ip(t, "link", "set", "ua", "up")
	if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
		t.Fatalf("traffic did not resume: %v", err)
	}
	c := pa.stop(t)
	pb.stop(t)
	if c["tx_errors"] == 0 || c["tx_transient_errors"] != c["tx_errors"] {
		t.Fatalf("want transient send errors counted, got %v", c)
	}
	if !regexp.MustCompile(`send failed .* to=192\.0\.2\.2`).MatchString(pa.stderr.String()) {
		t.Errorf("send errors not logged:\n%s", pa.stderr.String())
	}
	t.Logf("while down: tx_errors=%d tx_transient_errors=%d", c["tx_errors"], c["tx_transient_errors"])
}

// garbageSender is a Python program that sends n datagrams from the peer's
// address: random bytes, and random bytes behind a plausible L2TPv3 header.
const garbageSender = `
import os, random, socket, struct, sys
udp, n = sys.argv[1] == "udp", int(sys.argv[2])
if udp:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.2", 1701))
    dst = ("192.0.2.1", 1701)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 115)
    s.bind(("192.0.2.2", 0))
    dst = ("192.0.2.1", 0)
rnd = random.Random(1)
for i in range(n):
    body = os.urandom(rnd.randrange(0, 1500))
    kind = i % 4
    if kind == 1:
        body = struct.pack("!II", 0x30000, rnd.choice([0, 1, 2])) + body
    elif kind == 2:
        body = struct.pack("!I", rnd.choice([0, 1, 7])) + body
    elif kind == 3:
        body = body[:rnd.randrange(0, 12)]
    s.sendto(body, dst)
`

// dropLine matches a rate-limited line about dropped packets; its group
// is the kind (why=).
var dropLine = regexp.MustCompile(`^l2tap: packet dropped .* why=("[^"]*"|\S+)`)

// TestGarbageResilience floods l2tap with malformed packets from the peer's
// own address: it must keep running, count every drop, log only a few
// rate-limited lines, and still carry traffic afterwards: the peer's l2tap
// then starts and a ping crosses.
func TestGarbageResilience(t *testing.T) {
	requireTools(t, true, "ip", "python3")
	for _, e := range encaps { // the sender speaks IPv4 only
		if e.v6 {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			a, b := vethPair(t, "gb")
			p := startL2tap(t, a, append([]string{"-ifname", "gb0", "-txsession", "1"}, e.a...)...)
			mode := "ip"
			if e.udp {
				mode = "udp"
			}
			const n = 20000
			floodStart := time.Now()
			if out, err := b.cmd("python3", "-c", garbageSender, mode, fmt.Sprint(n)).CombinedOutput(); err != nil {
				t.Fatalf("garbage sender: %v\n%s", err, out)
			}
			// The ping's packets queue behind the garbage in the same
			// socket: once it crosses, every bad packet has been seen.
			pb := startL2tap(t, b, append([]string{"-ifname", "gb0", "-txsession", "1"}, e.b...)...)
			overlay(t, a, b, "gb0")
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Errorf("no traffic after the flood: %v\n%s", err, p.stderr.String())
			}
			// Every bad packet has been seen by now (see above).
			flooded := time.Since(floodStart)
			select {
			case <-p.done:
				t.Fatalf("l2tap died under garbage: %v\n%s", p.exit, p.stderr.String())
			default:
			}
			pb.stop(t)
			c := p.stop(t)
			// Only packets with session 1 and room for an Ethernet header
			// pass, as they would through the kernel: one in six or fewer.
			dropped, accepted := c["rx_errors"], c["rx_packets"]
			if dropped+accepted < n*9/10 || accepted > n/6 {
				t.Errorf("of %d malformed packets %d dropped and %d accepted: %v", n, dropped, accepted, c)
			}
			if c["tap_write_errors"] != 0 {
				t.Errorf("garbage reached the TAP: %v", c)
			}
			// The drop lines are rate-limited per kind (their why=): at
			// most one a second of each while the garbage was read, which a
			// busy host makes last longer; no other line but the ready one.
			perKind, others := map[string]int{}, 0
			for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
				if m := dropLine.FindStringSubmatch(line); m != nil {
					perKind[m[1]]++
				} else if !strings.HasPrefix(line, "l2tap: ready ") {
					others++
				}
			}
			limit := int(math.Ceil(flooded.Seconds())) + 1
			for why, k := range perKind {
				if k > limit {
					t.Errorf("log not rate-limited: %d lines %q in %v of flood, want at most %d:\n%s", k, why, flooded.Round(time.Millisecond), limit, p.stderr.String())
				}
			}
			if others > 0 {
				t.Errorf("%d log lines neither the ready line nor rate-limited drop lines:\n%s", others, p.stderr.String())
			}
			t.Logf("%d sent, %d dropped (invalid %d, control %d, session %d), %d accepted, %d log lines of %d kinds in %v",
				n, dropped, c["rx_invalid"], c["rx_control"], c["rx_session_mismatch"], accepted, strings.Count(p.stderr.String(), "\n"), len(perKind), flooded.Round(time.Millisecond))
		})
	}
}
