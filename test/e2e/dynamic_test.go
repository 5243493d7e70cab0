//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dynamic tunnels between two l2taps in namespaces: the sessions are
// negotiated over the RFC 3931 control connection (-circuit), pings cross
// them, and every control packet of the run, captured in the namespace,
// is decoded by tshark's L2TPv3 dissector with the shared secret (which
// checks the digests it can) without a malformed packet or an expert
// warning.

// dynSecret writes a shared secret to a file of mode 0600 and returns
// its path.
func dynSecret(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dynArgs are the arguments of one end of a dynamic tunnel with circuit
// vm1 on TAP vm0, as side a (192.0.2.1, host name "a") or b.
func dynArgs(udp, a bool, secretFile string, extra ...string) []string {
	src, dst, host, peer := "192.0.2.1", "192.0.2.2", "a", "b"
	if !a {
		src, dst, host, peer = dst, src, peer, host
	}
	args := []string{"-ifname", "vm0", "-src", src, "-dst", dst, "-circuit", "vm1",
		"-hostname", host, "-peer-hostname", peer, "-control", "off"}
	if secretFile != "" {
		args = append(args, "-secret-file", secretFile)
	}
	if udp {
		args = append(args, "-udp", "-srcport", "1701", "-dstport", "1701")
	}
	return append(args, extra...)
}

// controlCapture captures the control packets on a's underlay (ua) with
// tshark until the returned function is called with the exit counters of
// a's l2tap: it waits until the file holds every control packet a sent and
// received (dumpcap writes in its own time), stops tshark and returns the
// file.
func controlCapture(t *testing.T, a netns, udp bool) func(ca map[string]uint64) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "control.pcap")
	filter := "udp port 1701 and udp[8] & 0x80 != 0"
	if !udp {
		filter = "ip proto 115 and ip[20:4] == 0"
	}
	capture := a.cmd("tshark", "-q", "-i", "ua", "-f", filter, "-w", file)
	out := &syncBuffer{}
	capture.Stderr = out
	if err := capture.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func(ca map[string]uint64) string {
		if !stopped {
			stopped = true
			want := int(ca["control_tx"] + ca["control_rx"])
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				out, _ := exec.Command("tshark", "-r", file).Output()
				if strings.Count(string(out), "\n") >= want {
					break
				}
			}
			capture.Process.Signal(syscall.SIGINT)
			capture.Wait()
		}
		return file
	}
	t.Cleanup(func() { stop(nil) })
	waitCapturing(t, out)
	return stop
}

// checkDynCapture decodes the control packets of file with tshark: every
// packet must be an L2TPv3 control message, and none from the hosts
// trusted (ip.src filter, e.g. "ip.src == 192.0.2.1") may be malformed or
// carry an expert warning. With secret, tshark checks message digests,
// but it keeps the nonces of the first SCCRQ and SCCRP it sees between
// two hosts: the digests of a later connection, or of one whose first
// SCCRQ lost a tie, cannot check. So "Incorrect Digest" is an error only
// in the frames that the filter digested selects ("" for none), and
// counted elsewhere. It returns the message types seen, by tshark's
// number ("ZLB" for acknowledgements without a message), and logs the
// verdict.
func checkDynCapture(t *testing.T, file, secret, trusted, digested string) map[string]int {
	t.Helper()
	all := tsharkRows(t, file, secret, "frame", "frame.number")
	control := tsharkRows(t, file, secret, "l2tp.type == 1 && l2tp.version == 3", "frame.number", "l2tp.avp.message_type")
	incorrect := `_ws.expert.message == "Incorrect Digest"`
	filter := "_ws.malformed || (_ws.expert.severity >= warning && !(" + incorrect + "))"
	if digested != "" {
		filter += " || ((" + digested + ") && " + incorrect + ")"
	}
	bad := tsharkRows(t, file, secret, "("+trusted+") && ("+filter+")", "frame.number", "_ws.expert.message")
	if secret != "" {
		signed := len(tsharkRows(t, file, secret, "("+trusted+") && l2tp.avp.type == 59", "frame.number"))
		wrong := len(tsharkRows(t, file, secret, "("+trusted+") && "+incorrect, "frame.number"))
		t.Logf("tshark: %d signed messages, %d with digests tshark verified, %d it could not check (a connection after the first SCCRQ it saw)", signed, signed-wrong, wrong)
	}
	types := map[string]int{}
	for _, r := range control {
		typ := "ZLB"
		if f := strings.Split(r, "\t"); len(f) == 2 && f[1] != "" {
			typ = strings.Split(f[1], ",")[0]
		}
		types[typ]++
	}
	t.Logf("tshark verdict: %d packets captured, %d decoded as L2TPv3 control messages %v, %d malformed or with expert warnings (%s)",
		len(all), len(control), types, len(bad), trusted)
	if len(bad) > 0 {
		t.Errorf("tshark found malformed packets or warnings: %q", bad)
	}
	if len(all) == 0 || len(control) != len(all) {
		t.Errorf("%d packets, %d decoded as L2TPv3 control messages", len(all), len(control))
	}
	return types
}

// firstConnection returns a display filter for the frames of file up to
// the first StopCCN: the first control connection, whose digests tshark
// can check when its first SCCRQ is the one answered.
func firstConnection(t *testing.T, file string) string {
	t.Helper()
	rows := tsharkRows(t, file, "", "l2tp.avp.message_type == 4", "frame.number")
	if len(rows) == 0 {
		return "frame"
	}
	return "frame.number <= " + rows[0]
}

// wantTypes reports an error for every message type (tshark's number) in
// want that types lacks.
func wantTypes(t *testing.T, types map[string]int, want ...int) {
	t.Helper()
	for _, w := range want {
		if types[fmt.Sprint(w)] == 0 {
			t.Errorf("no message of type %d captured: %v", w, types)
		}
	}
}

// waitLog polls p's log until it matches re, for at most d.
func waitLog(t *testing.T, p *proc, re string, d time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if rx.MatchString(p.stderr.String()) {
			return
		}
	}
	t.Fatalf("no log line matching %q after %v:\n%s", re, d, p.stderr.String())
}

// stableMAC gives the TAP vm0 in ns the MAC address mac, as a VM behind
// it would keep its own across l2tap restarts (a new TAP has a random one,
// which the other side's neighbour cache would not know).
func stableMAC(t *testing.T, ns netns, mac string) {
	t.Helper()
	ns.ip(t, "link", "set", "vm0", "address", mac)
}

// kill ends p with SIGKILL, as a crash would.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
	p.exit = nil // expected; stop at cleanup must not report it
}

// TestDynamicSetup: two l2taps negotiate the session of circuit vm1 with
// HMAC-MD5 and (over IP) HMAC-SHA-1 authentication; the carriers come on,
// pings of 56 and 1400 bytes cross (b runs as nobody under the seccomp
// filter), l2tap show reports the connection and the negotiated IDs, and
// SIGTERM sends a StopCCN that takes the peer's carrier off.
func TestDynamicSetup(t *testing.T) {
	requireTools(t, true, "ip", "ping", "tshark")
	// Beside other tests: setup takes about 1 s; its 5 s bound leaves 4 s
	// of slack for a busy host.
	t.Parallel()
	for _, e := range helloEncaps {
		t.Run(e.name, func(t *testing.T) {
			a, b := vethPair(t, "dy"+e.name[:1])
			stopCapture := controlCapture(t, a, e.udp)
			const secret = "correct horse"
			sf := dynSecret(t, secret)
			var extra []string
			if !e.udp {
				extra = []string{"-digest", "sha1"}
			}
			sock := filepath.Join(t.TempDir(), "a.sock")
			// One initiator: no tie, so tshark can check the digests.
			pa := startL2tap(t, a, append(dynArgs(e.udp, true, sf, append(extra, "-role", "initiator")...), "-control", sock)...)
			if carrier(t, a, "vm0") {
				t.Error("vm0 has its carrier before any session was negotiated")
			}
			start := time.Now()
			// b as nobody under the default seccomp filter: sessions are
			// added and carriers switched with no privilege left.
			pb := startL2tap(t, b, dynArgs(e.udp, false, sf, append(extra, "-role", "responder", "-user", "nobody")...)...)
			waitCarrier(t, a, "vm0", true, 15*time.Second)
			waitCarrier(t, b, "vm0", true, 15*time.Second)
			setup := time.Since(start)
			t.Logf("%s: session set up (both carriers on) %.3f s after the second l2tap started", e.name, setup.Seconds())
			if setup > 5*time.Second {
				t.Errorf("setup took %v, want within 5 s", setup)
			}
			overlay(t, a, b, "vm0")
			if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			pingAll(t, pingCheck{a, "10.1.0.2", 56}, pingCheck{a, "10.1.0.2", 1400}, pingCheck{b, "10.1.0.1", 1400})

			show := run(t, "ip", "netns", "exec", string(a), l2tapBinary(t), "show", "-socket", sock)
			t.Logf("l2tap show:\n%s", show)
			up := regexp.MustCompile(`session=(\d+)/(\d+)`).FindStringSubmatch(pa.stderr.String())
			if up == nil {
				t.Fatalf("no session up line:\n%s", pa.stderr.String())
			}
			for _, want := range []string{
				"control connection: established, connection ",
				`peer host "b"`,
				fmt.Sprintf("circuit vm1, interface vm0: up, session %s, peer session %s", up[2], up[1]),
				fmt.Sprintf("session %s, peer session %s, interface vm0", up[2], up[1]),
			} {
				if !strings.Contains(show, want) {
					t.Errorf("l2tap show lacks %q", want)
				}
			}

			cb := pb.stop(t)
			down := waitCarrier(t, a, "vm0", false, 5*time.Second)
			t.Logf("%s: carrier off %.3f s after the peer exited (StopCCN)", e.name, down.Seconds())
			waitLog(t, pa, `session down; carrier off .*circuit=vm1 reason="control connection down: peer sent StopCCN \(result 1\)`, 5*time.Second)
			ca := pa.stop(t)
			file := stopCapture(ca)
			for _, c := range []map[string]uint64{ca, cb} {
				if c["control_connections"] != 1 || c["control_sessions_up"] != 1 || c["control_sessions_down"] != 1 ||
					c["control_auth_failed"] != 0 || c["rx_packets"] < 6 {
					t.Errorf("counters: connections %d sessions_up %d sessions_down %d auth_failed %d rx_packets %d; want 1 1 1 0 6+",
						c["control_connections"], c["control_sessions_up"], c["control_sessions_down"], c["control_auth_failed"], c["rx_packets"])
				}
			}
			types := checkDynCapture(t, file, secret, "ip", firstConnection(t, file))
			wantTypes(t, types, 1, 2, 3, 4, 10, 11, 12)
		})
	}
}

// TestDynamicPeerRestart: the peer stops (SIGTERM: StopCCN) and starts
// again, then crashes (SIGKILL: no StopCCN) and starts again; each time
// the session is negotiated anew and pings pass. The times are logged.
func TestDynamicPeerRestart(t *testing.T) {
	requireTools(t, true, "ip", "ping", "tshark")
	// Beside other tests: renegotiation takes about 1 s; its bounds (5 s
	// and 10 s) leave 4 s of slack for a busy host.
	t.Parallel()
	for _, e := range helloEncaps {
		t.Run(e.name, func(t *testing.T) {
			a, b := vethPair(t, "dr"+e.name[:1])
			stopCapture := controlCapture(t, a, e.udp)
			const secret = "s3cret"
			sf := dynSecret(t, secret)
			pa := startL2tap(t, a, dynArgs(e.udp, true, sf, "-role", "initiator")...)
			pb := startL2tap(t, b, dynArgs(e.udp, false, sf, "-role", "responder")...)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("a:\n%s\nb:\n%s", pa.stderr.String(), pb.stderr.String())
				}
			})
			waitCarrier(t, a, "vm0", true, 15*time.Second)
			stableMAC(t, b, "02:00:00:00:00:02")
			overlay(t, a, b, "vm0")
			if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
				t.Fatal(err)
			}

			// SIGTERM: the StopCCN takes a's carrier off at once.
			pb.stop(t)
			off := waitCarrier(t, a, "vm0", false, 5*time.Second)
			start := time.Now()
			pb = startL2tap(t, b, dynArgs(e.udp, false, sf, "-role", "responder")...)
			stableMAC(t, b, "02:00:00:00:00:02")
			b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "vm0")
			waitCarrier(t, a, "vm0", true, 15*time.Second)
			reneg := time.Since(start)
			if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			pingOK := time.Since(start)
			t.Logf("%s: SIGTERM: carrier off %.3f s after the peer exited; after its restart, session up in %.3f s, first ping answered at %.3f s",
				e.name, off.Seconds(), reneg.Seconds(), pingOK.Seconds())
			pingAll(t, pingCheck{a, "10.1.0.2", 1400})

			// SIGKILL: no StopCCN; the restarted peer's SCCRQ starts a
			// second handshake, which replaces the old connection once its
			// SCCCN verifies.
			// The restarted peer initiates (role both): a responder would
			// wait for a, which learns of the crash only when a HELLO
			// goes unacknowledged.
			pb.kill()
			start = time.Now()
			pb = startL2tap(t, b, dynArgs(e.udp, false, sf)...)
			stableMAC(t, b, "02:00:00:00:00:02")
			b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "vm0")
			waitLog(t, pa, `peer restarted \(new connection established\)`, 15*time.Second)
			waitCarrier(t, b, "vm0", true, 15*time.Second)
			if err := a.pingEventually(t, "10.1.0.2", 15*time.Second); err != nil {
				t.Fatal(err)
			}
			pingOK = time.Since(start)
			t.Logf("%s: SIGKILL: after the peer's restart, first ping answered at %.3f s", e.name, pingOK.Seconds())
			pingAll(t, pingCheck{a, "10.1.0.2", 1400})
			if reneg > 5*time.Second || pingOK > 10*time.Second {
				t.Errorf("renegotiation %v, ping after crash %v: want within 5 s and 10 s", reneg, pingOK)
			}
			pb.stop(t)
			ca := pa.stop(t)
			if ca["control_connections"] != 3 || ca["control_sessions_up"] != 3 || ca["control_auth_failed"] != 0 {
				t.Errorf("counters: connections %d sessions_up %d auth_failed %d, want 3 3 0",
					ca["control_connections"], ca["control_sessions_up"], ca["control_auth_failed"])
			}
			file := stopCapture(ca)
			checkDynCapture(t, file, secret, "ip", firstConnection(t, file))
		})
	}
}

// TestDynamicAuthFailure: the ends have different secrets: no session,
// the carriers stay off, the failures are logged and counted.
func TestDynamicAuthFailure(t *testing.T) {
	requireTools(t, true, "ip", "tshark")
	// Beside other tests: it waits on the control channel's timers and
	// bounds no time.
	t.Parallel()
	a, b := vethPair(t, "dau")
	stopCapture := controlCapture(t, a, true)
	pa := startL2tap(t, a, dynArgs(true, true, dynSecret(t, "right"))...)
	pb := startL2tap(t, b, dynArgs(true, false, dynSecret(t, "wrong"))...)
	waitLog(t, pa, `control message failed authentication \(wrong or missing message digest, or the other algorithm: check -secret-file and -digest on both ends\); dropped tunnel=192.0.2.2:1701 reason=control_auth_failed count=0 total=1`, 10*time.Second)
	waitLog(t, pb, `failed authentication`, 10*time.Second)
	// Each side retransmits its SCCRQ (1, 2 s): both are refused again.
	waitCounterAtLeast(t, pa, "control_auth_failed", 2, 15*time.Second)
	waitCounterAtLeast(t, pb, "control_auth_failed", 2, 15*time.Second)
	if carrier(t, a, "vm0") || carrier(t, b, "vm0") {
		t.Error("a carrier is on without a session")
	}
	cb := pb.stop(t)
	ca := pa.stop(t)
	for _, c := range []map[string]uint64{ca, cb} {
		if c["control_auth_failed"] < 2 || c["control_connections"] != 0 || c["control_sessions_up"] != 0 {
			t.Errorf("counters: auth_failed %d connections %d sessions_up %d, want 2 or more, 0, 0",
				c["control_auth_failed"], c["control_connections"], c["control_sessions_up"])
		}
	}
	if strings.Contains(pa.stderr.String(), "established") {
		t.Errorf("a connection was established:\n%s", pa.stderr.String())
	}
	// With a's secret, tshark checks a's SCCRQs; b's fail its check too.
	types := checkDynCapture(t, stopCapture(ca), "right", "ip.src == 192.0.2.1", "frame")
	if len(types) != 1 || types["1"] == 0 {
		t.Errorf("message types %v: want SCCRQs only", types)
	}
}

// TestDynamicRefused: sessions the peer cannot take end with a CDN whose
// result code both sides log: a circuit the peer does not have, and a
// sublayer (-counter) on one side only.
func TestDynamicRefused(t *testing.T) {
	requireTools(t, true, "ip", "tshark")
	// Beside other tests: it waits on the control channel's timers and
	// bounds no time.
	t.Parallel()
	for _, c := range []struct {
		name   string
		b      []string
		logA   string // the requester's line
		logB   string // the refuser's line
		result string
	}{
		{"unknown-circuit", []string{"-circuit", "vm2"},
			`session not set up .*circuit=vm1 reason="peer sent CDN \(result 5, error 0 \\"no circuit \\\\\\"vm1\\\\\\"\\"\)"`,
			`session request refused tunnel=192\.0\.2\.1:1701 circuit=vm1 reason="sent CDN \(result 5`, "5"},
		{"sublayer", []string{"-counter"},
			`session not set up .*circuit=vm1 reason="peer sent CDN \(result 2, error 0 \\"circuit \\\\\\"vm1\\\\\\" uses L2-Specific Sublayer 1, not 0\\"\)"`,
			`session request refused tunnel=192\.0\.2\.1:1701 circuit=vm1 reason="sent CDN \(result 2`, "2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := vethPair(t, "df"+c.name[:1])
			stopCapture := controlCapture(t, a, true)
			pa := startL2tap(t, a, dynArgs(true, true, "", "-role", "initiator")...)
			pb := startL2tap(t, b, dynArgs(true, false, "", append([]string{"-role", "responder"}, c.b...)...)...)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("a:\n%s\nb:\n%s", pa.stderr.String(), pb.stderr.String())
				}
			})
			waitLog(t, pa, c.logA, 10*time.Second)
			waitLog(t, pb, c.logB, 10*time.Second)
			if carrier(t, a, "vm0") || carrier(t, b, "vm0") {
				t.Error("a carrier is on without a session")
			}
			cb := pb.stop(t)
			ca := pa.stop(t)
			if cb["control_sessions_refused"] == 0 || cb["control_sessions_up"] != 0 {
				t.Errorf("refuser's counters: sessions_refused %d sessions_up %d", cb["control_sessions_refused"], cb["control_sessions_up"])
			}
			file := stopCapture(ca)
			types := checkDynCapture(t, file, "", "ip", "")
			wantTypes(t, types, 1, 2, 3, 10, 14)
			results := tsharkRows(t, file, "", "l2tp.avp.message_type == 14", "l2tp.result_code")
			if len(results) == 0 || !strings.HasPrefix(results[0], c.result) {
				t.Errorf("CDN result codes %q, want %s", results, c.result)
			}
		})
	}
}

// TestDynamicTwoCircuits: one l2tap per side, from a configuration file,
// serves two circuits over one control connection; each has its own
// negotiated session and carries its own pings.
func TestDynamicTwoCircuits(t *testing.T) {
	requireTools(t, true, "ip", "ping", "tshark")
	// Beside other tests: it waits on the control channel's timers and
	// bounds no time.
	t.Parallel()
	a, b := vethPair(t, "dtc")
	stopCapture := controlCapture(t, a, true)
	dir := t.TempDir()
	file := func(name, src, dst, host, peer string) string {
		p := filepath.Join(dir, name+".toml")
		body := fmt.Sprintf(`control = "off"

[[tunnel]]
src = %q
dst = %q
udp = true
srcport = 1701
dstport = 1701
hostname = %q
peer-hostname = %q
secret = "two circuits"
hello = 1

[[tunnel.session]]
circuit = "vm1"
ifname = "vm1"

[[tunnel.session]]
circuit = "vm2"
ifname = "vm2"
counter = true
`, src, dst, host, peer)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pa := startL2tap(t, a, "-config", file("a", "192.0.2.1", "192.0.2.2", "a", "b"))
	pb := startL2tap(t, b, "-config", file("b", "192.0.2.2", "192.0.2.1", "b", "a"))
	for _, dev := range []string{"vm1", "vm2"} {
		waitCarrier(t, a, dev, true, 15*time.Second)
		waitCarrier(t, b, dev, true, 15*time.Second)
	}
	for i, dev := range []string{"vm1", "vm2"} {
		a.ip(t, "addr", "add", fmt.Sprintf("10.%d.0.1/24", i+1), "dev", dev)
		b.ip(t, "addr", "add", fmt.Sprintf("10.%d.0.2/24", i+1), "dev", dev)
	}
	for _, dst := range []string{"10.1.0.2", "10.2.0.2"} {
		if err := a.pingEventually(t, dst, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		pingAll(t, pingCheck{a, dst, 1400})
	}
	// Some HELLOs (-hello 1) on the quiet connection.
	waitCounterAtLeast(t, pa, "control_hellos_sent", 1, 10*time.Second)
	if n := strings.Count(pa.stderr.String(), "control connection established"); n != 1 {
		t.Errorf("%d control connection lines, want one connection:\n%s", n, pa.stderr.String())
	}
	pb.stop(t)
	ca := pa.stop(t)
	if ca["control_connections"] != 1 || ca["control_sessions_up"] != 2 || ca["control_hellos_sent"] == 0 {
		t.Errorf("counters: connections %d sessions_up %d hellos_sent %d, want 1, 2, 1 or more",
			ca["control_connections"], ca["control_sessions_up"], ca["control_hellos_sent"])
	}
	sessions := regexp.MustCompile(`session up tap=(vm\d) .* session=(\d+)/(\d+)`).FindAllStringSubmatch(pa.stderr.String(), -1)
	if len(sessions) != 2 || sessions[0][3] == sessions[1][3] {
		t.Errorf("session up lines %q: want two with their own IDs", sessions)
	}
	// Both ends initiate: the SCCRQ tshark sees first may have lost the
	// tie, so it cannot check the digests (see checkDynCapture).
	types := checkDynCapture(t, stopCapture(ca), "two circuits", "ip", "")
	wantTypes(t, types, 1, 2, 3, 4, 6, 10, 11, 12)
}

// TestDynamicPeerSilent: with -hello 1, a peer that stops answering (its
// process frozen with SIGSTOP) is found dead when a HELLO goes
// unacknowledged through every retransmission: the session is removed and
// the carrier goes off. Thawed, the peer gets a new SCCRQ from the
// initiator, which replaces its stale connection; the session comes back.
func TestDynamicPeerSilent(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Alone (no t.Parallel): it bounds the carrier's going off to 1.5 s
	// past the timers.
	a, b := vethPair(t, "dsi")
	sf := dynSecret(t, "quiet")
	pa := startL2tap(t, a, dynArgs(true, true, sf, "-role", "initiator", "-hello", "1")...)
	pb := startL2tap(t, b, dynArgs(true, false, sf, "-role", "responder", "-hello", "1")...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a:\n%s\nb:\n%s", pa.stderr.String(), pb.stderr.String())
		}
	})
	waitCarrier(t, a, "vm0", true, 15*time.Second)
	overlay(t, a, b, "vm0")
	if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); liveCounters(t, pa)["control_hellos_sent"] == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no HELLO sent on the established connection in 5 s: %v", liveCounters(t, pa))
		}
	}
	pb.cmd.Process.Signal(syscall.SIGSTOP)
	// Retransmissions wait at most the HELLO interval (1 s): the HELLO
	// and its 5 retransmissions take 6 s, and the HELLO goes out within
	// 1.5 s of the freeze (quiet for an interval, checked every half).
	down := waitCarrier(t, a, "vm0", false, 30*time.Second)
	t.Logf("carrier off %.1f s after the peer froze (bound: 1.5 s to the HELLO + 6 waits of 1 s, + 1.5 s of slack)", down.Seconds())
	if down < 5*time.Second || down > 9*time.Second {
		t.Errorf("carrier off after %v, want 5 to 9 s", down)
	}
	waitLog(t, pa, `session down; carrier off .*circuit=vm1 reason="control connection down: peer acknowledged nothing since`, 5*time.Second)
	pb.cmd.Process.Signal(syscall.SIGCONT)
	start := time.Now()
	waitCarrier(t, a, "vm0", true, 40*time.Second)
	if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("session back, first ping answered %.3f s after the peer thawed", time.Since(start).Seconds())
	waitLog(t, pb, `peer restarted \(new connection established\)`, 5*time.Second)
	pb.stop(t)
	ca := pa.stop(t)
	if ca["control_sessions_down"] < 1 || ca["control_hellos_sent"] == 0 || ca["control_retransmits"] < 5 {
		t.Errorf("counters: sessions_down %d hellos_sent %d retransmits %d\n%s", ca["control_sessions_down"], ca["control_hellos_sent"], ca["control_retransmits"], pa.stdout.String())
	}
}
