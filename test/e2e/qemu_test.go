//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// qemuEncaps are QEMU's -netdev l2tpv3 options matching each entry of
// encaps, for the side b of the underlay.
var qemuEncaps = map[string]string{
	"udp4": "src=192.0.2.2,dst=192.0.2.1,udp=on,srcport=1701,dstport=1701",
	"udp6": "src=2001:db8::2,dst=2001:db8::1,ipv6=on,udp=on,srcport=5001,dstport=5000",
	"ip4":  "src=192.0.2.2,dst=192.0.2.1",
	"ip6":  "src=2001:db8::2,dst=2001:db8::1,ipv6=on",
}

// qemuVariants pair l2tap flags with the QEMU options of the peer that
// mirrors them (QEMU's tx is l2tap's rx).
var qemuVariants = []struct {
	name  string
	l2tap []string
	qemu  string
}{
	{"plain", []string{"-txsession", "1"}, "txsession=1,rxsession=1"},
	{"cookie32-sessions", []string{"-txsession", "0x10", "-rxsession", "0x20", "-txcookie", "0xdeadbeef", "-rxcookie", "0xcafef00d"},
		"txsession=32,rxsession=16,txcookie=3405705229,rxcookie=3735928559"},
	{"cookie64-counter", []string{"-txsession", "7", "-cookie64", "-txcookie", "0x0102030405060708", "-rxcookie", "0x1112131415161718", "-counter"},
		"txsession=7,rxsession=7,cookie64=on,txcookie=1230066625199609624,rxcookie=72623859790382856,counter=on"},
	{"pincounter-offset", []string{"-txsession", "9", "-pincounter", "-offset", "8"},
		"txsession=9,rxsession=9,counter=on,pincounter=on,offset=8"},
}

// startQEMU runs QEMU in ns bridging a new TAP dev to an l2tpv3 netdev with
// no guest at all: a hub joins the two netdevs.
func startQEMU(t *testing.T, ns netns, dev, l2tpv3 string) {
	t.Helper()
	startQEMUHubs(t, ns, qemuHub{dev, l2tpv3})
}

// qemuHub is one TAP of a guest-less QEMU and the l2tpv3 netdev (its
// options) that a hub joins it to.
type qemuHub struct {
	dev, l2tpv3 string
}

// startQEMUHubs runs one QEMU in ns with no guest and one hub per entry of
// hubs, each joining a new TAP to its own l2tpv3 netdev, and waits until
// every TAP exists.
func startQEMUHubs(t *testing.T, ns netns, hubs ...qemuHub) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "qemu.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-M", "none", "-nodefaults", "-display", "none"}
	for i, h := range hubs {
		args = append(args,
			"-netdev", fmt.Sprintf("tap,id=t%d,ifname=%s,script=no,downscript=no", i, h.dev),
			"-netdev", fmt.Sprintf("l2tpv3,id=l%d,%s", i, h.l2tpv3),
			"-netdev", fmt.Sprintf("hubport,id=h%dt,hubid=%d,netdev=t%d", i, i, i),
			"-netdev", fmt.Sprintf("hubport,id=h%dl,hubid=%d,netdev=l%d", i, i, i))
	}
	cmd := ns.cmd("qemu-system-x86_64", args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		f.Close()
	})
	for _, h := range hubs {
		for deadline := time.Now().Add(10 * time.Second); ; {
			if _, err := ns.cmd("ip", "link", "show", h.dev).CombinedOutput(); err == nil {
				break
			}
			select {
			case err := <-exited:
				out, _ := os.ReadFile(log)
				t.Fatalf("qemu exited: %v\n%s", err, out)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("qemu made no TAP %s within 10s", h.dev)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// sessionCounters reads the per-session lines l2tap prints with its totals
// when it serves several sessions ("session TAP TX/RX: name=value ..."),
// keyed by TAP name.
func sessionCounters(stdout string) map[string]map[string]uint64 {
	all := map[string]map[string]uint64{}
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "session" || !strings.HasSuffix(f[2], ":") {
			continue
		}
		c := map[string]uint64{}
		for _, kv := range f[3:] {
			k, v, ok := strings.Cut(kv, "=")
			if n, err := strconv.ParseUint(v, 10, 64); ok && err == nil {
				c[k] = n
			}
		}
		all[f[1]] = c
	}
	return all
}

// TestQEMUInterop runs l2tap against QEMU's own -netdev l2tpv3 for every
// underlay and option set and pings both ways, large frames included.
func TestQEMUInterop(t *testing.T) {
	requireTools(t, true, "ip", "ping", "qemu-system-x86_64")
	// Beside other tests: pings in namespaces of its own; no time bound.
	t.Parallel()
	var results []string
	t.Cleanup(func() { t.Logf("QEMU interop:\n%s", strings.Join(results, "\n")) })
	for _, e := range encaps {
		for _, v := range qemuVariants {
			name := e.name + "-" + v.name
			t.Run(name, func(t *testing.T) {
				a, b := vethPair(t, "qi")
				p := startL2tap(t, a, append(append([]string{"-ifname", "lt0"}, e.a...), v.l2tap...)...)
				startQEMU(t, b, "qt0", qemuEncaps[e.name]+","+v.qemu)
				mtu := tapMTU(t, a, "lt0")
				b.ip(t, "link", "set", "qt0", "mtu", fmt.Sprint(mtu), "up")
				a.ip(t, "addr", "add", "10.1.0.1/24", "dev", "lt0")
				b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "qt0")
				failed := false
				if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
					t.Error(err)
					failed = true
				}
				if !pingAll(t, overlayPings(a, b)...) {
					failed = true
				}
				c := p.stop(t)
				if c["rx_errors"] != 0 || c["rx_packets"] < 6 {
					t.Errorf("l2tap counters: %v", c)
					failed = true
				}
				verdict := "pass"
				if failed {
					verdict = "FAIL"
				}
				results = append(results, fmt.Sprintf("  %-28s mtu %d  %s", name, mtu, verdict))
			})
		}
	}
}

// TestQEMUTwoTunnels runs one l2tap from a file with two UDP tunnels, on two
// local ports and one session each, against one QEMU with two l2tpv3
// netdevs, and pings across both pseudowires both ways. Both sessions use
// the same session IDs, so only the tunnel (the socket a packet arrives
// on) tells them apart; their cookies differ, so a frame delivered to the
// other session would be counted as an error rather than pass.
func TestQEMUTwoTunnels(t *testing.T) {
	requireTools(t, true, "ip", "ping", "qemu-system-x86_64")
	// Beside other tests: pings in namespaces of its own; no time bound.
	t.Parallel()
	a, b := vethPair(t, "q2")
	file := filepath.Join(t.TempDir(), "two.toml")
	conf := `[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1701
dstport = 1801
  [[tunnel.session]]
  txsession = 10
  rxsession = 20
  txcookie = 0x11111111
  rxcookie = 0x22222222
  ifname = "lt0"
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1702
dstport = 1802
  [[tunnel.session]]
  txsession = 10
  rxsession = 20
  txcookie = 0x33333333
  rxcookie = 0x44444444
  counter = true
  ifname = "lt1"
`
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startL2tap(t, a, "-config", file)
	startQEMUHubs(t, b,
		qemuHub{"qt0", "src=192.0.2.2,dst=192.0.2.1,udp=on,srcport=1801,dstport=1701," +
			"txsession=20,rxsession=10,txcookie=572662306,rxcookie=286331153"},
		qemuHub{"qt1", "src=192.0.2.2,dst=192.0.2.1,udp=on,srcport=1802,dstport=1702," +
			"txsession=20,rxsession=10,txcookie=1145324612,rxcookie=858993459,counter=on"})
	pairs := []struct {
		ltap, qtap string
		la, qa     string // overlay addresses on the l2tap and QEMU sides
	}{
		{"lt0", "qt0", "10.1.0.1", "10.1.0.2"},
		{"lt1", "qt1", "10.1.1.1", "10.1.1.2"},
	}
	for _, pr := range pairs {
		mtu := tapMTU(t, a, pr.ltap)
		b.ip(t, "link", "set", pr.qtap, "mtu", fmt.Sprint(mtu), "up")
		a.ip(t, "addr", "add", pr.la+"/24", "dev", pr.ltap)
		b.ip(t, "addr", "add", pr.qa+"/24", "dev", pr.qtap)
	}
	for _, pr := range pairs {
		if err := a.pingEventually(t, pr.qa, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		pingAll(t,
			pingCheck{a, pr.qa, 56},
			pingCheck{b, pr.la, 56},
			pingCheck{a, pr.qa, 1400},
			pingCheck{b, pr.la, 1400},
		)
	}
	total := p.stop(t)
	sessions := sessionCounters(p.stdout.String())
	t.Logf("totals: %v", total)
	for _, pr := range pairs {
		c, ok := sessions[pr.ltap]
		if !ok {
			t.Errorf("no session line for %s in:\n%s", pr.ltap, p.stdout.String())
			continue
		}
		t.Logf("session %s: %v", pr.ltap, c)
		// 12 echo requests or replies each way at least, ARP aside.
		if c["rx_packets"] < 12 || c["tx_packets"] < 12 || c["rx_errors"] != 0 {
			t.Errorf("session %s counters: %v", pr.ltap, c)
		}
	}
	if total["rx_errors"] != 0 {
		t.Errorf("totals: rx_errors %d: %v", total["rx_errors"], total)
	}
}
