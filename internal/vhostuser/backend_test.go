//go:build linux

package vhostuser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/offload"
)

// testFrame returns a frame of n bytes, numbered i, of an EtherType
// nothing parses as IP.
func testFrame(i, n int) []byte {
	f := make([]byte, n)
	copy(f, []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5})
	for j := 14; j < n; j++ {
		f[j] = byte(i*31 + j)
	}
	return f
}

// tcpFrame returns an Ethernet/IPv4/TCP segment with payload bytes of data
// at sequence number seq, with valid checksums.
func tcpFrame(seq uint32, payload int) []byte {
	f := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, offload.ProtoTCP, 0, 0, 10, 1, 0, 1, 10, 1, 0, 2}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+payload))
	offload.PutCsum(ip[10:], offload.CsumAdd(0, ip))
	f = append(f, ip...)
	tcp := []byte{0xc0, 0x01, 0x00, 0x50, 0, 0, 0, 0, 0xa0, 0xb0, 0xc0, 0xd0, 0x50, 0x10, 0x01, 0xf5, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(tcp[4:], seq)
	f = append(f, tcp...)
	for i := range payload {
		f = append(f, byte(seq)+byte(i))
	}
	l4 := f[34:]
	offload.PutCsum(l4[16:], offload.CsumAdd(offload.PseudoHeaderSum(ip[12:16], ip[16:20], offload.ProtoTCP, len(l4)), l4))
	return f
}

// vnetHdr encodes a virtio-net header's first 10 bytes.
func vnetHdr(flags, gso uint8, hdrLen, gsoSize, csumStart, csumOffset uint16) []byte {
	h := []byte{flags, gso}
	for _, v := range []uint16{hdrLen, gsoSize, csumStart, csumOffset} {
		h = binary.LittleEndian.AppendUint16(h, v)
	}
	return h
}

// TestTxRx moves frames both ways through a negotiated frontend, with and
// without merged receive buffers and EVENT_IDX, and checks contents, the
// used entries and the calls.
func TestTxRx(t *testing.T) {
	base := uint64(FeatVersion1 | FeatProtocolFeats | FeatNetCsum | FeatNetGuestCsum)
	cases := []struct {
		name     string
		features uint64
		rxSize   int
		sizes    []int
	}{
		{"plain", base, 2048, []int{60, 64, 1400, 1514}},
		{"mrg", base | FeatNetMrgRxbuf, 1024, []int{60, 1000, 1514, 4000, 9000}},
		{"event-idx", base | FeatRingEventIdx, 2048, []int{60, 1514}},
		{"mrg-event-idx-indirect", base | FeatNetMrgRxbuf | FeatRingEventIdx | FeatRingIndirect, 512, []int{60, 1514, 9000}},
		{"legacy-header", FeatProtocolFeats, 2048, []int{60, 1514}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := New("test")
			c := collect(t, b)
			f := newFrontend(t, b)
			f.negotiate(tc.features)
			f.rxSize = tc.rxSize
			f.start()
			if got, _ := b.Features(); got != tc.features {
				t.Fatalf("features %#x, want %#x", got, tc.features)
			}

			// Guest to backend.
			var want [][]byte
			for i, n := range tc.sizes {
				fr := testFrame(i, n)
				want = append(want, fr)
				f.sendFrame(nil, fr)
			}
			f.publish(txQueue)
			got, drops := c.wait(t, len(want))
			if len(drops) > 0 {
				t.Fatalf("dropped: %v", drops)
			}
			equalFrames(t, got, want)
			if u := f.used(txQueue, nil); len(u) != len(want) {
				t.Errorf("%d used transmit entries, want %d", len(u), len(want))
			}
			waitCall(t, f, txQueue)

			// Backend to guest.
			f.postRx(0, 64)
			n, merged, nb, err := b.Write(want)
			if err != nil || n != len(want) || merged != 0 || nb != total(want) {
				t.Fatalf("Write: %d frames, %d merged, %d bytes, %v", n, merged, nb, err)
			}
			waitCall(t, f, rxQueue)
			rx := f.receive()
			var gotRx [][]byte
			for _, r := range rx {
				if !bytes.Equal(r.hdr[:10], make([]byte, 10)) {
					t.Errorf("header %x, want zeros", r.hdr)
				}
				gotRx = append(gotRx, r.frame)
			}
			equalFrames(t, gotRx, want)
			if err := f.disconnect(); err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}

func total(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

func equalFrames(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			d := 0
			for d < len(got[i]) && d < len(want[i]) && got[i][d] == want[i][d] {
				d++
			}
			t.Errorf("frame %d differs from byte %d", i, d)
			t.Errorf("frame %d: %d bytes %x..., want %d bytes %x...", i, len(got[i]), got[i][:min(20, len(got[i]))], len(want[i]), want[i][:min(20, len(want[i]))])
		}
	}
}

// waitCall waits for the backend's call on ring r.
func waitCall(t testing.TB, f *frontend, r int) {
	t.Helper()
	waitFor(t, "a call on ring "+strconv.Itoa(r), func() bool { return f.called(r) })
}

// TestTxOffloads: a guest TSO superframe comes out as MSS-sized frames
// with correct checksums; a frame with a partial checksum has it
// completed; a malformed GSO header is dropped and counted.
func TestTxOffloads(t *testing.T) {
	b := New("test")
	c := collect(t, b)
	f := newFrontend(t, b)
	f.negotiate(testFeatures)
	f.start()

	// A superframe of 3000 payload bytes, MSS 1000: the checksum field
	// holds the pseudo-header sum, as a guest leaves it.
	sf := tcpFrame(1000, 3000)
	l4 := sf[34:]
	l4[16], l4[17] = 0, 0
	offload.PutPartialCsum(l4[16:], offload.PseudoHeaderSum(sf[26:30], sf[30:34], offload.ProtoTCP, len(l4)))
	f.sendFrame(vnetHdr(offload.VnetFlagNeedsCsum, offload.VnetGSOTCPv4, 54, 1000, 34, 16), sf)
	// A single frame with a partial checksum.
	one := tcpFrame(7, 100)
	partial := append([]byte(nil), one...)
	l4 = partial[34:]
	l4[16], l4[17] = 0, 0
	offload.PutPartialCsum(l4[16:], offload.PseudoHeaderSum(partial[26:30], partial[30:34], offload.ProtoTCP, len(l4)))
	f.sendFrame(vnetHdr(offload.VnetFlagNeedsCsum, 0, 0, 0, 34, 16), partial)
	// GSO without a segment size.
	f.sendFrame(vnetHdr(offload.VnetFlagNeedsCsum, offload.VnetGSOTCPv4, 54, 0, 34, 16), sf)
	f.publish(txQueue)

	got, drops := c.wait(t, 5)
	want := [][]byte{tcpFrame(1000, 1000), tcpFrame(2000, 1000), tcpFrame(3000, 1000), one}
	// The splitter numbers IPv4 IDs on from the superframe's.
	for i := 1; i < 3; i++ {
		binary.BigEndian.PutUint16(want[i][18:], 0x1234+uint16(i))
		want[i][24], want[i][25] = 0, 0
		offload.PutCsum(want[i][24:], offload.CsumAdd(0, want[i][14:34]))
	}
	equalFrames(t, got, want)
	if len(drops) != 1 || !errors.Is(drops[0], offload.ErrBadGSO) {
		t.Errorf("drops %v, want one malformed offload frame", drops)
	}
	if sup, bad := b.ReadStats(); sup != 1 || bad != 1 {
		t.Errorf("ReadStats %d superframes, %d offload errors; want 1, 1", sup, bad)
	}
}

// TestRxCoalesce: with GUEST_CSUM and GUEST_TSO4 taken, a run of IPv4 TCP
// segments reaches the guest as one superframe with its GSO header and a
// partial checksum; without them (or with TSO for IPv6 only), frame by
// frame with zero headers.
func TestRxCoalesce(t *testing.T) {
	for _, tc := range []struct {
		name string
		feat uint64
		tso  bool // IPv4 superframes expected
	}{
		{"tso4-tso6", FeatNetGuestCsum | FeatNetGuestTSO4 | FeatNetGuestTSO6, true},
		{"tso4", FeatNetGuestCsum | FeatNetGuestTSO4, true},
		{"tso6-only", FeatNetGuestCsum | FeatNetGuestTSO6, false},
		{"tso-without-csum", FeatNetGuestTSO4 | FeatNetGuestTSO6, false},
		{"none", 0, false},
	} {
		tso := tc.tso
		t.Run(tc.name, func(t *testing.T) {
			b := New("test")
			f := newFrontend(t, b)
			feats := uint64(FeatVersion1|FeatProtocolFeats|FeatNetMrgRxbuf) | tc.feat
			f.negotiate(feats)
			f.start()
			f.postRx(0, 64)
			var segs [][]byte
			for i := range 8 {
				segs = append(segs, tcpFrame(uint32(1000+1400*i), 1400))
			}
			n, merged, _, err := b.Write(segs)
			if err != nil || n != 8 {
				t.Fatalf("Write: %d frames, %v", n, err)
			}
			rx := f.receive()
			if !tso {
				if merged != 0 || len(rx) != 8 {
					t.Fatalf("%d merged, %d guest frames; want 0, 8", merged, len(rx))
				}
				return
			}
			if merged != 7 || len(rx) != 1 {
				t.Fatalf("%d merged, %d guest frames; want 7, 1", merged, len(rx))
			}
			h := rx[0].hdr
			wantHdr := vnetHdr(offload.VnetFlagNeedsCsum, offload.VnetGSOTCPv4, 54, 1400, 34, 16)
			if !bytes.Equal(h[:10], wantHdr) {
				t.Errorf("header %x, want %x", h[:10], wantHdr)
			}
			if got := binary.LittleEndian.Uint16(h[10:]); int(got) != (len(rx[0].frame)+12+rxSlot-1)/rxSlot {
				t.Errorf("num_buffers %d for %d bytes in %d-byte buffers", got, len(rx[0].frame)+12, rxSlot)
			}
			if len(rx[0].frame) != 54+8*1400 {
				t.Errorf("superframe of %d bytes, want %d", len(rx[0].frame), 54+8*1400)
			}
		})
	}
}

// TestRxNoBuffers: frames beyond the posted buffers are refused with
// ErrNoBuffers, nothing published for them; before any frontend,
// ErrNoFrontend.
func TestRxNoBuffers(t *testing.T) {
	b := New("test")
	if _, _, _, err := b.Write([][]byte{testFrame(0, 60)}); !errors.Is(err, ErrNoFrontend) {
		t.Fatalf("Write without a frontend: %v", err)
	}
	f := newFrontend(t, b)
	f.negotiate(FeatVersion1 | FeatProtocolFeats)
	f.start()
	f.rxSize = 2048
	f.postRx(0, 2)
	frames := [][]byte{testFrame(0, 60), testFrame(1, 60), testFrame(2, 60), testFrame(3, 60)}
	n, _, _, err := b.Write(frames)
	if n != 2 || !errors.Is(err, ErrNoBuffers) {
		t.Fatalf("Write: %d, %v; want 2, ErrNoBuffers", n, err)
	}
	// A frame larger than a buffer without MRG_RXBUF.
	f.postRx(2, 1)
	if n, _, _, err := b.Write([][]byte{testFrame(0, 3000)}); n != 0 || !errors.Is(err, ErrNoBuffers) {
		t.Fatalf("Write of a frame larger than the buffers: %d, %v", n, err)
	}
	if rx := f.receive(); len(rx) != 2 {
		t.Errorf("guest got %d frames, want 2", len(rx))
	}
}

// TestReconnect: a listening backend serves a frontend, which goes away
// (memory unmapped, rings reset), and then a second one, without being
// restarted; ReadLoop carries on across.
func TestReconnect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vhost.sock")
	b, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, b)
	for round := range 3 {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		uc := conn.(*net.UnixConn)
		raw, _ := uc.File()
		uc.Close()
		f := newFrontendOn(t, b, int(raw.Fd()))
		raw.Close()
		f.negotiate(testFeatures)
		f.start()
		for i := range 10 {
			f.sendFrame(nil, testFrame(round*10+i, 100+i))
		}
		f.publish(txQueue)
		got, _ := c.wait(t, 10)
		if len(got) != 10 || !bytes.Equal(got[9], testFrame(round*10+9, 109)) {
			t.Fatalf("round %d: %d frames", round, len(got))
		}
		f.postRx(0, 8)
		if n, _, _, err := b.Write([][]byte{testFrame(1, 60)}); n != 1 || err != nil {
			t.Fatalf("round %d: Write %d, %v", round, n, err)
		}
		unixClose(f)
		waitFor(t, "the connection's end", func() bool {
			b.lockQueues()
			defer b.unlockQueues()
			return b.mem.n == 0 && b.q[0].kick == nil && b.q[1].kick == nil && b.q[0].call < 0
		})
		if _, _, _, err := b.Write([][]byte{testFrame(1, 60)}); !errors.Is(err, ErrNoFrontend) {
			t.Fatalf("round %d: Write after disconnect: %v", round, err)
		}
	}
	if s := b.Stats(); s.Connections != 3 || s.FrontendErrors != 0 {
		t.Errorf("stats %+v, want 3 connections, no errors", s)
	}
}

// waitFor polls cond every millisecond until it holds; after 10 s it
// fails t, naming what it waited for.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAddrBeforeMemTable: ring addresses sent before the memory table are
// resolved when it comes; a memory table sent again while the rings run
// (as on memory hotplug) is mapped afresh and the rings go on.
func TestAddrBeforeMemTable(t *testing.T) {
	b := New("test")
	c := collect(t, b)
	f := newFrontend(t, b)
	f.negotiate(testFeatures)
	for r := range 2 {
		d, a, u := ringAt(r)
		f.do(ReqSetVringNum, state(uint32(r), ringNum))
		f.do(ReqSetVringAddr, vringAddr(r, userBase+uint64(d), userBase+uint64(u), userBase+uint64(a)))
	}
	f.do(ReqSetMemTable, memTablePayload(Region{GuestAddr: guestBase, Size: memSize, UserAddr: userBase}), f.memfd)
	for r := range 2 {
		f.do(ReqSetVringCall, u64(uint64(r)), f.call[r])
		f.do(ReqSetVringKick, u64(uint64(r)), f.kick[r])
		f.do(ReqSetVringEnable, state(uint32(r), 1))
	}
	f.sendFrame(nil, testFrame(1, 100))
	f.publish(txQueue)
	if got, _ := c.wait(t, 1); len(got) != 1 {
		t.Fatalf("%d frames", len(got))
	}
	f.do(ReqSetMemTable, memTablePayload(Region{GuestAddr: guestBase, Size: memSize, UserAddr: userBase}), f.memfd)
	f.sendFrame(nil, testFrame(2, 200))
	f.publish(txQueue)
	if got, _ := c.wait(t, 1); len(got) != 1 || !bytes.Equal(got[0], testFrame(2, 200)) {
		t.Fatalf("after the new table: %d frames", len(got))
	}
	// GET_VRING_BASE stops the ring and returns where it stands.
	if err := f.send(ReqGetVringBase, 0, state(txQueue, 0)); err != nil {
		t.Fatal(err)
	}
	p, err := f.reply(ReqGetVringBase)
	if err != nil || binary.NativeEndian.Uint32(p[4:]) != 2 {
		t.Fatalf("GET_VRING_BASE: %x, %v; want base 2", p, err)
	}
	f.sendFrame(nil, testFrame(3, 300))
	f.publish(txQueue)
	if err := f.disconnect(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.frames) != 0 {
		t.Errorf("%d frames read from a stopped ring", len(c.frames))
	}
}
