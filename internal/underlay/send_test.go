//go:build linux

package underlay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"golang.org/x/sys/unix"
)

// fakeKernel stands in for sendmmsg: it refuses UDP_SEGMENT messages as
// refuse says and passes everything else to the real system call, so the
// datagrams that leave can be read back.
type fakeKernel struct {
	refuse   func(segment int) syscall.Errno
	gsoTried int // UDP_SEGMENT messages offered
	gsoSent  int // and let through
}

func (f *fakeKernel) sendmmsg(fd uintptr, msgs []mmsghdr) (int, syscall.Errno) {
	for i := range msgs {
		m := &msgs[i].hdr
		if m.Controllen > 0 {
			f.gsoTried++
			ctrl := unsafe.Slice(m.Control, m.Controllen)
			seg := int(binary.NativeEndian.Uint16(ctrl[unix.SizeofCmsghdr:]))
			if e := f.refuse(seg); e != 0 {
				if i == 0 {
					return 0, e
				}
				return i, 0 // like the kernel: the error waits for the next call
			}
			f.gsoSent++
		}
		if _, e := sendmmsg(fd, msgs[i:i+1]); e != 0 {
			if i == 0 {
				return 0, e
			}
			return i, 0
		}
	}
	return len(msgs), 0
}

// TestSenderFallbacks checks what Send does when the kernel refuses a
// UDP_SEGMENT message: EIO turns grouping off for good, EINVAL or EMSGSIZE
// stop grouping datagrams of that size, and an error of the path fails the
// packets without a resend. No datagram is lost or reordered by a fallback.
func TestSenderFallbacks(t *testing.T) {
	tests := []struct {
		name       string
		refuse     func(seg int) syscall.Errno
		sizes      []int // datagram sizes queued, in order
		wantFailed int   // packets reported to fail
		wantNoGSO  bool  // grouping switched off for good
		wantGSOMax int
		wantGSO    int // UDP_SEGMENT messages let through
	}{
		{
			name:       "accepted",
			refuse:     func(int) syscall.Errno { return 0 },
			sizes:      runs(10, 300, 5, 200),
			wantGSOMax: 65535,
			wantGSO:    2,
		},
		{
			name:       "EIO turns grouping off",
			refuse:     func(int) syscall.Errno { return unix.EIO },
			sizes:      runs(10, 300, 5, 200),
			wantNoGSO:  true,
			wantGSOMax: 65535,
		},
		{
			name:       "EMSGSIZE stops grouping that size",
			refuse:     refuseAbove(250, unix.EMSGSIZE),
			sizes:      runs(10, 300, 5, 200),
			wantGSOMax: 299,
			wantGSO:    1,
		},
		{
			name:       "EINVAL stops grouping that size",
			refuse:     refuseAbove(250, unix.EINVAL),
			sizes:      runs(5, 200, 10, 300),
			wantGSOMax: 299,
			wantGSO:    1,
		},
		{
			name:       "path error fails the packets",
			refuse:     func(int) syscall.Errno { return unix.ENETUNREACH },
			sizes:      runs(10, 300, 1, 400), // a longer datagram starts a new message
			wantFailed: 10,
			wantGSOMax: 65535,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			lo := netip.MustParseAddr("127.0.0.1")
			tun, err := Open(Config{UDP: true, Local: lo})
			if err != nil {
				t.Fatal(err)
			}
			defer tun.Close()

			fk := &fakeKernel{refuse: tt.refuse}
			failed, noGSO := map[int]bool{}, 0
			q := tun.NewSender(netip.AddrPortFrom(lo, uint16(peer.LocalAddr().(*net.UDPAddr).Port)), 64,
				func(pkt []byte, e syscall.Errno) { failed[int(pkt[0])] = true }, // packet i is filled with byte i
				func(e syscall.Errno) {
					noGSO++
					if e != unix.EIO {
						t.Errorf("noGSO(%v), want EIO", e)
					}
				})
			q.gso = true // as if the kernel took UDP_SEGMENT: fk decides
			q.sys = fk.sendmmsg
			var pkts [][]byte
			for i, n := range tt.sizes {
				pkts = append(pkts, bytes.Repeat([]byte{byte(i)}, n))
			}
			if err := q.Send(pkts); err != nil {
				t.Fatal(err)
			}

			// Every datagram not reported failed arrives, intact and in order.
			var want [][]byte
			for i, n := range tt.sizes {
				if !failed[i] {
					want = append(want, bytes.Repeat([]byte{byte(i)}, n))
				}
			}
			buf := make([]byte, 2048)
			for i, w := range want {
				peer.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := peer.Read(buf)
				if err != nil {
					t.Fatalf("datagram %d of %d: %v", i, len(want), err)
				}
				if !bytes.Equal(buf[:n], w) {
					t.Fatalf("datagram %d: %d bytes of %d, want %d bytes of %d", i, n, buf[0], len(w), w[0])
				}
			}
			peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if n, err := peer.Read(buf); err == nil {
				t.Fatalf("an extra datagram of %d bytes", n)
			}
			if len(failed) != tt.wantFailed {
				t.Errorf("%d packets failed, want %d", len(failed), tt.wantFailed)
			}
			if (noGSO > 0) != tt.wantNoGSO || noGSO > 1 || q.gso == tt.wantNoGSO {
				t.Errorf("noGSO called %d times, gso now %v; want switched off: %v", noGSO, q.gso, tt.wantNoGSO)
			}
			if q.gsoMax != tt.wantGSOMax {
				t.Errorf("gsoMax %d, want %d", q.gsoMax, tt.wantGSOMax)
			}
			if fk.gsoSent != tt.wantGSO {
				t.Errorf("%d UDP_SEGMENT messages sent (%d offered), want %d", fk.gsoSent, fk.gsoTried, tt.wantGSO)
			}

			// What was learnt sticks: the same sizes again offer no message
			// the kernel refused before.
			tried := fk.gsoTried
			refusedBefore := tried - fk.gsoSent
			if err := q.Send(pkts); err != nil {
				t.Fatal(err)
			}
			if tt.wantFailed == 0 && fk.gsoTried-fk.gsoSent != refusedBefore {
				t.Errorf("second flush offered %d refused UDP_SEGMENT messages again", fk.gsoTried-fk.gsoSent-refusedBefore)
			}
		})
	}
}

// refuseAbove refuses UDP_SEGMENT messages of datagrams over max bytes
// with e, as a path whose MTU they exceed does.
func refuseAbove(max int, e syscall.Errno) func(seg int) syscall.Errno {
	return func(seg int) syscall.Errno {
		if seg > max {
			return e
		}
		return 0
	}
}

// runs returns n1 sizes s1 followed by n2 sizes s2.
func runs(n1, s1, n2, s2 int) []int {
	var out []int
	for range n1 {
		out = append(out, s1)
	}
	for range n2 {
		out = append(out, s2)
	}
	return out
}

// TestSocketLoopAllocs runs the socket half of both loops with real system
// calls, between two sockets on loopback: encapsulate and send with
// UDP_SEGMENT, receive with UDP GRO, split the runs and decode. In steady
// state none of it may allocate.
func TestSocketLoopAllocs(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	rx, err := Open(Config{UDP: true, Local: lo, Offload: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := Open(Config{UDP: true, Local: lo, Offload: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	txAddr := netip.AddrPortFrom(lo, tunnelPort(t, tx))

	h := l2tpv3.Header{UDP: true, TxSession: 7, RxSession: 7, Sublayer: l2tpv3.SublayerCounter}
	hl := h.Len()
	q := tx.NewSender(netip.AddrPortFrom(lo, tunnelPort(t, rx)), 32, nil, nil)
	arena := make([]byte, 32*(hl+1000))
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = arena[i*(hl+1000) : (i+1)*(hl+1000)]
	}
	msgs := make([]Message, rx.BatchSize())
	var seq uint32
	var d l2tpv3.Decoded
	frames := 0
	step := func() {
		for _, p := range pkts {
			h.Encode(p, seq)
			seq++
		}
		if err := q.Send(pkts); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(pkts); {
			n, err := rx.Receive(msgs)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs[:n] {
				if m.Drop != l2tpv3.DropNone || m.Src != txAddr {
					t.Fatalf("packet from %v dropped: %v", m.Src, m.Drop)
				}
				for one, rest := m.Datagram(m.Buf); len(one) > 0; one, rest = m.Datagram(rest) {
					if why := h.Decode(one, &d); why != l2tpv3.DropNone {
						t.Fatalf("decode: %v", why)
					}
					frames++
					got++
				}
			}
		}
	}
	allocs := testing.AllocsPerRun(200, step)
	t.Logf("UDP_SEGMENT %v, UDP GRO %v: %d frames received", q.gso, rx.recv.gro, frames)
	if allocs != 0 {
		t.Errorf("%v allocations per batch of 32 frames, want 0", allocs)
	}
	if frames != 32*201 {
		t.Errorf("%d of %d frames received", frames, 32*201)
	}
}

func TestGROSegmentSizeCmsg(t *testing.T) {
	b := make([]byte, cmsgSegmentSpace)
	putSegmentCmsg(b, 1234)
	if got := GROSegmentSize(b); got != 0 {
		t.Errorf("UDP_SEGMENT read as UDP_GRO: %d", got)
	}
	// A UDP_GRO message carries an int. struct cmsghdr is {size_t cmsg_len;
	// int cmsg_level; int cmsg_type}: the length is as wide as a pointer.
	b = make([]byte, cmsgSegmentSpace)
	w := int(unsafe.Sizeof(uintptr(0)))
	if w == 8 {
		binary.NativeEndian.PutUint64(b, uint64(w+12))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(w+12))
	}
	binary.NativeEndian.PutUint32(b[w:], 17)
	binary.NativeEndian.PutUint32(b[w+4:], 104)
	binary.NativeEndian.PutUint32(b[w+8:], 1442)
	if got := GROSegmentSize(b); got != 1442 {
		t.Errorf("segment size %d, want 1442", got)
	}
	for n := 0; n < len(b); n++ {
		GROSegmentSize(b[:n]) // must not panic
	}
}

// FuzzGROSegmentSize checks that no control-message buffer makes the
// UDP_GRO parser panic.
func FuzzGROSegmentSize(f *testing.F) {
	b := make([]byte, cmsgSegmentSpace)
	putSegmentCmsg(b, 1400)
	f.Add(b)
	f.Add([]byte{20, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 104, 0, 0, 0, 0x78, 5, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := GROSegmentSize(b); n < 0 && len(b) < unix.SizeofCmsghdr+4 {
			t.Fatalf("segment size %d from %d bytes", n, len(b))
		}
	})
}

// TestMessageDatagrams checks how a message is taken apart: a single
// datagram whole, a GRO run in segments of Seg bytes with a shorter last.
func TestMessageDatagrams(t *testing.T) {
	buf := make([]byte, 10)
	for _, tc := range []struct {
		seg  int
		want []int
	}{{0, []int{10}}, {4, []int{4, 4, 2}}, {5, []int{5, 5}}, {10, []int{10}}, {16, []int{10}}} {
		m := Message{Buf: buf, Seg: tc.seg}
		var got []int
		for one, rest := m.Datagram(m.Buf); len(one) > 0; one, rest = m.Datagram(rest) {
			got = append(got, len(one))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Seg %d: datagrams of %v bytes, want %v", tc.seg, got, tc.want)
		}
	}
}
