//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPseudowireOffloadOff runs the ping matrix of TestPseudowire on every
// underlay with -offload=off: the one-frame-per-system-call path.
func TestPseudowireOffloadOff(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	// Beside other tests: pings (a 2 s deadline each) in namespaces of its
	// own.
	t.Parallel()
	for _, e := range encaps {
		for _, v := range variants[1:3] {
			t.Run(e.name+"-"+v.name, func(t *testing.T) {
				t.Parallel()
				a, b, pa, pb := pseudowire(t, "of", "of0",
					slices.Concat([]string{"-offload=off"}, e.a, v.flags), slices.Concat([]string{"-offload", "off"}, e.b, v.flags))
				if !strings.Contains(pa.stderr.String(), "offload=off") {
					t.Errorf("ready line does not say offload=off:\n%s", pa.stderr.String())
				}
				if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
					t.Fatal(err)
				}
				pingAll(t,
					pingCheck{a, "10.1.0.2", 56},
					pingCheck{b, "10.1.0.1", 1400},
					pingCheck{a, "fd00::2", 1400},
				)
				ca, cb := pa.stop(t), pb.stop(t)
				for side, c := range map[string]map[string]uint64{"a": ca, "b": cb} {
					if c["rx_packets"] < 7 || c["rx_errors"] != 0 || c["tx_errors"] != 0 || c["tx_superframes"] != 0 || c["rx_coalesced"] != 0 {
						t.Errorf("side %s counters: %v", side, c)
					}
				}
			})
		}
	}
}

// bulkSize is the bytes TestBulkTCP sends each way.
const bulkSize = 48 << 20

// TestBulkTCP moves bulk TCP data across the pseudowire both ways, with
// and without offloads, and checks every byte arrives intact: software
// segmentation, UDP GSO/GRO and coalescing must keep checksums and order.
func TestBulkTCP(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	cases := []struct {
		encap   int
		flags   []string
		offload bool
	}{
		{0, []string{"-txsession", "1", "-counter"}, true},
		{1, []string{"-txsession", "2", "-txcookie", "5", "-rxcookie", "5"}, true},
		{2, []string{"-txsession", "3", "-offset", "3", "-pincounter"}, true},
		{3, []string{"-txsession", "4"}, true},
		{0, []string{"-txsession", "1", "-offload=off"}, false},
		{0, []string{"-txsession", "1", "-mtu", "9000"}, true},
		{0, []string{"-txsession", "1", "-mtu", "9000", "-offload=off"}, false},
	}
	for _, c := range cases {
		e := encaps[c.encap]
		name := e.name + "-" + strings.Join(c.flags, "")
		t.Run(name, func(t *testing.T) {
			a, b, pa, pb := pseudowire(t, "bt", "bt0", slices.Concat(e.a, c.flags), slices.Concat(e.b, c.flags))
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			for _, addr := range []string{"10.1.0.2", "fd00::2"} {
				bulkTransfer(t, a, b, addr)
			}
			ca, cb := pa.stop(t), pb.stop(t)
			noErrors(t, ca, cb, "rx_errors", "tx_errors", "tx_offload_errors")
			t.Logf("a: tx_superframes %d rx_coalesced %d; b: tx_superframes %d rx_coalesced %d",
				ca["tx_superframes"], ca["rx_coalesced"], cb["tx_superframes"], cb["rx_coalesced"])
			if c.offload && (ca["tx_superframes"] == 0 || cb["rx_coalesced"] == 0) {
				t.Errorf("offloads unused: a %v b %v", ca, cb)
			}
		})
	}
}

// TestPlainUnderlay runs bulk TCP over an underlay that offloads nothing
// (no checksum offload, segmentation or GRO on either veth), as a plain
// NIC would. Older kernels then refuse UDP_SEGMENT with EIO and l2tap falls
// back to one datagram per message (TestTxQueueFallbacks checks that logic);
// newer ones segment in software. Either way every byte must arrive.
func TestPlainUnderlay(t *testing.T) {
	requireTools(t, true, "ip", "ping", "ethtool")
	for _, e := range encaps {
		t.Run(e.name, func(t *testing.T) {
			flags := []string{"-txsession", "1"}
			a, b, pa, pb := pseudowire(t, "pu", "pu0", slices.Concat(e.a, flags), slices.Concat(e.b, flags))
			for _, s := range []struct {
				ns  netns
				dev string
			}{{a, "ua"}, {b, "ub"}} {
				run(t, "ip", "netns", "exec", string(s.ns), "ethtool", "-K", s.dev, "tx", "off", "rx", "off", "sg", "off", "gso", "off", "gro", "off")
			}
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			bulkTransfer(t, a, b, "10.1.0.2")
			ca, cb := pa.stop(t), pb.stop(t)
			noErrors(t, ca, cb, "tx_errors", "rx_errors", "tap_write_errors")
			t.Logf("UDP_SEGMENT refused on side a: %v", strings.Contains(pa.stderr.String(), "UDP segmentation offload refused"))
		})
	}
}

// bulkTransfer runs the helper server in b and client in a: the client
// sends bulkSize bytes, the server sends the same back, each side checks
// the SHA-256 of what it got.
func bulkTransfer(t *testing.T, a, b netns, addr string) {
	t.Helper()
	bulkTransfers(t, a, b, addr, 5999)
}

// bulkTransfers runs one bulkTransfer per port, all at once.
func bulkTransfers(t *testing.T, a, b netns, addr string, ports ...int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var srvs []*exec.Cmd
	var srvOuts []*syncBuffer
	for _, port := range ports {
		srv := b.cmd(exe, "-test.run=^TestBulkHelper$")
		srv.Env = append(os.Environ(), "L2TAP_BULK=server", "L2TAP_BULK_ADDR="+net.JoinHostPort(addr, strconv.Itoa(port)))
		srvOuts = append(srvOuts, startServer(t, b, port, srv))
		defer srv.Process.Kill() // free the port for the next transfer, even after a failure
		srvs = append(srvs, srv)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, port := range ports {
		hp := net.JoinHostPort(addr, strconv.Itoa(port))
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli := a.cmd(exe, "-test.run=^TestBulkHelper$")
			cli.Env = append(os.Environ(), "L2TAP_BULK=client", "L2TAP_BULK_ADDR="+hp)
			if out, err := cli.CombinedOutput(); err != nil {
				t.Errorf("bulk client to %s: %v\n%s\nserver: %s", hp, err, out, srvOuts[i].String())
				return
			}
			if err := srvs[i].Wait(); err != nil {
				t.Errorf("bulk server on %s: %v\n%s", hp, err, srvOuts[i].String())
			}
		}()
	}
	wg.Wait()
	t.Logf("%s, %d connection(s): %d MiB each way on each in %v", addr, len(ports), bulkSize>>20, time.Since(start).Round(time.Millisecond))
}

// bulkData is the deterministic stream both sides send.
func bulkData() io.Reader {
	return io.LimitReader(&prngReader{rand.NewPCG(7, 11)}, bulkSize)
}

type prngReader struct{ src *rand.PCG }

func (r *prngReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := r.src.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p), nil
}

func digest(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// TestBulkHelper is the server or client of bulkTransfer when run with
// L2TAP_BULK set; otherwise it does nothing.
func TestBulkHelper(t *testing.T) {
	role, addr := os.Getenv("L2TAP_BULK"), os.Getenv("L2TAP_BULK_ADDR")
	if role == "" {
		t.Skip("helper process for TestBulkTCP")
	}
	want, _, _ := digest(bulkData())
	var conn net.Conn
	switch role {
	case "server":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		if conn, err = ln.Accept(); err != nil {
			t.Fatal(err)
		}
	default:
		var err error
		if conn, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.Close()
	// A stall fails the transfer; a machine that is merely busy does not.
	rw := idleTimeout{conn.(*net.TCPConn), 8 * time.Second}
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(rw, bulkData())
		rw.c.CloseWrite()
		sent <- err
	}()
	got, n, err := digest(rw)
	if err != nil {
		t.Fatalf("%s: receive: %v after %d bytes", role, err, n)
	}
	if got != want || n != bulkSize {
		t.Fatalf("%s: received %d bytes with SHA-256 %s, want %d bytes with %s", role, n, got, bulkSize, want)
	}
	if err := <-sent; err != nil {
		t.Fatalf("%s: send: %v", role, err)
	}
	fmt.Println("bulk ok")
}

// idleTimeout reads and writes a TCP connection and fails once no progress
// has been made for d. It is only a Reader and a Writer, so that io.Copy
// cannot go around the deadlines through ReadFrom or WriteTo.
type idleTimeout struct {
	c *net.TCPConn
	d time.Duration
}

func (c idleTimeout) Read(b []byte) (int, error) {
	c.c.SetReadDeadline(time.Now().Add(c.d))
	return c.c.Read(b)
}

func (c idleTimeout) Write(b []byte) (int, error) {
	c.c.SetWriteDeadline(time.Now().Add(c.d))
	return c.c.Write(b)
}

// udpReceiver counts intact datagrams (a 4-byte index, then that index
// repeated as a byte) arriving on 10.1.0.2:9000 until 1 s of silence. Its
// receive buffer holds every datagram of the test (SO_RCVBUFFORCE, as
// root: SO_RCVBUF stops at net.core.rmem_max), so that a receiver the
// host's load keeps from running loses nothing l2tap delivered.
const udpReceiver = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20) # SO_RCVBUFFORCE
s.bind(("10.1.0.2", 9000))
print("ready", flush=True)
s.settimeout(5)
good = bad = 0
while True:
    try:
        d = s.recv(2048)
    except socket.timeout:
        break
    s.settimeout(1)
    i = struct.unpack("!I", d[:4])[0]
    if d[4:] == bytes([i & 0xff]) * (len(d) - 4):
        good += 1
    else:
        bad += 1
print(good, bad)
`

// udpSender sends n datagrams of size bytes in the receiver's format, in
// paced bursts so that no queue on the way overflows.
const udpSender = `
import socket, struct, sys, time
n, size = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    if i % 32 == 0:
        time.sleep(0.001) # bursts of 32: fit the TAP's queue, still coalesce
    s.sendto(struct.pack("!I", i) + bytes([i & 0xff]) * (size - 4), ("10.1.0.2", 9000))
`

// TestUDPCoalescing sends equal-size UDP datagrams across the pseudowire:
// with -offload=full the receiving l2tap merges them into USO writes, with
// auto it writes them one by one; either way every datagram arrives intact.
func TestUDPCoalescing(t *testing.T) {
	requireTools(t, true, "ip", "python3")
	for _, mode := range []string{"full", "auto"} {
		t.Run(mode, func(t *testing.T) {
			e, flags := encaps[0], []string{"-txsession", "1", "-offload", mode}
			a, b, pa, pb := pseudowire(t, "uc", "uc0", slices.Concat(flags, e.a), slices.Concat(flags, e.b))
			if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			recv := b.cmd("python3", "-c", udpReceiver)
			out, err := recv.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := recv.Start(); err != nil {
				t.Fatal(err)
			}
			defer recv.Process.Kill()
			if _, err := io.ReadFull(out, make([]byte, 6)); err != nil {
				t.Fatalf("receiver: %v", err)
			}
			const n = 20000
			if msg, err := a.cmd("python3", "-c", udpSender, fmt.Sprint(n), "300").CombinedOutput(); err != nil {
				t.Fatalf("sender: %v\n%s", err, msg)
			}
			res, _ := io.ReadAll(out)
			recv.Wait()
			var good, bad int
			if _, err := fmt.Sscan(string(res), &good, &bad); err != nil {
				t.Fatalf("receiver output %q: %v", res, err)
			}
			pa.stop(t)
			c := pb.stop(t)
			if bad != 0 || good < n*95/100 {
				t.Errorf("%d intact and %d corrupt of %d datagrams", good, bad, n)
			}
			if merged := c["rx_coalesced"]; (mode == "full") != (merged > 0) {
				t.Errorf("-offload %s: rx_coalesced %d", mode, merged)
			}
			t.Logf("-offload %s: %d of %d intact, rx_coalesced %d", mode, good, n, c["rx_coalesced"])
		})
	}
}
