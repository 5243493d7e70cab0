//go:build linux

package underlay

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/l2tap/l2tap/test/testenv"
	"golang.org/x/sys/unix"
)

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
}

// vethNetns makes two namespaces joined by a veth pair (192.0.2.1/24 on
// "pa" in the first, 192.0.2.2/24 on "pb" in the second), no neighbour
// resolved yet, and returns their names.
func vethNetns(t *testing.T) (a, b string) {
	a, b = fmt.Sprintf("upka%d", os.Getpid()), fmt.Sprintf("upkb%d", os.Getpid())
	for _, ns := range []string{a, b} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ipCmd(t, "link", "add", "pa", "netns", a, "type", "veth", "peer", "name", "pb", "netns", b)
	ipCmd(t, "-n", a, "addr", "add", "192.0.2.1/24", "dev", "pa")
	ipCmd(t, "-n", a, "addr", "add", "192.0.2.11/24", "dev", "pa")
	ipCmd(t, "-n", b, "addr", "add", "192.0.2.2/24", "dev", "pb")
	ipCmd(t, "-n", a, "link", "set", "pa", "up")
	ipCmd(t, "-n", b, "link", "set", "pb", "up")
	return a, b
}

// inNetns runs f on a thread moved into the named namespace; the sockets
// f opens stay there. The thread is never returned to the pool.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Errorf("open namespace %s: %v", name, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", name, err)
			return
		}
		f()
	}()
	<-done
}

// TestPacketPath sends IP encapsulation through the packet path between
// two namespaces: while the neighbour is unresolved the raw socket sends
// (and the kernel resolves it), then the packet path takes over with the
// same bytes arriving; a frame above the link MTU goes through the raw
// socket, fragmented, and arrives whole; a flushed neighbour sends the
// packets back to the raw socket. The receiving raw socket sees every
// packet from the right source (the kernel checked our IPv4 header's
// checksum and lengths), and the steady state allocates nothing. The
// sender is bound to a secondary address, which the kernel would not pick
// as the source on its own.
func TestPacketPath(t *testing.T) {
	testenv.RequireTools(t, true, "ip")
	a, b := vethNetns(t)
	local, peer := netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.2")
	var tx, rx *Socket
	var err error
	inNetns(t, a, func() { tx, err = Open(Config{Local: local, PacketPath: true}) })
	if err != nil || tx == nil {
		t.Fatalf("open sender: %v", err)
	}
	defer tx.Close()
	if !tx.PacketPath() {
		t.Fatal("socket opened without its packet path")
	}
	inNetns(t, b, func() { rx, err = Open(Config{Local: peer}) })
	if err != nil || rx == nil {
		t.Fatalf("open receiver: %v", err)
	}
	defer rx.Close()

	q := tx.NewPacketSender(netip.AddrPortFrom(peer, 0), 64, func(p []byte, e syscall.Errno) { t.Errorf("refused %d bytes: %v", len(p), e) }, nil)
	msgs := make([]Message, rx.BatchSize())
	seq := 0
	batch := func(sizes ...int) [][]byte {
		pkts := make([][]byte, len(sizes))
		for i, n := range sizes {
			pkts[i] = make([]byte, n)
			for j := range pkts[i] {
				pkts[i][j] = byte(seq + j)
			}
			seq++
		}
		return pkts
	}
	// roundTrip sends pkts and checks they all arrive, in order, intact.
	roundTrip := func(pkts [][]byte) {
		t.Helper()
		if err := q.Send(pkts); err != nil {
			t.Fatalf("send: %v", err)
		}
		got := 0
		deadline := time.Now().Add(5 * time.Second)
		for got < len(pkts) && time.Now().Before(deadline) {
			rx.file.SetReadDeadline(deadline)
			n, err := rx.Receive(msgs)
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			for _, m := range msgs[:n] {
				if m.Src.Addr() != local {
					t.Fatalf("packet from %v, want %v", m.Src, local)
				}
				if !bytes.Equal(m.Buf, pkts[got]) {
					t.Fatalf("packet %d: %d bytes differ from the %d sent", got, len(m.Buf), len(pkts[got]))
				}
				got++
			}
		}
		if got < len(pkts) {
			t.Fatalf("%d of %d packets arrived", got, len(pkts))
		}
	}
	// untilPacket sends batches until the packet path carries one.
	untilPacket := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for before, _ := q.Counts(); ; {
			roundTrip(batch(100, 1400, 60))
			if n, _ := q.Counts(); n > before {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the packet path never took over")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	roundTrip(batch(100, 200))
	if p, r := q.Counts(); p != 0 || r != 2 {
		t.Fatalf("unresolved neighbour: %d packets on the packet path, %d raw; want 0 and 2", p, r)
	}
	untilPacket()

	// A steady batch goes through the packet path alone.
	p0, r0 := q.Counts()
	roundTrip(batch(1400, 1400, 1400, 64))
	if p, r := q.Counts(); p-p0 != 4 || r != r0 {
		t.Fatalf("resolved: %d on the packet path, %d raw; want 4 and 0", p-p0, r-r0)
	}
	// Above the MTU (1500 - 20): the raw socket, fragmented.
	p0, r0 = q.Counts()
	roundTrip(batch(1200, 3000, 1200))
	if p, r := q.Counts(); p-p0 != 2 || r-r0 != 1 {
		t.Fatalf("oversized: %d on the packet path, %d raw; want 2 and 1", p-p0, r-r0)
	}

	pkts := batch(1400, 1400, 1400, 1400)
	if allocs := testing.AllocsPerRun(50, func() { roundTrip(pkts) }); allocs > 0 {
		t.Errorf("%.1f allocations per batch through the packet path", allocs)
	}

	// A neighbour gone stale hands the sending back to the raw socket
	// (which makes the kernel confirm it), until it is usable again.
	ipCmd(t, "-n", a, "neigh", "change", "192.0.2.2", "dev", "pa", "nud", "stale")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, r0 = q.Counts()
		roundTrip(batch(500))
		if _, r := q.Counts(); r > r0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a stale neighbour kept the packet path")
		}
		time.Sleep(20 * time.Millisecond)
	}
	untilPacket()
}
