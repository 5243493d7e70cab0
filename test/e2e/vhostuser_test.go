//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testpmd is DPDK's dpdk-testpmd as a guest-less vhost-user frontend in a
// test namespace: port 0 is a net_virtio_user device on l2tap's
// -vhost-user socket, port 1 a net_pcap device on vpa, one end of a
// veth pair whose other end, vta, stands for the guest's stack (DPDK's
// net_tap and net_af_packet take no frame above 1522 bytes), and io forwarding joins them
// both ways. What vta sends reaches l2tap's transmit path as a guest's
// frame, and what l2tap writes to the guest comes out of vta.
type testpmd struct {
	t      *testing.T
	ns     netns
	args   []string
	sock   string // with server, the socket testpmd listens on
	server bool
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *syncBuffer
	exited chan struct{}
}

// hugePagesMiB is what testpmd's -m 128 takes, in MiB of 2 MiB huge
// pages, with a margin.
const hugePagesMiB = 160

// hugePages makes sure hugePagesMiB of free 2 MiB huge pages exist and
// mounts a hugetlbfs of the test's own, through scripts/hugepages.sh (which
// make bench uses too): it reserves only the missing pages and at cleanup
// gives back those and the mount, leaving any other user's alone. It
// returns the mount.
func hugePages(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	// Cleanup first, so that whatever a reserve did is undone even if it
	// then fails; a release without state does nothing.
	t.Cleanup(func() {
		if out, err := exec.Command("scripts/hugepages.sh", "release", work).CombinedOutput(); err != nil {
			t.Errorf("scripts/hugepages.sh release %s: %v\n%s", work, err, out)
		}
	})
	out := run(t, "scripts/hugepages.sh", "reserve", strconv.Itoa(hugePagesMiB), work)
	return strings.TrimSpace(out)
}

// startTestpmd runs testpmd in ns on the vhost-user socket sock.
// With server, testpmd listens on sock (l2tap -vhost-user-mode client).
func startTestpmd(t *testing.T, ns netns, huge, sock string, server bool) *testpmd {
	t.Helper()
	prefix := fmt.Sprintf("l2tap%d-%s", os.Getpid(), ns)
	t.Cleanup(func() { os.RemoveAll(filepath.Join("/var/run/dpdk", prefix)) })
	p := &testpmd{t: t, ns: ns, sock: sock, server: server, args: []string{"stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "-n", "1", "--no-pci", "--single-file-segments",
		"-m", "128", "--file-prefix=" + prefix, "--huge-dir", huge,
		"--vdev=net_virtio_user0,path=" + sock + ",queues=1,mrg_rxbuf=1,in_order=0" + map[bool]string{true: ",server=1"}[server],
		"--vdev=net_pcap0,iface=vpa",
		"--", "--forward-mode=io", "--auto-start", "--max-pkt-len=9600", "--mbuf-size=10240", "--total-num-mbufs=4096", "--no-flush-rx"}}
	ns.ip(t, "link", "add", "vta", "mtu", "9000", "type", "veth", "peer", "name", "vpa", "mtu", "9600")
	ns.ip(t, "addr", "add", "10.1.0.1/24", "dev", "vta")
	ns.ip(t, "link", "set", "vta", "up")
	ns.ip(t, "link", "set", "vpa", "up")
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start starts testpmd and waits until it forwards.
func (p *testpmd) start() {
	t := p.t
	t.Helper()
	p.cmd = p.ns.cmd(p.args[0], p.args[1:]...)
	var err error
	// testpmd runs until its input ends: an open pipe keeps it.
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.out = &syncBuffer{}
	forwarding := make(chan struct{})
	go func(out *syncBuffer) {
		s := bufio.NewScanner(pr)
		seen := false
		for s.Scan() {
			out.Write([]byte(s.Text() + "\n"))
			if !seen && strings.Contains(s.Text(), "Press enter to exit") {
				seen = true
				close(forwarding)
			}
		}
	}(p.out)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); pw.Close(); close(exited) }(p.cmd, p.exited)
	if p.server {
		// l2tap, running as nobody, connects to the file testpmd makes.
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if os.Chmod(p.sock, 0o666) == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testpmd made no socket %s in 60 s:\n%s", p.sock, p.out.String())
			}
		}
	}
	select {
	case <-forwarding:
	case <-p.exited:
		t.Fatalf("testpmd exited:\n%s", p.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("testpmd did not start forwarding in 60 s:\n%s", p.out.String())
	}
	if strings.Contains(p.out.String(), "failed to initialize net_virtio_user0") {
		t.Fatalf("testpmd runs without its vhost-user port:\n%s", p.out.String())
	}
}

// kill ends testpmd at once (SIGKILL), as a crashed frontend.
func (p *testpmd) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
	if p.server {
		// testpmd binds no socket over a stale file: remove what the
		// killed one left, as its supervisor would.
		os.Remove(p.sock)
	}
}

// stop ends testpmd cleanly (its input closed) and logs its output.
func (p *testpmd) stop() {
	if p.cmd == nil {
		return
	}
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.t.Logf("testpmd output:\n%s", p.out.String())
	p.cmd = nil
}

// noIPv6 turns IPv6 off in ns for the interfaces made from now on, so
// that no router or neighbour solicitation crosses: the counters then
// count only the test's frames.
func noIPv6(t *testing.T, ns netns) {
	t.Helper()
	for _, k := range []string{"all", "default"} {
		run(t, "ip", "netns", "exec", string(ns), "sysctl", "-qw", "net.ipv6.conf."+k+".disable_ipv6=1")
	}
}

// macOf returns the MAC address of dev in ns.
func macOf(t *testing.T, ns netns, dev string) string {
	t.Helper()
	m := regexp.MustCompile(`link/ether ([0-9a-f:]{17})`).FindStringSubmatch(ns.ip(t, "link", "show", dev))
	if m == nil {
		t.Fatalf("no MAC address on %s in %s", dev, ns)
	}
	return m[1]
}

// TestVhostUserTestpmd runs l2tap -vhost-user as nobody under the default
// seccomp filter, with dpdk-testpmd as its frontend in one namespace,
// across a pseudowire to a second l2tap on a TAP in another, with l2tap
// listening (server) and connecting to testpmd's socket (client): pings
// whose frames are 64 to 9000 bytes cross both ways with their payloads
// checked (ping compares every byte of the reply), and the counters of
// both sides count exactly those frames and bytes; testpmd killed and
// started again is served again by the same l2tap; a frontend sending
// garbage before it ends only its own connection (the attacks on the
// rings and the memory table are internal/vhostuser's tests).
func TestVhostUserTestpmd(t *testing.T) {
	requireTools(t, true, "dpdk-testpmd", "stdbuf", "ping")
	// Alone: testpmd polls two CPUs at full speed while it runs.
	huge := hugePages(t)
	for _, mode := range []string{"server", "client"} {
		t.Run(mode, func(t *testing.T) { testVhostUserTestpmd(t, huge, mode == "client") })
	}
}

func testVhostUserTestpmd(t *testing.T, huge string, client bool) {
	a, b := vethPair(t, "vh")
	for _, ns := range []netns{a, b} {
		noIPv6(t, ns)
		ns.ip(t, "link", "set", map[netns]string{a: "ua", b: "ub"}[ns], "mtu", "9600")
	}
	dir := socketDir(t)
	sock := filepath.Join(dir, "vhost.sock")
	args := []string{"-udp", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-srcport", "1701", "-dstport", "1701",
		"-txsession", "1", "-vhost-user", sock, "-user", "nobody", "-control", "off"}
	chardev := "socket,id=c0,path=" + sock
	if client {
		args = append(args, "-vhost-user-mode", "client")
		chardev += ",server=on"
	} else {
		args = append(args, "-owner", "nobody")
	}
	pa := startL2tap(t, a, args...)
	waitLog(t, pa, "connect a VM with socket="+regexp.QuoteMeta(sock)+" "+
		regexp.QuoteMeta(`qemu="-m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem -chardev `+chardev+
			` -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,host_mtu=`)+`([0-9]+)" guest_mtu=([0-9]+)`, 10*time.Second)
	if m := regexp.MustCompile(`host_mtu=([0-9]+)" guest_mtu=([0-9]+)`).FindStringSubmatch(pa.stderr.String()); m == nil || m[1] != m[2] {
		t.Errorf("printed host_mtu and guest_mtu %q, want equal", m)
	}
	if !client {
		var st syscall.Stat_t
		if err := syscall.Stat(sock, &st); err != nil || st.Mode&0o777 != 0o600 || st.Uid != uint32(lookupUID(t, "nobody")) {
			t.Errorf("socket file: mode %o uid %d (%v), want 0600 and nobody's", st.Mode&0o777, st.Uid, err)
		}
	}
	pb := startL2tap(t, b, "-udp", "-src", "192.0.2.2", "-dst", "192.0.2.1", "-srcport", "1701", "-dstport", "1701",
		"-txsession", "1", "-ifname", "vtb", "-mtu", "9000", "-control", "off")
	b.ip(t, "addr", "add", "10.1.0.2/24", "dev", "vtb")

	// A frontend that sends garbage (a header of another protocol
	// version) ends its own connection, counted; l2tap serves the next.
	// As a client l2tap connects to it: the test listens for one
	// connection, then refuses the rest until testpmd listens there.
	var bad net.Conn
	var err error
	if client {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(sock, 0o666) // l2tap runs as nobody
		bad, err = ln.Accept()
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close() // the file stays: l2tap's next attempts are refused
		if err != nil {
			t.Fatal(err)
		}
	} else if bad, err = net.Dial("unix", sock); err != nil {
		t.Fatal(err)
	}
	bad.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	waitLog(t, pa, regexp.QuoteMeta("vhost-user frontend connection ended"), 10*time.Second)
	if n, err := bad.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the garbage frontend's connection: read %d, %v; want it closed", n, err)
	}
	bad.Close()
	if client {
		os.Remove(sock)
	}

	// The data path serves testpmd as nobody, under the seccomp filter.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pa.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	uid := fmt.Sprint(lookupUID(t, "nobody"))
	if !regexp.MustCompile(`(?m)^Seccomp:\s+2$`).Match(status) || !regexp.MustCompile(`(?m)^Uid:\s+`+uid+`\s`).Match(status) {
		t.Errorf("l2tap runs without the filter or not as nobody:\n%s", status)
	}

	pmd := startTestpmd(t, a, huge, sock, client)
	waitLog(t, pa, regexp.QuoteMeta("vhost-user features negotiated"), 10*time.Second)
	// Static neighbours: no ARP crosses, so the counters count pings only.
	a.ip(t, "neigh", "replace", "10.1.0.2", "lladdr", macOf(t, b, "vtb"), "dev", "vta", "nud", "permanent")
	b.ip(t, "neigh", "replace", "10.1.0.1", "lladdr", macOf(t, a, "vta"), "dev", "vtb", "nud", "permanent")
	if err := a.pingEventually(t, "10.1.0.2", 20*time.Second); err != nil {
		t.Fatalf("%v\nl2tap:\n%s\ntestpmd:\n%s", err, pa.stderr.String(), pmd.out.String())
	}

	c0, ca0 := liveCounters(t, pa), liveCounters(t, pb)
	sizes := []int{64, 65, 128, 1000, 1500, 1514, 2048, 4000, 8000, 9000}
	var frames, bytes uint64
	for _, n := range sizes {
		// An echo request of n bytes on the wire: 14 Ethernet, 20 IPv4,
		// 8 ICMP and the payload, which ping checks in the reply.
		for _, from := range []struct {
			ns  netns
			dst string
		}{{a, "10.1.0.2"}, {b, "10.1.0.1"}} {
			if out, err := from.ns.cmd("ping", "-c", "1", "-W", "5", "-M", "dont", "-s", fmt.Sprint(n-42), "-p", "a5", from.dst).CombinedOutput(); err != nil ||
				strings.Contains(string(out), "wrong data") {
				t.Errorf("ping of a %d-byte frame from %s: %v\n%s", n, from.ns, err, out)
			}
		}
		frames += 2
		bytes += 2 * uint64(n)
	}
	c1, ca1 := liveCounters(t, pa), liveCounters(t, pb)
	for _, side := range []struct {
		name       string
		before, at map[string]uint64
	}{{"vhost-user", c0, c1}, {"TAP", ca0, ca1}} {
		for name, want := range map[string]uint64{"tx_packets": frames, "rx_packets": frames, "tx_bytes": bytes, "rx_bytes": bytes,
			"rx_errors": 0, "tx_errors": 0, "tap_write_errors": 0, "tx_offload_errors": 0} {
			if got := side.at[name] - side.before[name]; got != want {
				t.Errorf("%s side: %s went up by %d, want %d", side.name, name, got, want)
			}
		}
	}
	if c1["vhost_frontends"] != 2 || c1["vhost_frontend_errors"] != 1 {
		t.Errorf("vhost-user counters %v, want 2 frontends (the garbage one and testpmd), 1 error", c1)
	}
	if _, ok := ca1["vhost_frontends"]; ok {
		t.Errorf("the TAP side prints vhost_frontends")
	}

	// testpmd killed and started again: served again, l2tap untouched.
	pmd.kill()
	waitLog(t, pa, regexp.QuoteMeta("vhost-user frontend disconnected"), 10*time.Second)
	start := time.Now()
	pmd.start()
	for a.cmd("ping", "-c", "1", "-W", "0.2", "10.1.0.2").Run() != nil {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after testpmd's restart: no reply in 30 s\nl2tap:\n%s\ntestpmd:\n%s", pa.stderr.String(), pmd.out.String())
		}
	}
	t.Logf("traffic again %v after testpmd's restart", time.Since(start).Round(time.Millisecond))
	pingAll(t, pingCheck{a, "10.1.0.2", 8000}, pingCheck{b, "10.1.0.1", 1400})
	logFeatures(t, pa)
	pmd.stop()

	c := pa.stop(t)
	if c["vhost_frontends"] != 3 || c["vhost_frontend_errors"] != 1 {
		t.Errorf("vhost-user counters at exit %v, want 3 frontends (garbage, testpmd twice), 1 error", c)
	}
	pb.stop(t)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file after l2tap's exit: %v", err)
	}
}

// logFeatures logs the features the frontends negotiated, as l2tap logged them.
func logFeatures(t *testing.T, p *proc) {
	var once sync.Once
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, "features negotiated") {
			once.Do(func() { t.Log(l) })
		}
	}
}

// TestVhostUserReload: with -config (and so the privileged helper, which
// binds a server's socket for the data path running as nobody under the
// seccomp filter), a vhost-user session of the file is served from the
// start, and SIGHUP adds a vhost-user session of each mode, whose
// sockets a frontend reaches (the server's file owned by -owner), and
// removes them again, the server's file with its session.
func TestVhostUserReload(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "vr")
	dir := socketDir(t)
	srv, cli := filepath.Join(dir, "server.vhost"), filepath.Join(dir, "client.vhost")
	cfg := filepath.Join(dir, "l2tap.toml")
	first := filepath.Join(dir, "first.vhost")
	base := "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\nvhost-user = \"" + first + "\"\n"
	if err := os.WriteFile(cfg, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startL2tap(t, a, "-config", cfg, "-control", "off", "-user", "nobody")
	// The session of the file at start: its socket made by the helper too.
	if c, err := net.Dial("unix", first); err != nil {
		t.Errorf("connect to the socket of the file's session: %v", err)
	} else {
		waitLog(t, p, regexp.QuoteMeta("vhost-user frontend connected socket="+first), 10*time.Second)
		c.Close()
	}

	// The frontend l2tap connects to as a client.
	ln, err := net.Listen("unix", cli)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(cli, 0o666) // l2tap runs as nobody
	os.WriteFile(cfg, []byte(base+"[[tunnel.session]]\ntxsession = 2\nvhost-user = \""+srv+"\"\nowner = \"nobody\"\n"+
		"[[tunnel.session]]\ntxsession = 3\nvhost-user = \""+cli+"\"\nvhost-user-mode = \"client\"\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, regexp.QuoteMeta("added socket="+srv), 10*time.Second)
	waitLog(t, p, regexp.QuoteMeta("added socket="+cli), 10*time.Second)
	var st syscall.Stat_t
	if err := syscall.Stat(srv, &st); err != nil || st.Mode&0o777 != 0o600 || st.Uid != uint32(lookupUID(t, "nobody")) {
		t.Errorf("socket file: mode %o uid %d (%v), want 0600 and nobody's", st.Mode&0o777, st.Uid, err)
	}
	c, err := net.Dial("unix", srv)
	if err != nil {
		t.Fatalf("connect to the socket added on reload: %v\n%s", err, p.stderr.String())
	}
	waitLog(t, p, regexp.QuoteMeta("vhost-user frontend connected socket="+srv), 10*time.Second)
	c.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	select {
	case c := <-accepted:
		waitLog(t, p, regexp.QuoteMeta("vhost-user frontend connected socket="+cli), 10*time.Second)
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatalf("the client session added on reload did not connect\n%s", p.stderr.String())
	}

	os.WriteFile(cfg, []byte(base), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, regexp.QuoteMeta("removed socket="+srv), 10*time.Second)
	waitLog(t, p, regexp.QuoteMeta("removed socket="+cli), 10*time.Second)
	if _, err := os.Lstat(srv); !os.IsNotExist(err) {
		t.Errorf("socket file after its session was removed: %v", err)
	}
	if _, err := os.Lstat(cli); err != nil {
		t.Errorf("the frontend's socket file after the client session was removed: %v", err)
	}
	p.stop(t)
	if _, err := os.Lstat(first); !os.IsNotExist(err) {
		t.Errorf("socket file after l2tap's exit: %v", err)
	}
}
