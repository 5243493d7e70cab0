//go:build linux

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tunFlags reads the IFF_ flags of the TAP dev in ns (sysfs tun_flags):
// which driver opened it shows there, water's being IFF_TAP|IFF_NO_PI
// alone and the kernel driver's adding IFF_VNET_HDR under -offload auto.
func tunFlags(t *testing.T, ns netns, dev string) uint64 {
	t.Helper()
	out, err := ns.cmd("cat", "/sys/class/net/"+dev+"/tun_flags").Output()
	if err != nil {
		t.Fatalf("%s: tun_flags of %s: %v", ns, dev, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(out)), 0, 64)
	if err != nil {
		t.Fatalf("%s: tun_flags %q: %v", ns, out, err)
	}
	return v
}

const (
	iffTAP     = 0x0002
	iffNoPI    = 0x1000
	iffVnetHdr = 0x4000
)

// TestWaterPseudowire runs the ping matrix between an l2tap whose TAP is
// driven by water (-tap-driver water) and one with the kernel driver, on
// every underlay: pings both ways, 1400-byte pings included, the same
// automatic MTU on both sides, and the flags of each TAP show which
// driver opened it.
func TestWaterPseudowire(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: pings in namespaces of its own; no time bound.
	t.Parallel()
	var results []string
	t.Cleanup(func() { t.Logf("water against kernel driver:\n%s", strings.Join(results, "\n")) })
	for _, e := range encaps {
		for _, v := range []int{0, 2} { // plain, and cookie64-counter
			v := variants[v]
			name := e.name + "-" + v.name
			t.Run(name, func(t *testing.T) {
				a, b, pa, pb := pseudowire(t, "wp", "wp0", slices.Concat(e.a, v.flags, []string{"-tap-driver", "water"}), slices.Concat(e.b, v.flags))
				if f := tunFlags(t, a, "wp0"); f != iffTAP|iffNoPI {
					t.Errorf("water side: tun_flags %#x, want %#x (IFF_TAP|IFF_NO_PI)", f, iffTAP|iffNoPI)
				}
				if f := tunFlags(t, b, "wp0"); f&iffVnetHdr == 0 {
					t.Errorf("kernel side: tun_flags %#x lack IFF_VNET_HDR", f)
				}
				ma, mb := tapMTU(t, a, "wp0"), tapMTU(t, b, "wp0")
				if ma != mb {
					t.Errorf("MTU %d on the water side, %d on the kernel side", ma, mb)
				}
				if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
					t.Fatal(err)
				}
				ok := pingAll(t, overlayPings(a, b, pingCheck{a, "fd00::2", 1400})...)
				ca, cb := pa.stop(t), pb.stop(t)
				for side, c := range map[string]map[string]uint64{"water": ca, "kernel": cb} {
					if c["rx_packets"] < 10 || c["tx_packets"] < 10 || c["rx_errors"] != 0 || c["tx_errors"] != 0 || c["tap_write_errors"] != 0 {
						t.Errorf("%s side counters: %v", side, c)
						ok = false
					}
				}
				if ca["tx_superframes"] != 0 || ca["rx_coalesced"] != 0 {
					t.Errorf("water side cut or merged frames: %v", ca)
				}
				if _, err := a.cmd("ip", "link", "show", "wp0").CombinedOutput(); err == nil {
					t.Errorf("%s: water TAP wp0 still exists after l2tap stopped", a)
				}
				verdict := "pass"
				if !ok || t.Failed() {
					verdict = "FAIL"
				}
				results = append(results, fmt.Sprintf("  %-24s mtu %d  rx %d tx %d  %s", name, ma, ca["rx_packets"], ca["tx_packets"], verdict))
			})
		}
	}
}

// TestWaterQEMU runs the ping matrix between a water-driven l2tap and
// QEMU's own l2tpv3 netdev (a guest-less hub, see startQEMU), on every
// underlay.
func TestWaterQEMU(t *testing.T) {
	requireTools(t, true, "ip", "ping", "qemu-system-x86_64")
	// Beside other tests: pings in namespaces of its own; no time bound.
	t.Parallel()
	var results []string
	t.Cleanup(func() { t.Logf("water against QEMU:\n%s", strings.Join(results, "\n")) })
	for _, e := range encaps {
		for _, v := range qemuVariants[:2] { // plain, and cookies with different session IDs each way
			name := e.name + "-" + v.name
			t.Run(name, func(t *testing.T) {
				a, b := vethPair(t, "wq")
				p := startL2tap(t, a, slices.Concat([]string{"-ifname", "wt0", "-tap-driver", "water"}, e.a, v.l2tap)...)
				if f := tunFlags(t, a, "wt0"); f != iffTAP|iffNoPI {
					t.Errorf("tun_flags %#x, want %#x (IFF_TAP|IFF_NO_PI)", f, iffTAP|iffNoPI)
				}
				startQEMU(t, b, "qt0", qemuEncaps[e.name]+","+v.qemu)
				mtu := tapMTU(t, a, "wt0")
				b.ip(t, "link", "set", "qt0", "mtu", fmt.Sprint(mtu), "up")
				a.ip(t, "addr", "add", "10.1.0.1/24", "dev", "wt0")
				b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "qt0")
				if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
					t.Fatal(err)
				}
				ok := pingAll(t, overlayPings(a, b)...)
				c := p.stop(t)
				if c["rx_errors"] != 0 || c["rx_packets"] < 6 || c["tx_packets"] < 6 || c["tx_errors"] != 0 {
					t.Errorf("l2tap counters: %v", c)
					ok = false
				}
				verdict := "pass"
				if !ok || t.Failed() {
					verdict = "FAIL"
				}
				results = append(results, fmt.Sprintf("  %-28s mtu %d  rx %d tx %d  %s", name, mtu, c["rx_packets"], c["tx_packets"], verdict))
			})
		}
	}
}

// TestWaterFlagErrors: -tap-driver's values, and the options the water
// driver lacks, are refused in one line naming the option, on the command
// line and in a configuration file.
func TestWaterFlagErrors(t *testing.T) {
	base := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1", "-udp", "-srcport", "1701", "-dstport", "1701"}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-tap-driver", "tun"}, []string{"-tap-driver \"tun\"", "kernel", "water"}},
		{[]string{"-tap-driver", "water", "-queues", "2"}, []string{"-queues", "multi-queue", "-tap-driver kernel"}},
		{[]string{"-tap-driver", "water", "-ifname", "x", "-attach"}, []string{"-attach", "attaching", "-tap-driver kernel"}},
		{[]string{"-tap-driver", "water", "-owner", "0"}, []string{"-owner", "-tap-driver kernel"}},
		{[]string{"-tap-driver", "water", "-group", "0"}, []string{"-group", "-tap-driver kernel"}},
		{[]string{"-tap-driver", "water", "-offload", "full"}, []string{"-offload", "offloads", "-tap-driver kernel"}},
	} {
		runBad(t, "", slices.Concat(base, c.args), c.want...)
	}
	dir := t.TempDir()
	file := dir + "/l2tap.toml"
	conf := "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nudp = true\nsrcport = 1701\ndstport = 1701\n[[tunnel.session]]\ntxsession = 1\ntap-driver = \"water\"\nqueues = 2\n"
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	runBad(t, "", []string{"-config", file}, file+":10:", "queues with tap-driver water", "tap-driver kernel")
}
