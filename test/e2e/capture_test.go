//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tsharkFields decodes a capture with tshark, L2TPv3 set up as l2tap
// sends it (32-bit cookies, the default sublayer, Ethernet inside), and
// returns the fields asked for, one row per packet.
func tsharkFields(t *testing.T, file string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", file, "-o", "l2tp.cookie_size:4 Byte Cookie", "-o", "l2tp.l2_specific:Default L2-Specific",
		"-d", "l2tp.pw_type==0,eth", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("tshark -r %s: %v\n%s", file, err, stderr)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows
}

// TestCapture runs a pseudowire whose side a captures the Ethernet frames
// (-pcap) and side b the encapsulated packets (-pcap-outer), pings across,
// and decodes both files with tshark: a's holds the echo requests and
// replies; b's holds each direction's L2TPv3 packets with the right
// session ID, cookie and consecutive sequence numbers (from 0 for those b
// sent), and the ICMP inside.
func TestCapture(t *testing.T) {
	requireTools(t, true, "ip", "ping", "tshark")
	// Beside other tests: pings in namespaces of its own, the capture
	// files checked after; no time bound.
	t.Parallel()
	keys := []string{"-txcookie", "0x11223344", "-rxcookie", "0x55667788", "-counter"}
	keysB := []string{"-txcookie", "0x55667788", "-rxcookie", "0x11223344", "-counter"}
	for _, e := range encaps {
		if e.name == "udp6" {
			continue // the other three cover UDP, IP, IPv4 and IPv6 headers
		}
		t.Run(e.name, func(t *testing.T) {
			dir := t.TempDir()
			inner, outer := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
			argsA := slices.Concat(e.a, []string{"-txsession", "16", "-rxsession", "32", "-pcap", inner}, keys)
			argsB := slices.Concat(e.b, []string{"-txsession", "32", "-rxsession", "16", "-pcap", outer, "-pcap-outer"}, keysB)
			a, _, pa, pb := pseudowire(t, "pc", "pc0", argsA, argsB)
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := a.ping(t, "10.1.0.2", 3, 100); err != nil {
				t.Fatal(err)
			}
			ca, cb := pa.stop(t), pb.stop(t)
			for side, c := range map[string]map[string]uint64{"a": ca, "b": cb} {
				if v, ok := c["pcap_dropped"]; !ok || v != 0 {
					t.Errorf("side %s: pcap_dropped %d (printed: %v), want 0", side, v, ok)
				}
			}

			// Side a: the frames, ICMP echo requests (8) and replies (0).
			echo := map[string]int{}
			for _, r := range tsharkFields(t, inner, "eth.type", "icmp.type") {
				echo[r[1]]++
			}
			if echo["8"] < 4 || echo["0"] < 4 {
				t.Errorf("%s: ICMP types %v, want at least 4 echo requests (8) and replies (0)", inner, echo)
			}

			// Side b: the packets with outer headers.
			src := map[bool]string{true: "ip.src", false: "ipv6.src"}[!e.v6]
			rows := tsharkFields(t, outer, src, "l2tp.sid", "l2tp.cookie", "l2tp.l2_spec_s", "l2tp.l2_spec_sequence", "icmp.type")
			if len(rows) != int(cb["tx_packets"]+cb["rx_packets"]) {
				t.Errorf("%s: %d packets, want b's tx_packets + rx_packets %d", outer, len(rows), cb["tx_packets"]+cb["rx_packets"])
			}
			peer, self := "192.0.2.1", "192.0.2.2"
			if e.v6 {
				peer, self = "2001:db8::1", "2001:db8::2"
			}
			want := map[string]struct{ sid, cookie string }{
				peer: {"0x00000010", "11223344"}, // a's packets: session 16, a's txcookie
				self: {"0x00000020", "55667788"}, // b's own
			}
			next := map[string]int{self: 0, peer: -1}
			types := map[string]map[string]int{peer: {}, self: {}}
			for i, r := range rows {
				w, ok := want[r[0]]
				if !ok || r[1] != w.sid || r[2] != w.cookie || r[3] != "1" {
					t.Fatalf("%s packet %d: source, session, cookie, S bit %q; want one of %v with S 1", outer, i+1, r[:4], want)
				}
				seq, err := strconv.Atoi(r[4])
				if err != nil || (next[r[0]] >= 0 && seq != next[r[0]]) {
					t.Fatalf("%s packet %d from %s: sequence %q, want %d", outer, i+1, r[0], r[4], next[r[0]])
				}
				next[r[0]] = seq + 1
				types[r[0]][r[5]]++
			}
			if types[peer]["8"] < 4 || types[self]["0"] < 4 {
				t.Errorf("%s: ICMP inside the packets from a %v, from b %v; want at least 4 requests (8) from a and replies (0) from b", outer, types[peer], types[self])
			}
			t.Logf("%s: %d packets decoded, %d from a ending at sequence %d, %d from b", outer, len(rows), cb["rx_packets"], next[peer]-1, next[self])
		})
	}
}

// TestCaptureRotation captures the outer packets with -pcap-size 2048
// under the default seccomp filter, as -user nobody (whose directory the
// files are in): l2tap renames full files to FILE.1 and starts new ones as
// it runs, keeps one old file, loses nothing, and exits cleanly; both
// files decode.
func TestCaptureRotation(t *testing.T) {
	requireTools(t, true, "ip", "ping", "tshark")
	// Beside other tests: pings in namespaces of its own, the capture
	// files checked after; no time bound.
	t.Parallel()
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := filepath.Join(t.TempDir(), "nobody")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	// nobody must reach it: t.TempDir's directories are root's, 0700.
	for d := filepath.Dir(dir); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	file := filepath.Join(dir, "b.pcap")
	e := encaps[0]
	a, _, _, pb := pseudowire(t, "pr", "pr0", slices.Concat(e.a, []string{"-txsession", "5", "-counter", "-txcookie", "1", "-rxcookie", "2"}),
		slices.Concat(e.b, []string{"-txsession", "5", "-counter", "-txcookie", "2", "-rxcookie", "1", "-pcap", file, "-pcap-outer", "-pcap-size", "2048", "-user", "nobody"}))
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// 40 echoes of 300 bytes: 80 packets of 370 bytes, some 15 files' worth.
	if out, err := a.cmd("ping", "-c", "40", "-i", "0.01", "-W", "2", "-s", "300", "10.1.0.2").CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	c := pb.stop(t)
	if c["pcap_dropped"] != 0 {
		t.Errorf("pcap_dropped %d, want 0", c["pcap_dropped"])
	}
	if strings.Contains(pb.stderr.String(), "capture to") {
		t.Errorf("the capture stopped:\n%s", pb.stderr.String())
	}
	var seqs []int
	for _, f := range []string{file + ".1", file} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 2048 || st.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
			t.Errorf("%s: %d bytes, uid %d; want at most 2048 and nobody's %d", f, st.Size(), st.Sys().(*syscall.Stat_t).Uid, uid)
		}
		for _, r := range tsharkFields(t, f, "ip.src", "l2tp.l2_spec_sequence") {
			if r[0] == "192.0.2.2" {
				n, _ := strconv.Atoi(r[1])
				seqs = append(seqs, n)
			}
		}
	}
	if _, err := os.Stat(file + ".2"); !os.IsNotExist(err) {
		t.Errorf("%s.2: %v; want only one old file", file, err)
	}
	// b's own packets in the two files: consecutive, ending with its last.
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("b's sequence numbers across %s.1 and %s: %v, not consecutive", file, file, seqs)
		}
	}
	if len(seqs) < 2 || seqs[len(seqs)-1] != int(c["tx_packets"])-1 {
		t.Errorf("b's sequence numbers in the last two files %v; want two or more, the last tx_packets-1 = %d", seqs, c["tx_packets"]-1)
	}
	t.Log(fmt.Sprintf("%s.1 and %s hold b's packets %d to %d of %d", file, file, seqs[0], seqs[len(seqs)-1], c["tx_packets"]))
}
