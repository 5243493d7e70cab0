//go:build linux

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/control"
)

// helloSoak is how long the no-false-dead-peer tests run (issue: 60 s).
const helloSoak = 60 * time.Second

// helloArgs are the arguments of one end of a pseudowire with -hello 1,
// over UDP or IP, as side a (192.0.2.1) or b.
func helloArgs(udp, a bool, extra ...string) []string {
	src, dst, rx, tx := "192.0.2.1", "192.0.2.2", "1", "2"
	if !a {
		src, dst, rx, tx = dst, src, tx, rx
	}
	args := []string{"-ifname", "vm0", "-src", src, "-dst", dst, "-txsession", "7", "-control", "off"}
	if udp {
		args = append(args, "-udp", "-srcport", "1701", "-dstport", "1701")
	}
	return append(append(args, "-rxtunnel", rx, "-txtunnel", tx), extra...)
}

// carrier reports whether dev in ns has its carrier.
func carrier(t *testing.T, ns netns, dev string) bool {
	t.Helper()
	return !strings.Contains(ns.ip(t, "link", "show", "dev", dev), "NO-CARRIER")
}

// waitCarrier polls dev's carrier every 50 ms until it is want, for at
// most d, and returns how long it took.
func waitCarrier(t *testing.T, ns netns, dev string, want bool, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !time.Now().After(start.Add(d)) {
		if carrier(t, ns, dev) == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s in %s: carrier still %v after %v", dev, ns, !want, d)
	return 0
}

// liveCounters has p print its counters (SIGUSR1) and returns them.
func liveCounters(t *testing.T, p *proc) map[string]uint64 {
	t.Helper()
	before := len(p.stdout.String())
	p.cmd.Process.Signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out := p.stdout.String()
		if len(out) > before && strings.Contains(out[before:], "procs_raised") {
			c := map[string]uint64{}
			for _, line := range strings.Split(out[before:], "\n") {
				if f := strings.Fields(line); len(f) == 2 {
					if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
						c[f[0]] = v
					}
				}
			}
			return c
		}
	}
	t.Fatalf("no counters after SIGUSR1\n%s", p.stderr.String())
	return nil
}

// waitCounterAtLeast polls p's counters until name reaches want.
func waitCounterAtLeast(t *testing.T, p *proc, name string, want uint64, d time.Duration) map[string]uint64 {
	t.Helper()
	var c map[string]uint64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if c = liveCounters(t, p); c[name] >= want {
			return c
		}
	}
	t.Fatalf("%s %d after %v, want %d or more", name, c[name], d, want)
	return nil
}

// helloEncaps are the underlays of the control channel tests (IPv4).
var helloEncaps = []struct {
	name string
	udp  bool
}{{"udp", true}, {"ip", false}}

// TestHelloPeerStopStart: two l2taps with -hello 1, with the default
// -hello-retries and with -hello-retries 3 (over UDP); the peer stopped,
// the TAP's carrier goes off within hello × (retries + 1), plus 2 s for
// the measurement and a busy host's late timers, and not before hello ×
// (retries - 1); the peer started
// again, it comes back on and pings pass. The control packets of the run,
// captured, are decoded by tshark's L2TP dissector with no malformed packet
// or expert warning.
func TestHelloPeerStopStart(t *testing.T) {
	requireTools(t, true, "ip", "ping", "tshark")
	// Alone (no t.Parallel): its bounds on the carrier's going off are
	// within 2 s of the timers' (4.6 s of a bound of 4+1 s was seen with
	// two busy loops beside it), which a busier host could still miss.
	cases := []struct {
		name    string
		udp     bool
		retries int // 0: the default
	}{{"udp", true, 0}, {"ip", false, 0}, {"udp-retries3", true, 3}}
	for i, e := range cases {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			a, b := vethPair(t, fmt.Sprintf("hs%d", i))
			flags := []string{"-hello", "1"}
			retries := control.DefaultHelloRetries
			if e.retries != 0 {
				retries = e.retries
				flags = append(flags, "-hello-retries", strconv.Itoa(retries))
			}
			hello := time.Second
			bound := hello*time.Duration(retries+1) + 2*time.Second
			least := hello * time.Duration(retries-1)
			file := filepath.Join(t.TempDir(), "control.pcap")
			filter := "udp port 1701 and udp[8] & 0x80 != 0"
			if !e.udp {
				filter = "ip proto 115 and ip[20:4] == 0"
			}
			// dumpcap in the namespace writes as root into a private temporary directory.
			capture := a.cmd("tshark", "-q", "-i", "ua", "-f", filter, "-w", file)
			capOut := &syncBuffer{}
			capture.Stderr = capOut
			if err := capture.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { capture.Process.Kill(); capture.Wait() }()
			waitCapturing(t, capOut)
			pa := startL2tap(t, a, helloArgs(e.udp, true, flags...)...)
			pb := startL2tap(t, b, helloArgs(e.udp, false, flags...)...)
			overlay(t, a, b, "vm0")
			waitCounterAtLeast(t, pa, "control_hellos_acked", 2, 10*time.Second)
			if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			cb := pb.stop(t)
			down := waitCarrier(t, a, "vm0", false, 2*bound)
			t.Logf("%s: carrier off %.2f s after the peer stopped (hello 1 s, %d retries: bound %v)", e.name, down.Seconds(), retries, bound)
			if down > bound || down < least {
				t.Errorf("carrier off after %v, want %v to %v", down, least, bound)
			}
			if cb["control_hellos_received"] == 0 || cb["control_peer_down"] != 0 {
				t.Errorf("peer's counters: %v", cb)
			}
			// Let a few more HELLOs go unanswered, then start the peer again.
			rtx := liveCounters(t, pa)["control_retransmits"]
			waitCounterAtLeast(t, pa, "control_retransmits", rtx+2, 10*time.Second)
			pb = startL2tap(t, b, helloArgs(e.udp, false, flags...)...)
			up := waitCarrier(t, a, "vm0", true, 15*time.Second)
			t.Logf("%s: carrier on %.2f s after the peer's ready line", e.name, up.Seconds())
			if up > 3*time.Second {
				t.Errorf("carrier on after %v, want within 3 s", up)
			}
			// Not before the measurement: it starts a process.
			b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "vm0")
			if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := a.ping(t, "10.1.0.2", 5, 1000); err != nil {
				t.Error(err)
			}
			ca := pa.stop(t)
			pb.stop(t)
			if ca["control_peer_down"] != 1 || ca["control_retransmits"] < 5 || ca["control_peer_restarts"] != 1 {
				t.Errorf("counters: peer_down %d retransmits %d peer_restarts %d, want 1, 5 or more, 1",
					ca["control_peer_down"], ca["control_retransmits"], ca["control_peer_restarts"])
			}
			// Counted once a has stopped, when its log is complete: the line
			// comes just before the carrier goes off, and may not have been
			// read yet when the test sees the carrier off.
			if n := strings.Count(pa.stderr.String(), "stopped acknowledging control messages"); n != 1 {
				t.Errorf("dead peer logged %d times, want once:\n%s", n, pa.stderr.String())
			}
			if !strings.Contains(pa.stderr.String(), "answers the control channel again") {
				t.Errorf("no line for the peer's return:\n%s", pa.stderr.String())
			}
			capture.Process.Signal(syscall.SIGINT)
			capture.Wait()
			checkControlCapture(t, file, e.udp, ca["control_tx"])
		})
	}
}

// waitCapturing waits for tshark, whose stderr is out, to say that it
// captures. tshark loads every dissector first: seconds on an idle host,
// more than ten seen on a busy one.
func waitCapturing(t *testing.T, out *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), "Capturing on"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tshark did not start within 60 s: %s", out.String())
		}
	}
}

// tsharkRows runs tshark on file with display filter and returns one row
// per packet with the fields asked for, tab-separated.
func tsharkRows(t *testing.T, file, secret, filter string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-Y", filter, "-T", "fields"}
	if secret != "" {
		args = append(args, "-o", "l2tp.shared_secret:"+secret)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s -Y %q: %v", file, filter, err)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			rows = append(rows, l)
		}
	}
	return rows
}

// checkControlCapture decodes the control packets captured with tshark:
// every one is an L2TPv3 control message (HELLO or ZLB), none malformed or
// with an expert warning, and there are at least sent of them.
func checkControlCapture(t *testing.T, file string, udp bool, sent uint64) {
	t.Helper()
	decode := func(filter string, fields ...string) []string {
		return tsharkRows(t, file, "", filter, fields...)
	}
	all := decode("frame", "frame.number")
	control := decode("l2tp.type == 1 && l2tp.version == 3", "frame.number", "l2tp.avp.message_type")
	bad := decode("_ws.malformed || _ws.expert.severity >= warning", "frame.number", "_ws.expert.message")
	types := map[string]int{}
	for _, r := range control {
		typ := "ZLB"
		if f := strings.Split(r, "\t"); len(f) == 2 && f[1] != "" {
			typ = f[1]
		}
		types[typ]++
	}
	t.Logf("tshark: %d packets captured, %d decoded as L2TPv3 control messages %v, %d malformed or with warnings", len(all), len(control), types, len(bad))
	if len(bad) > 0 {
		t.Errorf("tshark found malformed packets or warnings: %q", bad)
	}
	if len(control) != len(all) || uint64(len(all)) < sent {
		t.Errorf("%d packets, %d control messages; l2tap sent %d", len(all), len(control), sent)
	}
	if types["6"] == 0 || types["ZLB"] == 0 {
		t.Errorf("message types %v: want HELLOs (6) and ZLBs", types)
	}
}

// TestHelloNoFalseDeadPeer runs -hello 1 on both ends for helloSoak of idle
// and busy periods (5 s idle, then 5 s of a ping flood with 1400-byte
// echoes), clean and with 20 % of the control packets (only those) lost
// each way (see dropControl): the carrier never goes off, no peer is declared down,
// and under loss retransmissions are counted.
func TestHelloNoFalseDeadPeer(t *testing.T) {
	requireTools(t, true, "ip", "ping", "nft")
	// Beside other tests: each case waits out its 60 s of HELLOs; the
	// peer is declared dead only after 6 s without an answer, far beyond
	// what a busy host delays a datagram.
	t.Parallel()
	for _, e := range helloEncaps {
		for _, lossy := range []bool{false, true} {
			name := e.name
			if lossy {
				name += "-loss20"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				prefix := "hn" + e.name[:1]
				if lossy {
					prefix += "l"
				}
				a, b := vethPair(t, prefix)
				if lossy {
					dropControl(t, a, e.udp)
					dropControl(t, b, e.udp)
				}
				pa := startL2tap(t, a, helloArgs(e.udp, true, "-hello", "1")...)
				pb := startL2tap(t, b, helloArgs(e.udp, false, "-hello", "1")...)
				overlay(t, a, b, "vm0")
				if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
					t.Fatal(err)
				}
				end := time.Now().Add(helloSoak)
				carrierLost := 0
				for phase := 0; time.Now().Before(end); phase++ {
					var flood *exec.Cmd
					if phase%2 == 1 {
						flood = a.cmd("ping", "-q", "-f", "-w", "5", "-s", "1400", "10.1.0.2")
						if err := flood.Start(); err != nil {
							t.Fatal(err)
						}
					}
					for stop := time.Now().Add(5 * time.Second); time.Now().Before(stop); time.Sleep(250 * time.Millisecond) {
						if !carrier(t, a, "vm0") || !carrier(t, b, "vm0") {
							carrierLost++
						}
					}
					if flood != nil {
						flood.Wait()
					}
				}
				ca, cb := pa.stop(t), pb.stop(t)
				if carrierLost > 0 {
					t.Errorf("carrier seen off %d times", carrierLost)
				}
				for side, c := range map[string]map[string]uint64{"a": ca, "b": cb} {
					t.Logf("%s %s: hellos sent %d acked %d received %d, retransmits %d, duplicates %d, peer_down %d, rx_packets %d",
						name, side, c["control_hellos_sent"], c["control_hellos_acked"], c["control_hellos_received"],
						c["control_retransmits"], c["control_duplicates"], c["control_peer_down"], c["rx_packets"])
					if c["control_peer_down"] != 0 || c["tx_peer_down"] != 0 {
						t.Errorf("side %s: peer declared down %d times, %d frames dropped", side, c["control_peer_down"], c["tx_peer_down"])
					}
					// A HELLO goes a second after the last one was acknowledged:
					// about one a second clean, fewer while retransmissions
					// (every second with -hello 1) wait for a lost
					// acknowledgement.
					least := uint64(helloSoak/time.Second) / 2
					if lossy {
						least /= 3
					}
					if c["control_hellos_sent"] < least {
						t.Errorf("side %s: %d HELLOs in %v", side, c["control_hellos_sent"], helloSoak)
					}
				}
				if lossy {
					if ca["control_retransmits"]+cb["control_retransmits"] == 0 {
						t.Error("no retransmission counted under 20 % loss")
					}
					da, db := controlDrops(t, a), controlDrops(t, b)
					t.Logf("%s: %d (a) and %d (b) control packets dropped", name, da, db)
					if da == 0 || db == 0 {
						t.Error("a rule dropped nothing: it matched no control packet")
					}
				} else if r, sent := ca["control_retransmits"]+cb["control_retransmits"], ca["control_hellos_sent"]+cb["control_hellos_sent"]; r > max(2, sent/10) {
					// Without loss a message is sent again only when its
					// acknowledgement comes later than the first timeout
					// (1 s): a loaded host delays a few, never one in ten.
					t.Errorf("retransmits %d and %d of %d HELLOs without loss", ca["control_retransmits"], cb["control_retransmits"], sent)
				}
			})
		}
	}
}

// dropControl makes ns lose 20 % of the L2TP control packets it sends,
// and only those (an nftables rule: over UDP the T bit, over IP a zero
// session ID, numgen random). The kernel of the test machines has no
// netem; the loss is the same.
func dropControl(t *testing.T, ns netns, udp bool) {
	t.Helper()
	nft := func(args ...string) { run(t, "ip", append([]string{"netns", "exec", string(ns), "nft"}, args...)...) }
	nft("add", "table", "inet", "loss")
	nft("add", "chain", "inet", "loss", "out", "{ type filter hook output priority 0; }")
	if udp {
		nft("add", "rule", "inet", "loss", "out", "udp", "dport", "1701", "@th,64,1", "1", "numgen", "random", "mod", "100", "<", "20", "counter", "drop")
	} else {
		nft("add", "rule", "inet", "loss", "out", "ip", "protocol", "115", "@th,0,32", "0", "numgen", "random", "mod", "100", "<", "20", "counter", "drop")
	}
}

// controlDrops returns the control packets ns's rule dropped.
func controlDrops(t *testing.T, ns netns) int {
	t.Helper()
	out := run(t, "ip", "netns", "exec", string(ns), "nft", "list", "table", "inet", "loss")
	i := strings.Index(out, "counter packets ")
	if i < 0 {
		t.Fatalf("no counter in:\n%s", out)
	}
	var n int
	fmt.Sscanf(out[i:], "counter packets %d", &n)
	return n
}

// TestHelloStaticPeer: against today's static l2tap (no control channel)
// -hello says the peer never answered; by default the carrier goes off, and
// with -hello-required=off data keeps flowing.
func TestHelloStaticPeer(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: it waits on -hello's timers, with 20 s to see
	// what takes 6.
	t.Parallel()
	for _, e := range helloEncaps {
		for _, required := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/required=%v", e.name, required), func(t *testing.T) {
				t.Parallel()
				prefix := "hp" + e.name[:1]
				if !required {
					prefix += "o"
				}
				a, b := vethPair(t, prefix)
				extra := []string{"-hello", "1"}
				if !required {
					extra = append(extra, "-hello-required=off")
				}
				pa := startL2tap(t, a, helloArgs(e.udp, true, extra...)...)
				static := helloArgs(e.udp, false)
				pb := startL2tap(t, b, static[:len(static)-4]...) // no -rxtunnel/-txtunnel
				overlay(t, a, b, "vm0")
				if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				for !strings.Contains(pa.stderr.String(), "never answered the control channel") {
					// -hello 1, the default retries: 11 s at most.
					if time.Since(start) > 20*time.Second {
						t.Fatalf("no 'never answered' line after 20 s:\n%s", pa.stderr.String())
					}
					time.Sleep(100 * time.Millisecond)
				}
				line := ""
				for _, l := range strings.Split(pa.stderr.String(), "\n") {
					if strings.Contains(l, "never answered") {
						line = l
					}
				}
				t.Logf("after %.1f s: %s", time.Since(start).Seconds(), line)
				if required {
					if !strings.Contains(line, "-hello-required=off to keep data flowing") {
						t.Errorf("line does not name the fix: %s", line)
					}
					waitCarrier(t, a, "vm0", false, 2*time.Second)
					if a.ping(t, "10.1.0.2", 1, 56) == nil {
						t.Error("ping passed with the carrier off")
					}
				} else {
					if !strings.Contains(line, "data keeps flowing") {
						t.Errorf("line: %s", line)
					}
					if !carrier(t, a, "vm0") {
						t.Error("carrier off with -hello-required=off")
					}
					if err := a.ping(t, "10.1.0.2", 5, 1000); err != nil {
						t.Error(err)
					}
				}
				ca, cb := pa.stop(t), pb.stop(t)
				if cb["rx_control"] == 0 || ca["control_peer_down"] != 1 {
					t.Errorf("static peer's rx_control %d, our control_peer_down %d", cb["rx_control"], ca["control_peer_down"])
				}
			})
		}
	}
}
