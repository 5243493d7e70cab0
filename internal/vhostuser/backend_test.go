//go:build linux

package vhostuser

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/offload"
	"golang.org/x/sys/unix"
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
// ErrNoFrontend. Stats counts each refused frame under its reason.
func TestRxNoBuffers(t *testing.T) {
	b := New("test")
	checkRefused := func(step string, noBuffers, noFrontend uint64) {
		t.Helper()
		if s := b.Stats(); s.NoBuffers != noBuffers || s.NoFrontend != noFrontend {
			t.Errorf("%s: %d frames refused for want of buffers, %d of a frontend; want %d, %d", step, s.NoBuffers, s.NoFrontend, noBuffers, noFrontend)
		}
	}
	three := [][]byte{testFrame(0, 60), testFrame(1, 1514), testFrame(2, 60)}
	if _, _, _, err := b.Write(three); !errors.Is(err, ErrNoFrontend) {
		t.Fatalf("Write without a frontend: %v", err)
	}
	checkRefused("no frontend", 0, 3)
	f := newFrontend(t, b)
	f.negotiate(FeatVersion1 | FeatProtocolFeats)
	f.start()
	f.rxSize = 2048
	// Started, no receive buffer posted yet.
	if n, _, _, err := b.Write(three); n != 0 || !errors.Is(err, ErrNoBuffers) {
		t.Fatalf("Write before any receive buffer: %d, %v; want 0, ErrNoBuffers", n, err)
	}
	checkRefused("no receive buffers posted", 3, 3)
	f.postRx(0, 2)
	frames := [][]byte{testFrame(0, 60), testFrame(1, 60), testFrame(2, 60), testFrame(3, 60)}
	n, _, _, err := b.Write(frames)
	if n != 2 || !errors.Is(err, ErrNoBuffers) {
		t.Fatalf("Write: %d, %v; want 2, ErrNoBuffers", n, err)
	}
	checkRefused("two buffers for four frames", 5, 3)
	// A frame larger than a buffer without MRG_RXBUF.
	f.postRx(2, 1)
	if n, _, _, err := b.Write([][]byte{testFrame(0, 3000)}); n != 0 || !errors.Is(err, ErrNoBuffers) {
		t.Fatalf("Write of a frame larger than the buffers: %d, %v", n, err)
	}
	checkRefused("a frame larger than the buffer", 6, 3)
	if rx := f.receive(); len(rx) != 2 {
		t.Errorf("guest got %d frames, want 2", len(rx))
	}
	if err := f.disconnect(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.Write(frames[:2]); !errors.Is(err, ErrNoFrontend) {
		t.Fatalf("Write after the frontend left: %v", err)
	}
	checkRefused("after the frontend left", 6, 5)
}

// TestReconnect: a listening backend serves a frontend, which goes away
// (memory unmapped, rings reset), and then a second one, without being
// restarted; ReadLoop carries on across.
func TestReconnect(t *testing.T) {
	b, path := listening(t)
	c := collect(t, b)
	for round := range 3 {
		f := dialFrontend(t, b, path)
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

// listening returns a backend listening on a socket in a fresh
// directory, and the socket's path.
func listening(t *testing.T) (*Backend, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vhost.sock")
	b, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, path
}

// dialFrontend connects a fake frontend to the backend listening at path.
func dialFrontend(t *testing.T, b *Backend, path string) *frontend {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := conn.(*net.UnixConn).File()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	f := newFrontendOn(t, b, int(raw.Fd()))
	raw.Close()
	return f
}

// TestSecondFrontendRefused: while one frontend is served, a second one
// that connects is disconnected at once (it reads EOF or a reset, before
// sending anything or after), counted and logged, and the first goes on
// moving frames both ways; once the first is gone, the next is served.
func TestSecondFrontendRefused(t *testing.T) {
	b, path := listening(t)
	c := collect(t, b)
	first := dialFrontend(t, b, path)
	first.negotiate(testFeatures)
	first.start()

	for i, sendFirst := range []bool{false, true} {
		second := dialFrontend(t, b, path)
		start := time.Now()
		if sendFirst {
			// As QEMU does: GET_FEATURES at once. The send may already
			// meet the closed connection.
			second.send(ReqGetFeatures, 0, nil)
		}
		var buf [HeaderLen]byte
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Read(second.sock, buf[:]); return err }) // SO_RCVTIMEO: 10 s
		if n > 0 || (err != nil && err != unix.ECONNRESET) {
			t.Fatalf("second frontend %d: read %d bytes, %v; want EOF or a reset", i, n, err)
		}
		t.Logf("second frontend %d refused after %v (%v)", i, time.Since(start).Round(time.Millisecond), err)
		unixClose(second)
		if s := b.Stats(); s.Refused != uint64(i+1) || s.Connections != 1 {
			t.Fatalf("second frontend %d: %d refused, %d served; want %d, 1", i, s.Refused, s.Connections, i+1)
		}
	}

	// The first is undisturbed, both ways.
	for i := range 4 {
		first.sendFrame(nil, testFrame(i, 100+i))
	}
	first.publish(txQueue)
	got, drops := c.wait(t, 4)
	if len(drops) != 0 || len(got) != 4 || !bytes.Equal(got[3], testFrame(3, 103)) {
		t.Fatalf("the first frontend after the refusals: %d frames, drops %v", len(got), drops)
	}
	first.postRx(0, 4)
	if n, _, _, err := b.Write([][]byte{testFrame(7, 60), testFrame(8, 1514)}); n != 2 || err != nil {
		t.Fatalf("Write to the first frontend after the refusals: %d, %v", n, err)
	}
	if rx := first.receive(); len(rx) != 2 || !bytes.Equal(rx[1].frame, testFrame(8, 1514)) {
		t.Fatalf("the first frontend received %d frames", len(rx))
	}

	// Gone, it leaves the place to the next.
	unixClose(first)
	next := dialFrontend(t, b, path)
	next.negotiate(testFeatures)
	if s := b.Stats(); s.Connections != 2 || s.Refused != 2 || s.FrontendErrors != 0 {
		t.Errorf("stats %+v, want 2 served, 2 refused, no errors", s)
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

// msgCounter is a log handler counting the records whose message is msg.
type msgCounter struct {
	msg string
	n   atomic.Int64
}

func (c *msgCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *msgCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *msgCounter) WithGroup(string) slog.Handler            { return c }

func (c *msgCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.n.Add(1)
	}
	return nil
}

// TestNetMTU: the MTU feature and NET_MTU are offered; NET_SET_MTU with
// NET_MTU negotiated takes any MTU from 68 to 65535 with a success code,
// the session's silently and another with one log line per connection
// however often it comes, sent before SET_FEATURES as QEMU does; an
// invalid one, or one without NET_MTU, gets a failure code and the
// connection goes on (without REPLY_ACK it ends the connection, a
// frontend error).
func TestNetMTU(t *testing.T) {
	if Offered&FeatNetMTU == 0 || OfferedProtocol&ProtoFeatNetMTU == 0 {
		t.Fatalf("offered %v, protocol %#x: want MTU and NET_MTU", FeatureNames(Offered), OfferedProtocol)
	}
	const sessionMTU = 1450
	withMTU := uint64(testFeatures | FeatNetMTU)
	both := uint64(ProtoFeatReplyAck | ProtoFeatNetMTU)
	for _, tc := range []struct {
		name               string
		features, protocol uint64
		mtus               []uint64 // sent in turn
		ok                 bool     // success codes
		want               int      // FrontendMTU afterwards
		logs               int      // lines about another MTU
	}{
		{"session-mtu", withMTU, both, []uint64{sessionMTU, sessionMTU}, true, sessionMTU, 0},
		{"another-mtu", withMTU, both, []uint64{9000, 9000, 1500}, true, 1500, 1},
		{"least", withMTU, both, []uint64{68}, true, 68, 1},
		{"most", withMTU, both, []uint64{65535}, true, 65535, 1},
		{"too-small", withMTU, both, []uint64{67}, false, 0, 0},
		{"zero", withMTU, both, []uint64{0}, false, 0, 0},
		{"too-large", withMTU, both, []uint64{65536}, false, 0, 0},
		{"huge", withMTU, both, []uint64{1 << 40}, false, 0, 0},
		{"guest-without-mtu-feature", testFeatures, both, []uint64{sessionMTU}, true, sessionMTU, 0},
		{"net-mtu-not-taken", withMTU, ProtoFeatReplyAck, []uint64{sessionMTU}, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &msgCounter{msg: "vhost-user frontend gave the guest another MTU than the session's; give its NIC host_mtu as printed"}
			b := New("test")
			b.log = slog.New(logs)
			b.SetMTU(sessionMTU)
			f := newFrontend(t, b)
			f.negotiateWith(tc.features, tc.protocol, func() {
				for _, mtu := range tc.mtus {
					if err := f.send(ReqNetSetMTU, flagNeedReply, u64(mtu)); err != nil {
						t.Fatal(err)
					}
					p, err := f.reply(ReqNetSetMTU)
					if err != nil || len(p) != 8 {
						t.Fatalf("MTU %d: reply %x, %v", mtu, p, err)
					}
					if ok := binary.NativeEndian.Uint64(p) == 0; ok != tc.ok {
						t.Errorf("MTU %d: ack %x, want success %v", mtu, p, tc.ok)
					}
				}
			})
			if got := b.FrontendMTU(); got != tc.want {
				t.Errorf("FrontendMTU %d, want %d", got, tc.want)
			}
			if n := logs.n.Load(); n != int64(tc.logs) {
				t.Errorf("%d log lines about another MTU, want %d", n, tc.logs)
			}
			f.start() // the connection goes on
			if err := f.disconnect(); err != nil {
				t.Errorf("Serve: %v", err)
			}
			if s := b.Stats(); s.FrontendErrors != 0 {
				t.Errorf("FrontendErrors %d, want 0", s.FrontendErrors)
			}
			if got := b.FrontendMTU(); got != 0 {
				t.Errorf("FrontendMTU %d after the frontend left, want 0", got)
			}
		})
	}
	// Without REPLY_ACK a valid MTU is taken silently and an invalid one
	// ends the connection.
	for _, tc := range []struct {
		mtu uint64
		ok  bool
	}{{sessionMTU, true}, {0, false}} {
		b := New("test")
		b.SetMTU(sessionMTU)
		f := newFrontend(t, b)
		f.negotiateWith(withMTU, ProtoFeatNetMTU, nil)
		if err := f.send(ReqNetSetMTU, 0, u64(tc.mtu)); err != nil {
			t.Fatal(err)
		}
		if tc.ok {
			waitFor(t, "the MTU", func() bool { return b.FrontendMTU() == int(tc.mtu) })
			if err := f.disconnect(); err != nil {
				t.Errorf("MTU %d without REPLY_ACK: Serve %v", tc.mtu, err)
			}
			continue
		}
		if err := f.wait(); !errors.Is(err, ErrFrontend) {
			t.Errorf("MTU %d without REPLY_ACK: Serve %v, want a frontend error", tc.mtu, err)
		}
		if s := b.Stats(); s.FrontendErrors != 1 {
			t.Errorf("MTU %d without REPLY_ACK: FrontendErrors %d, want 1", tc.mtu, s.FrontendErrors)
		}
	}
}
