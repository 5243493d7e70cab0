//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// The attacks on the control channel of issue 18, replayed on the wire:
// two l2taps with a dynamic tunnel (-circuit, -secret-file, -hello 10) in
// namespaces a and b, and a third namespace m routing between them, where
// the attacker reads every packet (a packet socket on m's side of b's
// link) and injects packets with either end's address and port (a raw
// socket). b is the target. Under each flood of 20,000 messages: b sends
// no more control packets than it receives, its RSS grows by 4 MiB at
// most and its goroutines by 10, it logs at most one line per second of
// each kind, and pings every 100 ms across the pseudowire all come back.

const (
	atkA, atkB     = "192.0.2.1", "198.51.100.2"
	atkFlood       = 20000
	atkFloodTime   = 4 * time.Second
	atkRSSGrowth   = 4 << 20
	atkGoroutineUp = 10
)

// atkNetns builds a — m — b: a on 192.0.2.0/24, b on 198.51.100.0/24, m
// forwarding between them.
func atkNetns(t *testing.T) (a, m, b netns) {
	t.Helper()
	a, m, b = newNetns(t, "ata"), newNetns(t, "atm"), newNetns(t, "atb")
	run(t, "ip", "link", "add", "ua", "netns", string(a), "type", "veth", "peer", "name", "ma", "netns", string(m))
	run(t, "ip", "link", "add", "ub", "netns", string(b), "type", "veth", "peer", "name", "mb", "netns", string(m))
	a.ip(t, "addr", "add", atkA+"/24", "dev", "ua")
	a.ip(t, "link", "set", "ua", "up")
	a.ip(t, "route", "add", "198.51.100.0/24", "via", "192.0.2.254")
	b.ip(t, "addr", "add", atkB+"/24", "dev", "ub")
	b.ip(t, "link", "set", "ub", "up")
	b.ip(t, "route", "add", "192.0.2.0/24", "via", "198.51.100.254")
	m.ip(t, "addr", "add", "192.0.2.254/24", "dev", "ma")
	m.ip(t, "addr", "add", "198.51.100.254/24", "dev", "mb")
	m.ip(t, "link", "set", "dev", "ma", "up")
	m.ip(t, "link", "set", "dev", "mb", "up")
	// /proc/sys/net is the namespace of the thread that opens it.
	if err := inNetns(m, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0) }); err != nil {
		t.Fatal(err)
	}
	return a, m, b
}

// atkArgs are the arguments of one end: a initiates, b responds.
func atkArgs(isA bool, secretFile string) []string {
	src, dst, host, peer, role := atkA, atkB, "a", "b", "initiator"
	if !isA {
		src, dst, host, peer, role = dst, src, peer, host, "responder"
	}
	args := []string{"-ifname", "vm0", "-udp", "-src", src, "-dst", dst, "-srcport", "1701", "-dstport", "1701",
		"-circuit", "vm1", "-hostname", host, "-peer-hostname", peer, "-role", role, "-hello", "10", "-control", "off"}
	if secretFile != "" {
		args = append(args, "-secret-file", secretFile)
	}
	return args
}

// sniffer counts the L2TP control packets to and from b on m's link to b,
// and keeps what an attacker learns from them: a's SCCRQs, and b's
// connection IDs with the next Ns a sends on each.
type sniffer struct {
	fd       int
	toB      atomic.Uint64 // control packets b receives (the injected ones too)
	fromB    atomic.Uint64 // control packets b sends
	mu       sync.Mutex
	sccrqs   [][]byte          // from a, in order
	conns    []uint32          // b's connection IDs a's messages carried, in order
	nextNs   map[uint32]uint16 // per connection ID of b
	closed   atomic.Bool
	finished chan struct{}
}

func startSniffer(t *testing.T, m netns, dev string) *sniffer {
	t.Helper()
	s := &sniffer{nextNs: map[uint32]uint16{}, finished: make(chan struct{})}
	err := inNetns(m, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		// ETH_P_ALL: a socket bound to ETH_P_IP sees incoming packets only.
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind packet socket to %s: %w", dev, err)
		}
		// Room for a whole flood: the counts must be exact.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20); err != nil {
			unix.Close(fd)
			return fmt.Errorf("packet socket buffer: %w", err)
		}
		// Reads wake up to notice close (closing does not wake a read).
		tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.loop()
	t.Cleanup(s.close)
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sniffer) close() {
	if s.closed.CompareAndSwap(false, true) {
		<-s.finished
		unix.Close(s.fd)
	}
}

func (s *sniffer) loop() {
	defer close(s.finished)
	buf := make([]byte, 65536)
	for !s.closed.Load() {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Protocol == htons(unix.ETH_P_IP) {
			s.packet(buf[:n])
		}
	}
}

// packet takes one IPv4 packet: UDP between the two ends' port 1701 whose
// payload has the T bit is a control message.
func (s *sniffer) packet(p []byte) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != syscall.IPPROTO_UDP {
		return
	}
	ihl := int(p[0]&0xf) * 4
	if len(p) < ihl+8+l2tpv3.ControlHeaderLen {
		return
	}
	src, dst := net.IP(p[12:16]).String(), net.IP(p[16:20]).String()
	udp := p[ihl:]
	payload := udp[8:]
	if binary.BigEndian.Uint16(udp[0:]) != 1701 || binary.BigEndian.Uint16(udp[2:]) != 1701 || payload[0]&0x80 == 0 {
		return
	}
	switch {
	case src == atkB && dst == atkA:
		s.fromB.Add(1)
		return
	case dst == atkB:
		s.toB.Add(1)
	default:
		return
	}
	if src != atkA {
		return
	}
	m, err := l2tpv3.ParseMessage(payload)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := m.Header.ConnID
	if id == 0 {
		if m.Type == l2tpv3.MsgSCCRQ && m.Header.Ns == 0 {
			dup := false
			for _, q := range s.sccrqs {
				dup = dup || string(q) == string(m.Raw)
			}
			if !dup {
				s.sccrqs = append(s.sccrqs, append([]byte(nil), m.Raw...))
			}
		}
		return
	}
	if _, ok := s.nextNs[id]; !ok {
		s.conns = append(s.conns, id)
	}
	next := m.Header.Ns
	if !m.IsZLB() && m.Type != l2tpv3.MsgACK {
		next++
	}
	if int16(next-s.nextNs[id]) > 0 || s.nextNs[id] == 0 {
		s.nextNs[id] = next
	}
}

// learned returns a's SCCRQs and b's connection IDs seen so far, with the
// next Ns of each.
func (s *sniffer) learned() (sccrqs [][]byte, conns []uint32, next map[uint32]uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next = map[uint32]uint16{}
	for k, v := range s.nextNs {
		next[k] = v
	}
	return append([][]byte(nil), s.sccrqs...), append([]uint32(nil), s.conns...), next
}

// injector sends IPv4/UDP packets with any source from m.
type injector struct{ fd int }

func newInjector(t *testing.T, m netns) *injector {
	t.Helper()
	j := &injector{}
	err := inNetns(m, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		j.fd = fd
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(j.fd) })
	return j
}

// send puts payload in a UDP datagram from src:1701 to dst:1701 (UDP
// checksum 0: none, as IPv4 allows; the kernel fills the IP checksum).
func (j *injector) send(src, dst string, payload []byte) error {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = syscall.IPPROTO_UDP
	copy(p[12:16], net.ParseIP(src).To4())
	copy(p[16:20], net.ParseIP(dst).To4())
	binary.BigEndian.PutUint16(p[20:], 1701)
	binary.BigEndian.PutUint16(p[22:], 1701)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	to := &unix.SockaddrInet4{}
	copy(to.Addr[:], p[16:20])
	for {
		err := unix.Sendto(j.fd, p, 0, to)
		if err != unix.ENOBUFS && err != unix.EAGAIN {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// atkMessage builds an unsigned control message for connection id.
func atkMessage(t *testing.T, typ l2tpv3.MessageType, id uint32, ns, nr uint16, avps ...l2tpv3.AVP) []byte {
	t.Helper()
	b, err := l2tpv3.AppendMessage(nil, l2tpv3.ControlHeader{ConnID: id, Ns: ns, Nr: nr}, typ, avps)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func atkU32(typ uint16, v uint32) l2tpv3.AVP {
	return l2tpv3.AVP{Mandatory: true, Type: typ, Value: binary.BigEndian.AppendUint32(nil, v)}
}

// atkStopCCN is an unsigned StopCCN (result 1) for connection id.
func atkStopCCN(t *testing.T, id uint32, ns uint16) []byte {
	rc := l2tpv3.AppendResultCode(nil, l2tpv3.ResultCode{Result: l2tpv3.StopClear})[l2tpv3.AVPHeaderLen:]
	return atkMessage(t, l2tpv3.MsgStopCCN, id, ns, 0, atkU32(l2tpv3.AttrAssignedConnID, 7),
		l2tpv3.AVP{Mandatory: true, Type: l2tpv3.AttrResultCode, Value: rc})
}

// atkSCCRQ is an unsigned SCCRQ of host "a" asking for connection id.
func atkSCCRQ(t *testing.T, id uint32) []byte {
	return atkMessage(t, l2tpv3.MsgSCCRQ, 0, 0, 0,
		l2tpv3.AVP{Mandatory: true, Type: l2tpv3.AttrHostName, Value: []byte("a")},
		atkU32(l2tpv3.AttrRouterID, 0xc0000201), atkU32(l2tpv3.AttrAssignedConnID, id),
		l2tpv3.AVP{Mandatory: true, Type: l2tpv3.AttrPWCapabilities, Value: []byte{0, 5}})
}

// rssOf returns the resident set of process pid in bytes.
func rssOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb << 10
}

// goroutinesOf has p log its goroutine count (SIGUSR1) and returns it.
func goroutinesOf(t *testing.T, p *proc) int {
	t.Helper()
	re := regexp.MustCompile(`goroutines count=(\d+)`)
	before := len(re.FindAllString(p.stderr.String(), -1))
	p.cmd.Process.Signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if all := re.FindAllStringSubmatch(p.stderr.String(), -1); len(all) > before {
			n, _ := strconv.Atoi(all[len(all)-1][1])
			return n
		}
	}
	t.Fatalf("no goroutine count after SIGUSR1\n%s", p.stderr.String())
	return 0
}

// logCause is a log line's kind: its message, without the attributes.
var logCause = regexp.MustCompile(`^l2tap: (.*?)(?: [a-z_]+=.*)?$`)

// floodResult is what one flood did to b.
type floodResult struct {
	name                string
	injected            int
	received, sent      uint64 // control packets of b
	rssBefore, rssAfter int
	gBefore, gAfter     int
	lines               map[string]int // log lines by kind
	seconds             float64
	pings, pongs        int
}

// atkFloodOnce sends n messages from msg(i), spread evenly over
// atkFloodTime, while a pings b every 100 ms, and measures b.
func atkFloodOnce(t *testing.T, name string, a netns, pb *proc, sn *sniffer, j *injector, n int, msg func(i int) []byte) floodResult {
	t.Helper()
	r := floodResult{name: name, injected: n, lines: map[string]int{}}
	pid := pb.cmd.Process.Pid
	r.gBefore = goroutinesOf(t, pb)
	r.rssBefore = rssOf(t, pid)
	logStart := len(pb.stderr.String())
	c0 := liveCounters(t, pb)
	toB := sn.toB.Load()

	// Pings every 100 ms from half a second before the flood to a second
	// and a half after it; ping ends when the last reply is in (or after
	// -W without it), so a late reply is not taken for a lost one.
	count := int((atkFloodTime + 2*time.Second) / (100 * time.Millisecond))
	ping := a.cmd("ping", "-n", "-q", "-i", "0.1", "-W", "5", "-c", strconv.Itoa(count), "10.1.0.2")
	var pingOut strings.Builder
	ping.Stdout, ping.Stderr = &pingOut, &pingOut
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	const batches = 400
	for k := range batches {
		for i := k * n / batches; i < (k+1)*n/batches; i++ {
			if err := j.send(atkA, atkB, msg(i)); err != nil {
				t.Fatalf("%s: inject: %v", name, err)
			}
		}
		if d := time.Until(start.Add(time.Duration(k+1) * atkFloodTime / batches)); d > 0 {
			time.Sleep(d)
		}
	}
	flooded := time.Since(start)
	ping.Wait() // its exit status says "some lost": the counts below tell
	r.seconds = time.Since(start).Seconds()
	// b's own count of the control packets it received and sent.
	c1 := liveCounters(t, pb)
	r.received, r.sent = c1["control_rx"]-c0["control_rx"], c1["control_tx"]-c0["control_tx"]
	if flooded > atkFloodTime+1500*time.Millisecond {
		t.Logf("%s: the flood took %v, longer than the pings (a loaded machine)", name, flooded)
	}
	if seen := sn.toB.Load() - toB; seen < uint64(n) {
		t.Logf("%s: the sniffer saw %d of %d injected packets (it fell behind; b's own counters are used)", name, seen, n)
	}
	r.rssAfter = rssOf(t, pid)
	for _, line := range strings.Split(strings.TrimSpace(pb.stderr.String()[logStart:]), "\n") {
		if m := logCause.FindStringSubmatch(line); m != nil && m[1] != "goroutines" {
			r.lines[m[1]]++
		}
	}
	r.gAfter = goroutinesOf(t, pb)
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(pingOut.String())
	if m == nil {
		t.Fatalf("%s: ping: %s", name, pingOut.String())
	}
	r.pings, _ = strconv.Atoi(m[1])
	r.pongs, _ = strconv.Atoi(m[2])

	t.Logf("%s: %d messages injected in %.1f s; b received %d control packets and sent %d (%.4f sent per received); RSS %.1f → %.1f MiB (%+.2f); goroutines %d → %d; log lines %v; pings %d/%d answered",
		name, r.injected, r.seconds, r.received, r.sent, float64(r.sent)/float64(max(r.received, 1)),
		float64(r.rssBefore)/(1<<20), float64(r.rssAfter)/(1<<20), float64(r.rssAfter-r.rssBefore)/(1<<20),
		r.gBefore, r.gAfter, r.lines, r.pongs, r.pings)
	if r.received < uint64(n)*9/10 {
		t.Errorf("%s: b received %d control messages of %d injected", name, r.received, n)
	}
	if r.sent > r.received {
		t.Errorf("%s: b sent %d control packets for %d received", name, r.sent, r.received)
	}
	if growth := r.rssAfter - r.rssBefore; growth > atkRSSGrowth {
		t.Errorf("%s: RSS grew by %.2f MiB, bound %d MiB", name, float64(growth)/(1<<20), atkRSSGrowth>>20)
	}
	if r.gAfter > r.gBefore+atkGoroutineUp {
		t.Errorf("%s: goroutines %d → %d, bound +%d", name, r.gBefore, r.gAfter, atkGoroutineUp)
	}
	for cause, k := range r.lines {
		if float64(k) > math.Ceil(r.seconds)+1 {
			t.Errorf("%s: %d lines %q in %.1f s: more than one a second", name, k, cause, r.seconds)
		}
	}
	if r.pongs != r.pings || r.pings != count {
		t.Errorf("%s: %d of %d pings every 100 ms answered (%d sent)", name, r.pongs, count, r.pings)
	}
	return r
}

// atkStart starts one end and waits for both carriers.
func atkStart(t *testing.T, ns netns, args []string, mac string) *proc {
	t.Helper()
	p := startL2tap(t, ns, args...)
	stableMAC(t, ns, mac)
	return p
}

// TestAttackControl replays the control channel attacks of issue 18 on
// the wire and asserts the bounds above. Its wall time is logged.
func TestAttackControl(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Alone (no t.Parallel): it floods and measures RSS, goroutines and
	// how much of the flood l2tap handled.
	began := time.Now()
	a, m, b := atkNetns(t)
	sn := startSniffer(t, m, "mb")
	j := newInjector(t, m)
	const secret = "correct horse battery staple"
	sf := dynSecret(t, secret)

	pb := atkStart(t, b, atkArgs(false, sf), "02:00:00:00:00:02")
	b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "vm0")
	// a starts three times (crashing twice): the attacker captures three
	// SCCRQs, and b's connection IDs and sequence numbers.
	var pa *proc
	for start := range 3 {
		if pa != nil {
			pa.kill()
		}
		pa = atkStart(t, a, atkArgs(true, sf), "02:00:00:00:00:01")
		a.ip(t, "addr", "add", "10.1.0.1/24", "dev", "vm0")
		if start > 0 {
			waitLog(t, pb, fmt.Sprintf(`(?s)(peer restarted \(new connection established\).*){%d}`, start), 15*time.Second)
		}
		waitCarrier(t, a, "vm0", true, 15*time.Second)
		waitCarrier(t, b, "vm0", true, 15*time.Second)
		if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	sccrqs, conns, next := sn.learned()
	if len(sccrqs) < 3 || len(conns) < 3 {
		t.Fatalf("the sniffer learned %d SCCRQs and %d connection IDs of b (%v), want 3 each; %d control packets to b, %d from b", len(sccrqs), len(conns), conns, sn.toB.Load(), sn.fromB.Load())
	}
	// Each SCCRQ carries a's Router ID: its local IPv4 address.
	for i, q := range sccrqs {
		msg, err := l2tpv3.ParseMessage(q)
		var at l2tpv3.Attrs
		if err == nil {
			err = l2tpv3.ParseAttrs(&msg, &at)
		}
		if err != nil || at.RouterID != 0xc0000201 {
			t.Errorf("SCCRQ %d: Router ID %#x (%v), want 192.0.2.1", i, at.RouterID, err)
		}
	}
	cur, prev := conns[len(conns)-1], conns[len(conns)-2]
	upLines := strings.Count(pb.stderr.String(), "established tunnel=")
	downLines := strings.Count(pb.stderr.String(), "control connection down tunnel=")
	t.Logf("setup and two restarts of a: %.1f s; b's connection %d (previous %d, next Ns %d)", time.Since(began).Seconds(), cur, prev, next[prev])

	// Attack 1: unsigned messages for the previous connection's ID (and
	// the current one's) with the next Ns: a StopCCN once, then a flood
	// of StopCCNs, CDNs and HELLOs over a window of Ns.
	for ns := next[prev]; ns != next[prev]+8; ns++ {
		j.send(atkA, atkB, atkStopCCN(t, prev, ns))
	}
	j.send(atkA, atkB, atkStopCCN(t, cur, next[cur]))
	results := []floodResult{atkFloodOnce(t, "attack 1 (unsigned messages, previous and current connection IDs)", a, pb, sn, j, atkFlood, func(i int) []byte {
		id := prev
		if i%2 == 1 {
			id = cur
		}
		ns := next[id] + uint16(i/2%8)
		switch i % 3 {
		case 0:
			return atkStopCCN(t, id, ns)
		case 1:
			return atkMessage(t, l2tpv3.MsgCDN, id, ns, 0, atkU32(l2tpv3.AttrLocalSessionID, 1), atkU32(l2tpv3.AttrRemoteSessionID, 1))
		}
		return atkMessage(t, l2tpv3.MsgHELLO, id, ns, 0)
	})}

	// Attack 2: a captured SCCRQ replayed (its digest has no nonce, so it
	// still verifies), then two alternated 10,000 times each.
	j.send(atkA, atkB, sccrqs[0])
	results = append(results, atkFloodOnce(t, "attack 2 (two captured SCCRQs replayed alternately)", a, pb, sn, j, atkFlood, func(i int) []byte {
		return sccrqs[i%2]
	}))

	// Attack 3 against the authenticated end: unsigned SCCRQs with
	// distinct connection IDs.
	results = append(results, atkFloodOnce(t, "attack 3 (spoofed unsigned SCCRQs, distinct IDs, with a secret)", a, pb, sn, j, atkFlood, func(i int) []byte {
		return atkSCCRQ(t, uint32(5_000_000+i))
	}))

	if n := strings.Count(pb.stderr.String(), "established tunnel="); n != upLines {
		t.Errorf("b's connection was established %d more times during the attacks", n-upLines)
	}
	if n := strings.Count(pb.stderr.String(), "control connection down tunnel="); n != downLines {
		t.Errorf("b's connection went down during the attacks:\n%s", pb.stderr.String())
	}
	for side, p := range map[string]*proc{"a": pa, "b": pb} {
		if strings.Contains(p.stderr.String(), secret) || strings.Contains(p.stdout.String(), secret) {
			t.Errorf("%s's output holds the secret", side)
		}
	}
	ca, cb := liveCounters(t, pa), liveCounters(t, pb)
	t.Logf("b's counters: control_auth_failed %d, control_not_ours %d, control_rate_limited %d, control_strangers %d, control_connections %d, control_sessions_down %d",
		cb["control_auth_failed"], cb["control_not_ours"], cb["control_rate_limited"], cb["control_strangers"], cb["control_connections"], cb["control_sessions_down"])
	pa.stop(t)
	pb.stop(t)
	if cb["control_connections"] != 3 || cb["control_sessions_down"] != 2 || ca["control_sessions_down"] != 0 {
		t.Errorf("b: %d connections and %d sessions down, a: %d sessions down; want 3, 2 (a's crashes) and 0",
			cb["control_connections"], cb["control_sessions_down"], ca["control_sessions_down"])
	}
	if cb["control_rate_limited"] == 0 || cb["control_auth_failed"] < atkFlood || cb["control_not_ours"] < atkFlood/2 {
		t.Errorf("b's refusals not counted: %v", cb)
	}

	// Attack 3 without a secret: spoofed SCCRQs with distinct IDs. The
	// connection is not authenticated, but blind SCCRQs cost bounded work
	// and leave it as it is.
	pb = atkStart(t, b, atkArgs(false, ""), "02:00:00:00:00:02")
	b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "vm0")
	pa = atkStart(t, a, atkArgs(true, ""), "02:00:00:00:00:01")
	a.ip(t, "addr", "add", "10.1.0.1/24", "dev", "vm0")
	waitCarrier(t, a, "vm0", true, 15*time.Second)
	waitCarrier(t, b, "vm0", true, 15*time.Second)
	if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	results = append(results, atkFloodOnce(t, "attack 3 (spoofed SCCRQs, distinct IDs, no secret)", a, pb, sn, j, atkFlood, func(i int) []byte {
		return atkSCCRQ(t, uint32(6_000_000+i))
	}))
	cb = liveCounters(t, pb)
	pa.stop(t)
	pb.stop(t)
	if cb["control_connections"] != 1 || cb["control_sessions_down"] != 0 || cb["control_rate_limited"] == 0 {
		t.Errorf("no secret: b %d connections, %d sessions down, %d SCCRQs rate-limited; want 1, 0, some",
			cb["control_connections"], cb["control_sessions_down"], cb["control_rate_limited"])
	}
	t.Logf("wall time %.1f s", time.Since(began).Seconds())
	t.Logf("summary (per flood of %d messages):", atkFlood)
	for _, r := range results {
		t.Logf("  %s: sent/received %d/%d, RSS %+.2f MiB, goroutines %+d, log lines %d in %.1f s, pings lost %d of %d",
			r.name, r.sent, r.received, float64(r.rssAfter-r.rssBefore)/(1<<20), r.gAfter-r.gBefore, sumLines(r.lines), r.seconds, r.pings-r.pongs, r.pings)
	}
}

func sumLines(m map[string]int) int {
	n := 0
	for _, k := range m {
		n += k
	}
	return n
}
