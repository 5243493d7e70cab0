//go:build linux

package main

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/tap"
)

// tapAddress reads the MAC of interface dev in ns.
func tapAddress(t *testing.T, ns netns, dev string) net.HardwareAddr {
	t.Helper()
	out, err := ns.cmd("cat", "/sys/class/net/"+dev+"/address").Output()
	if err != nil {
		t.Fatalf("%s: read the MAC of %s: %v", ns, dev, err)
	}
	mac, err := net.ParseMAC(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// neighbourAddress is the MAC ns's neighbour table holds for ip on dev.
func neighbourAddress(t *testing.T, ns netns, ip, dev string) string {
	t.Helper()
	f := strings.Fields(ns.ip(t, "neigh", "show", ip, "dev", dev))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// TestMACRestart restarts the l2tap of side b of a pseudowire and pings the
// address on b's new TAP from a at once: with the default -mac persistent
// the TAP has the MAC it had, which a's neighbour table still holds, so the
// first ping after b's ready line is answered. With -mac random the MAC
// changes on every start and that first ping is lost (a still sends to the
// old MAC). -mac ADDR sets that address, the water driver's TAP gets the
// derived one too, and -attach leaves an existing TAP's alone.
func TestMACRestart(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	id, err := tap.ReadMachineID(tap.MachineIDFile)
	if err != nil {
		msg := "this machine has no machine ID, so -mac persistent falls back to random: " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (systemd-machine-id-setup creates one)")
		}
		t.Skip(msg)
	}
	const dev = "mac0"
	ends := func(a bool) []string {
		if a {
			return []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}
		}
		return []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.2", "-dst", "192.0.2.1", "-txsession", "1"}
	}
	for _, tc := range []struct {
		name string
		mac  []string
		same bool // the restarted TAP has the MAC it had
	}{
		{"persistent", nil, true},
		{"random", []string{"-mac", "random"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argsB := append(append([]string{}, ends(false)...), tc.mac...)
			a, b, _, pb := pseudowire(t, "mac", dev, ends(true), argsB)
			before := tapAddress(t, b, dev)
			if tc.same && !bytes.Equal(before, tap.PersistentMAC(id, dev)) {
				t.Fatalf("TAP %s has MAC %s, want %s (derived from the machine ID and the name)", dev, before, tap.PersistentMAC(id, dev))
			}
			if before[0]&0x03 != 0x02 {
				t.Errorf("MAC %s: want locally administered unicast", before)
			}
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := neighbourAddress(t, a, "10.1.0.2", dev); got != before.String() {
				t.Fatalf("a's neighbour entry for 10.1.0.2 is %q, want %s", got, before)
			}

			pb.stop(t)
			start := time.Now()
			startL2tap(t, b, withIfname(dev, argsB)...)
			ready := time.Since(start)
			b.ip(t, "addr", "add", "10.1.0.2/24", "dev", dev)
			after := tapAddress(t, b, dev)
			first := a.ping(t, "10.1.0.2", 1, 56)
			t.Logf("restart: ready after %v; MAC %s then %s; first ping: %v", ready.Round(time.Millisecond), before, after, errOrOK(first))
			if tc.same {
				if !bytes.Equal(after, before) {
					t.Errorf("MAC %s after the restart, %s before", after, before)
				}
				if first != nil {
					t.Errorf("the first ping after the restart failed: %v", first)
				}
				return
			}
			if bytes.Equal(after, before) {
				t.Errorf("-mac random: the same MAC %s after a restart", after)
			}
			// The control case: a's neighbour entry, confirmed a moment
			// ago, still names the old MAC, so the request goes to an
			// address b's new TAP drops. Were it answered, the persistent
			// case above would prove nothing.
			if first == nil {
				t.Errorf("-mac random: the first ping after the restart was answered; a's neighbour entry should still name %s", before)
			}
		})
	}

	t.Run("address", func(t *testing.T) {
		ns, _ := vethPair(t, "macf")
		const want = "02:00:5e:10:00:01"
		startL2tap(t, ns, withIfname(dev, ends(true), "-mac", want)...)
		if got := tapAddress(t, ns, dev).String(); got != want {
			t.Errorf("-mac %s: TAP has %s", want, got)
		}
	})
	t.Run("water", func(t *testing.T) {
		// The water driver creates the TAP itself; l2tap still sets the MAC.
		ns, _ := vethPair(t, "macw")
		startL2tap(t, ns, withIfname(dev, ends(true), "-tap-driver", "water")...)
		if got, want := tapAddress(t, ns, dev), tap.PersistentMAC(id, dev); !bytes.Equal(got, want) {
			t.Errorf("-tap-driver water: TAP has %s, want %s", got, want)
		}
	})
	t.Run("attach", func(t *testing.T) {
		ns, _ := vethPair(t, "macx")
		ns.ip(t, "tuntap", "add", "dev", dev, "mode", "tap")
		before := tapAddress(t, ns, dev)
		startL2tap(t, ns, withIfname(dev, ends(true), "-attach")...).stop(t)
		if after := tapAddress(t, ns, dev); !bytes.Equal(after, before) {
			t.Errorf("-attach changed the TAP's MAC from %s to %s", before, after)
		}
	})
}

// withIfname is -ifname dev followed by the arguments.
func withIfname(dev string, args []string, more ...string) []string {
	return append(append([]string{"-ifname", dev}, args...), more...)
}

func errOrOK(err error) string {
	if err != nil {
		return strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return "answered"
}
