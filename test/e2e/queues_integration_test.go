//go:build linux

package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMultiQueue runs pseudowires whose TAPs have several queues, each read
// by its own loop. Eight TCP connections at once land on different queues
// (the kernel steers a new flow by its hash), so a queue nobody reads
// would stall some of them: every byte of every connection must arrive.
func TestMultiQueue(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	for _, c := range []struct {
		encap  int
		queues string
		flags  []string
	}{
		{0, "2", []string{"-txsession", "1"}},
		{3, "3", []string{"-txsession", "2", "-pincounter"}},
		{0, "2", []string{"-txsession", "3", "-offload=off"}},
	} {
		e := encaps[c.encap]
		t.Run(e.name+"-"+c.queues+strings.Join(c.flags, ""), func(t *testing.T) {
			flags := append([]string{"-queues", c.queues}, c.flags...)
			a, b, pa, pb := pseudowire(t, "mq", "mq0", slices.Concat(e.a, flags), slices.Concat(e.b, flags))
			for _, ns := range []netns{a, b} {
				if got := txQueues(t, ns, "mq0"); got != c.queues {
					t.Errorf("TAP mq0 has %s queues, want %s", got, c.queues)
				}
			}
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			pingAll(t, pingCheck{a, "10.1.0.2", 1400}, pingCheck{b, "fd00::1", 1400})
			bulkTransfers(t, a, b, "10.1.0.2", 6000, 6001, 6002, 6003, 6004, 6005, 6006, 6007)
			ca, cb := pa.stop(t), pb.stop(t)
			noErrors(t, ca, cb, "rx_errors", "tx_errors", "tx_offload_errors", "tap_write_errors")
		})
	}
}

// txQueues returns how many transmit queues dev in ns has, as sysfs shows.
func txQueues(t *testing.T, ns netns, dev string) string {
	t.Helper()
	out, err := ns.cmd("sh", "-c", "ls -d /sys/class/net/"+dev+"/queues/tx-* | wc -l").Output()
	if err != nil {
		t.Fatalf("count queues of %s: %v", dev, err)
	}
	return strings.TrimSpace(string(out))
}

// TestMultiQueueAttach attaches to persistent multi-queue TAPs: with the
// default of one queue (a multi-queue TAP takes only multi-queue
// descriptors, which l2tap must ask for by itself), and with as many queues
// as the TAP was made for. A single-queue TAP refuses -queues 2 with a
// message that says how to make one that takes it.
func TestMultiQueueAttach(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	a, b := vethPair(t, "mqa")
	for _, ns := range []netns{a, b} {
		ns.ip(t, "tuntap", "add", "dev", "mqk0", "mode", "tap", "multi_queue")
	}
	a.ip(t, "tuntap", "add", "dev", "sqk0", "mode", "tap")
	e := encaps[0]
	runBad(t, a, slices.Concat(e.a, []string{"-txsession", "1", "-ifname", "sqk0", "-attach", "-queues", "2"}),
		"-queues 2", `"sqk0"`, "multi_queue")

	pa := startL2tap(t, a, slices.Concat(e.a, []string{"-txsession", "1", "-ifname", "mqk0", "-attach"})...)
	pb := startL2tap(t, b, slices.Concat(e.b, []string{"-txsession", "1", "-ifname", "mqk0", "-attach", "-queues", "4"})...)
	overlay(t, a, b, "mqk0")
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	bulkTransfers(t, a, b, "10.1.0.2", 6000, 6001, 6002, 6003)
	pa.stop(t)
	pb.stop(t)
	for _, ns := range []netns{a, b} {
		if out := ns.ip(t, "-d", "link", "show", "mqk0"); !strings.Contains(out, "multi_queue") {
			t.Errorf("attached TAP lost multi_queue: %s", out)
		}
	}
}

// TestMultiQueueCounters checks that the counters add up exactly when
// several send loops share them: after bulk transfers over a TAP with 3
// queues, every packet side a reports sent was received by side b,
// dropped by b with a reason, refused by b's TAP, or dropped by the kernel on the way (socket
// receive buffers, the veth pair), each counted somewhere.
func TestMultiQueueCounters(t *testing.T) {
	requireTools(t, true, "ip", "ping", "ss")
	for _, e := range []int{0, 3} { // UDP over IPv4, IP over IPv6
		e := encaps[e]
		t.Run(e.name, func(t *testing.T) {
			flags := []string{"-queues", "3", "-ifname", "mc0", "-txsession", "9"}
			a, b := vethPair(t, "mc")
			// b first, so that nothing a sends finds no socket at b.
			pb := startL2tap(t, b, slices.Concat(flags, e.b)...)
			pa := startL2tap(t, a, slices.Concat(flags, e.a)...)
			overlay(t, a, b, "mc0")
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			bulkTransfers(t, a, b, "10.1.0.2", 6100, 6101, 6102, 6103)
			ca := pa.stop(t)
			// a has stopped: what b's kernel dropped of a's packets is final.
			sockDrops := socketDrops(t, b)
			vethDrops := devCounter(t, a, "ua", "tx_dropped") + devCounter(t, b, "ub", "rx_dropped")
			cb := pb.stop(t)
			got := cb["rx_packets"] + cb["rx_errors"] + cb["tap_write_errors"] + sockDrops + vethDrops
			t.Logf("a tx_packets %d = b rx_packets %d + rx_errors %d + socket drops %d + veth drops %d (a tx_errors %d)",
				ca["tx_packets"], cb["rx_packets"], cb["rx_errors"], sockDrops, vethDrops, ca["tx_errors"])
			if ca["tx_packets"] != got || ca["tx_packets"] < 10000 {
				t.Errorf("a sent %d packets, b accounts for %d\na: %v\nb: %v", ca["tx_packets"], got, ca, cb)
			}
			if cb["tap_write_errors"] != 0 {
				t.Errorf("b: tap_write_errors %d", cb["tap_write_errors"])
			}
		})
	}
}

// socketDrops returns the packets the kernel dropped at the UDP and raw
// sockets of ns (the drops column of /proc/net/{udp,udp6,raw,raw6}).
func socketDrops(t *testing.T, ns netns) uint64 {
	t.Helper()
	var sum uint64
	for _, f := range []string{"udp", "udp6", "raw", "raw6"} {
		out, err := ns.cmd("cat", "/proc/net/"+f).Output()
		if err != nil {
			t.Fatalf("read /proc/net/%s in %s: %v", f, ns, err)
		}
		for _, line := range strings.Split(string(out), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			n, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
			if err != nil {
				t.Fatalf("/proc/net/%s: no drops column in %q", f, line)
			}
			sum += n
		}
	}
	return sum
}

// devCounter reads one statistics counter of dev in ns.
func devCounter(t *testing.T, ns netns, dev, name string) uint64 {
	t.Helper()
	out, err := ns.cmd("cat", "/sys/class/net/"+dev+"/statistics/"+name).Output()
	if err != nil {
		t.Fatalf("read %s of %s in %s: %v", name, dev, ns, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("%s of %s: %q", name, dev, out)
	}
	return n
}
