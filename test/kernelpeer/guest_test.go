//go:build linux

package kernelpeer

import (
	"strings"
	"testing"
)

// TestGuest checks the harness itself: the command channel, the loaded
// modules and the underlay, before any l2tap case depends on them.
func TestGuest(t *testing.T) {
	g := needGuest(t)
	t.Logf("guest booted in %v", env.bootTime.Round(100e6))

	t.Run("exit-status", func(t *testing.T) {
		out, st, err := g.Run("echo hello; echo err >&2; exit 3")
		if err != nil {
			t.Fatal(err)
		}
		if st != 3 || out != "hello\nerr\n" {
			t.Fatalf("got status %d output %q, want 3 %q", st, out, "hello\nerr\n")
		}
	})

	t.Run("modules", func(t *testing.T) {
		out, err := g.MustRun("cat /proc/modules")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"l2tp_core", "l2tp_netlink", "l2tp_eth", "l2tp_ip", "l2tp_ip6", "virtio_net"} {
			if !strings.Contains(out, m+" ") {
				t.Errorf("module %s not loaded; /proc/modules:\n%s", m, out)
			}
		}
	})

	t.Run("underlay", func(t *testing.T) {
		for _, dst := range []string{HostAddr4, HostAddr6} {
			if out, err := g.MustRun("ping -c 1 -W 5 " + dst); err != nil {
				t.Errorf("guest cannot reach %s on the underlay: %v\n%s", dst, err, out)
			}
		}
	})
}
