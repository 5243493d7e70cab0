//go:build linux

package tap

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/l2tap/l2tap/internal/offload"
	"github.com/l2tap/l2tap/test/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tcpSegment returns an Ethernet frame holding TCP segment number i of a
// flow (1000 payload bytes, ACK only) with valid checksums.
func tcpSegment(i int) []byte {
	f := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0, byte(i), 0x40, 0, 64, offload.ProtoTCP, 0, 0, 10, 7, 0, 1, 10, 7, 0, 2}
	binary.BigEndian.PutUint16(ip[2:], 20+20+1000)
	offload.PutCsum(ip[10:], offload.CsumAdd(0, ip))
	tcp := make([]byte, 20+1000)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], uint32(1+1000*i))
	binary.BigEndian.PutUint32(tcp[8:], 1)
	tcp[12], tcp[13] = 5<<4, 0x10
	binary.BigEndian.PutUint16(tcp[14:], 1000)
	for k := 20; k < len(tcp); k++ {
		tcp[k] = byte(k + i)
	}
	offload.PutCsum(tcp[16:], offload.CsumAdd(offload.PseudoHeaderSum(ip[12:16], ip[16:20], offload.ProtoTCP, len(tcp)), tcp))
	return append(append(f, ip...), tcp...)
}

// TestWriteIntact writes three segments of one flow to a real TAP (in a
// network namespace of its own), the middle one corrupted: checked (not
// intact, as frames of single datagrams are) it is never merged and its
// neighbours cannot merge across it; marked intact its sum is not taken
// and all three merge; intact segments merge as checked ones do.
func TestWriteIntact(t *testing.T) {
	testenv.RequireTools(t, true) // a network namespace and a TAP
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread stays in the new namespace and dies with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		h, err := netlink.NewHandle()
		if err != nil {
			t.Errorf("netlink: %v", err)
			return
		}
		defer h.Close()
		d, err := Open(Config{Name: "wi0", Owner: -1, Group: -1, Offload: true})
		if err != nil {
			t.Errorf("open TAP: %v", err)
			return
		}
		defer d.Close()
		if d.w.gro == nil {
			t.Log("no TSO on this TAP: nothing is coalesced")
			return
		}
		if l, err := h.LinkByName("wi0"); err != nil || h.LinkSetUp(l) != nil {
			t.Errorf("bring wi0 up: %v", err)
			return
		}
		segs := [][]byte{tcpSegment(0), tcpSegment(1), tcpSegment(2)}
		bad := append([]byte{}, segs[1]...)
		bad[len(bad)-1] ^= 0x01
		cases := []struct {
			name   string
			frames [][]byte
			intact []bool
			merged int
		}{
			{"checked", segs, nil, 2},
			{"intact", segs, []bool{true, true, true}, 2},
			{"corrupted-checked", [][]byte{segs[0], bad, segs[2]}, []bool{true, false, true}, 0},
			{"corrupted-intact", [][]byte{segs[0], bad, segs[2]}, []bool{true, true, true}, 2},
		}
		for _, c := range cases {
			written, merged, _, err := d.WriteIntact(c.frames, c.intact)
			if err != nil || written != 3 || merged != c.merged {
				t.Errorf("%s: written %d, merged %d, err %v; want 3, %d, nil", c.name, written, merged, err, c.merged)
			}
		}
	}()
	<-done
}
