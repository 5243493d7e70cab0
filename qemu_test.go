package main

import (
	"fmt"
	"os"
	"path/filepath"
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
	log := filepath.Join(t.TempDir(), "qemu.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.cmd("qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none",
		"-netdev", "tap,id=t,ifname="+dev+",script=no,downscript=no",
		"-netdev", "l2tpv3,id=l,"+l2tpv3,
		"-netdev", "hubport,id=h0,hubid=0,netdev=t",
		"-netdev", "hubport,id=h1,hubid=0,netdev=l")
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
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := ns.cmd("ip", "link", "show", dev).CombinedOutput(); err == nil {
			return
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(log)
			t.Fatalf("qemu exited: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("qemu made no TAP within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestQEMUInterop runs l2tap against QEMU's own -netdev l2tpv3 for every
// underlay and option set and pings both ways, large frames included.
func TestQEMUInterop(t *testing.T) {
	requireTools(t, true, "ip", "ping", "qemu-system-x86_64")
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
				if !pingAll(t,
					pingCheck{a, "10.1.0.2", 56},
					pingCheck{b, "10.1.0.1", 56},
					pingCheck{a, "10.1.0.2", 1400},
					pingCheck{b, "10.1.0.1", 1400},
				) {
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
