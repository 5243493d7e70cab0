package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// TestFrameMTUTable checks every figure of the MTU table against sizes
// found apart from the code that computed it: the outer headers from IP's
// and UDP's own sizes, the L2TPv3 header from the bytes the encoder writes
// for the session's Header (not Header.Len, which AutoMTU uses), and the
// Ethernet header's 14 bytes.
func TestFrameMTUTable(t *testing.T) {
	const ipv4, ipv6, udp = 20, 40, 8
	want := []struct {
		row   string
		outer int // outer IP (and UDP) header bytes
		udp   bool
		sub   l2tpv3.Sublayer
	}{
		{"UDP/IPv4, no sublayer", ipv4 + udp, true, l2tpv3.SublayerNone},
		{"UDP/IPv4 + sublayer", ipv4 + udp, true, l2tpv3.SublayerCounter},
		{"IP/IPv4, no sublayer", ipv4, false, l2tpv3.SublayerNone},
		{"IP/IPv4 + sublayer", ipv4, false, l2tpv3.SublayerCounter},
		{"UDP/IPv6, no sublayer", ipv6 + udp, true, l2tpv3.SublayerNone},
		{"UDP/IPv6 + sublayer", ipv6 + udp, true, l2tpv3.SublayerCounter},
		{"IP/IPv6, no sublayer", ipv6, false, l2tpv3.SublayerNone},
		{"IP/IPv6 + sublayer", ipv6, false, l2tpv3.SublayerCounter},
	}
	cookieLens := []int{0, 4, 8} // the columns
	rows, err := daemon.MTUTable(docPathMTU)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("the table has %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		t.Run(w.row, func(t *testing.T) {
			if r.Name != w.row {
				t.Fatalf("row %d is %q, want %q", i, r.Name, w.row)
			}
			if len(r.Cells) != len(cookieLens) {
				t.Fatalf("%d columns, want %d", len(r.Cells), len(cookieLens))
			}
			for j, c := range r.Cells {
				h := c.Session.Header
				if h.UDP != w.udp || h.Sublayer != w.sub || h.TxCookieLen != cookieLens[j] || h.RxCookieLen != cookieLens[j] {
					t.Errorf("%s: header UDP %v, sublayer %v, cookies %d/%d bytes; want UDP %v, sublayer %v, cookies %d bytes both ways",
						strings.Join(c.Args, " "), h.UDP, h.Sublayer, h.TxCookieLen, h.RxCookieLen, w.udp, w.sub, cookieLens[j])
				}
				if c.Ends.Remote.Is6() != (w.outer >= ipv6) {
					t.Errorf("%s: peer %s, of the wrong family", strings.Join(c.Args, " "), c.Ends.Remote)
				}
				buf := make([]byte, l2tpv3.MaxHeaderLen)
				encoded := buf[:h.Encode(buf, 0)]
				mtu := docPathMTU - w.outer - len(encoded) - 14
				if c.MTU != mtu {
					t.Errorf("%s: MTU %d, want %d = %d - %d outer - %d L2TPv3 (% x) - 14 Ethernet",
						strings.Join(c.Args, " "), c.MTU, mtu, docPathMTU, w.outer, len(encoded), encoded)
				}
			}
		})
	}
	// The ready line's mss_clamp of a 1500-byte TAP on the first cell:
	// TCP and IP headers off the MTU that fits, checked the same way.
	first := rows[0].Cells[0]
	buf := make([]byte, l2tpv3.MaxHeaderLen)
	fits := docPathMTU - want[0].outer - first.Session.Header.Encode(buf, 0) - 14
	wantMSS := strconv.Itoa(fits-20-20) + "/" + strconv.Itoa(fits-40-20)
	if got := daemon.TableMSSClamp(rows); got != wantMSS {
		t.Errorf("clamped MSS %s, want %s", got, wantMSS)
	}
}

// TestFrameDocs checks that the documents show the figures l2tap computes:
// the MTU table of docs/configuration.md is the rendered one, and the MTU
// and MSS quoted in the text are the table's.
func TestFrameDocs(t *testing.T) {
	rows, err := daemon.MTUTable(docPathMTU)
	if err != nil {
		t.Fatal(err)
	}
	mtu := strconv.Itoa(rows[0].Cells[0].MTU) // UDP/IPv4, no sublayer, no cookie
	v4, v6, _ := strings.Cut(daemon.TableMSSClamp(rows), "/")
	cases := []struct {
		file, section, want string
	}{
		{"docs/configuration.md", "## MTU and MSS clamping", frameMTUMarkdown(rows)},
		{"docs/configuration.md", "## MTU and MSS clamping", "(" + v4 + " and " + v6 + " for UDP over a 1500-byte IPv4 underlay; the ready line says `mss_clamp=" + v4 + "/" + v6 + "`)"},
		{"docs/peers.md", "", "(" + mtu + " for UDP over a 1500-byte IPv4 underlay"},
	}
	for _, c := range cases {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if c.section != "" {
			_, text, _ = strings.Cut(text, "\n"+c.section+"\n")
			text, _, _ = strings.Cut(text, "\n## ")
		}
		if strings.HasPrefix(c.want, "|") {
			if got := firstTable(text); got != c.want {
				t.Errorf("%s, %s: the table is\n%s\nl2tap computes\n%s\n(paste this one)", c.file, c.section, got, c.want)
			}
			continue
		}
		if !strings.Contains(strings.Join(strings.Fields(text), " "), c.want) {
			t.Errorf("%s %s: no %q: l2tap computes these figures", c.file, c.section, c.want)
		}
	}
}

// firstTable is the first markdown table of text: its consecutive lines
// that start with "|", each ending in a newline.
func firstTable(text string) string {
	lines := strings.Split(text, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "|") })
	if start < 0 {
		return ""
	}
	var b strings.Builder
	for _, l := range lines[start:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}
