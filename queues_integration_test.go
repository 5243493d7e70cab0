package main

import (
	"slices"
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
	a, b := underlay(t, "mqa")
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
