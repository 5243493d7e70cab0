package l2tpv3

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// headersJSON is embedded rather than read, so that the test binary finds
// it from any working directory (make cross runs it from the module's).
//
//go:embed testdata/headers.json
var headersJSON []byte

// headerVectors are the golden data headers of testdata/headers.json,
// written by hand from RFC 3931 (see the file's "about"). Headers: the
// bytes a peer puts on the wire for each option combination. SplitCookies:
// sessions whose cookie differs in each direction, Tx what the session
// sends, Rx what it accepts.
type headerVectors struct {
	Headers []struct {
		Name   string
		Header Header
		Seq    uint32
		Wire   string
	} `json:"headers"`
	SplitCookies []struct {
		Name   string
		Header Header
		Tx, Rx string
	} `json:"split_cookies"`
}

func loadHeaderVectors(t testing.TB) headerVectors {
	t.Helper()
	var v headerVectors
	if err := json.Unmarshal(headersJSON, &v); err != nil {
		t.Fatalf("headers.json: %v", err)
	}
	if len(v.Headers) == 0 || len(v.SplitCookies) == 0 {
		t.Fatalf("headers.json: %d headers, %d split cookies: want some of each", len(v.Headers), len(v.SplitCookies))
	}
	return v
}

// ethFrame is a 60-byte Ethernet frame: broadcast ARP-like, arbitrary body.
var ethFrame = func() []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06})
	for i := 14; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}()

// TestHeaderEncodeGolden checks that Encode writes each golden header,
// over stale bytes, and that TxLen counts it.
func TestHeaderEncodeGolden(t *testing.T) {
	for _, tc := range loadHeaderVectors(t).Headers {
		t.Run(tc.Name, func(t *testing.T) {
			want := unhex(t, tc.Wire)
			if got := tc.Header.TxLen(); got != len(want) {
				t.Fatalf("TxLen() = %d, want %d", got, len(want))
			}
			buf := bytes.Repeat([]byte{0xaa}, MaxHeaderLen)
			n := tc.Header.Encode(buf, tc.Seq)
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("Encode = % x, want % x", buf[:n], want)
			}
		})
	}
}

// TestHeaderDecodeGolden checks that Decode takes each golden header off a
// frame, with the sequence number of the counter sublayer.
func TestHeaderDecodeGolden(t *testing.T) {
	for _, tc := range loadHeaderVectors(t).Headers {
		t.Run(tc.Name, func(t *testing.T) {
			h := tc.Header
			h.RxSession, h.RxCookie = h.TxSession, h.TxCookie
			var d Decoded
			if why := h.Decode(append(unhex(t, tc.Wire), ethFrame...), &d); why != DropNone {
				t.Fatalf("Decode: dropped: %v", why)
			}
			if !bytes.Equal(d.Frame, ethFrame) {
				t.Fatalf("frame = % x, want % x", d.Frame, ethFrame)
			}
			wantSeq := h.Sublayer == SublayerCounter
			if d.HasSeq != wantSeq || (wantSeq && d.Seq != tc.Seq&SeqMask) {
				t.Fatalf("seq = %v/%#x, want %v/%#x", d.HasSeq, d.Seq, wantSeq, tc.Seq&SeqMask)
			}
		})
	}
}

// TestHeaderSplitCookieGolden checks the sessions whose cookie differs in
// each direction: each direction's length and bytes, and that the transmit
// layout under the receive session ID never yields the frame.
func TestHeaderSplitCookieGolden(t *testing.T) {
	for _, tc := range loadHeaderVectors(t).SplitCookies {
		t.Run(tc.Name, func(t *testing.T) {
			tx, rx := unhex(t, tc.Tx), unhex(t, tc.Rx)
			if got := tc.Header.TxLen(); got != len(tx) {
				t.Errorf("TxLen() = %d, want %d", got, len(tx))
			}
			if got := tc.Header.RxLen(); got != len(rx) {
				t.Errorf("RxLen() = %d, want %d", got, len(rx))
			}
			if got, want := tc.Header.Len(), max(len(tx), len(rx)); got != want {
				t.Errorf("Len() = %d, want %d (the larger direction, for the MTU)", got, want)
			}
			buf := bytes.Repeat([]byte{0xaa}, MaxHeaderLen)
			if n := tc.Header.Encode(buf, 0); !bytes.Equal(buf[:n], tx) {
				t.Errorf("Encode = % x, want % x", buf[:n], tx)
			}
			var d Decoded
			if why := tc.Header.Decode(append(rx, ethFrame...), &d); why != DropNone || !bytes.Equal(d.Frame, ethFrame) {
				t.Fatalf("Decode of the expected packet: %v, frame % x", why, d.Frame)
			}
			// The transmit layout under the receive session ID (a peer
			// configured with our cookies the wrong way round) never
			// yields the frame.
			mirror := append(unhex(t, tc.Tx), ethFrame...)
			idEnd := 4
			if tc.Header.UDP {
				idEnd = 8
			}
			copy(mirror, rx[:idEnd])
			if why := tc.Header.Decode(mirror, &d); why == DropNone && bytes.Equal(d.Frame, ethFrame) {
				t.Errorf("Decode accepted the transmit layout % x", mirror[:tc.Header.TxLen()])
			}
		})
	}
}

// TestHeaderDecodeRejects checks that Decode refuses each malformed or
// foreign packet with the reason its drop is counted under.
func TestHeaderDecodeRejects(t *testing.T) {
	udp := Header{UDP: true, RxSession: 1, TxCookieLen: 4, RxCookieLen: 4, RxCookie: 0xdeadbeef, Sublayer: SublayerCounter}
	ip := Header{RxSession: 1, TxCookieLen: 8, RxCookieLen: 8, RxCookie: 0x0102030405060708}
	rxOnly := Header{UDP: true, RxSession: 1, RxCookieLen: 4, RxCookie: 0x11223344}
	tx32rx64 := Header{RxSession: 2, TxCookieLen: 4, TxCookie: 0x00112233, RxCookieLen: 8, RxCookie: 0x0011223344556677}
	tx64rx32 := Header{RxSession: 2, TxCookieLen: 8, TxCookie: 0x8899aabbccddeeff, RxCookieLen: 4, RxCookie: 0xcafef00d}
	frame := hex.EncodeToString(ethFrame)
	cases := []struct {
		name string
		h    Header
		pkt  string
		want Reason
	}{
		{"empty", udp, "", DropShort},
		{"udp-short-word", udp, "000300", DropShort},
		{"control-T-bit", udp, "c8030000 00000001 deadbeef 40000001" + frame, DropControl},
		{"version-2", udp, "00020000 00000001 deadbeef 40000001" + frame, DropVersion},
		{"udp-session-0", udp, "00030000 00000000 deadbeef 40000001" + frame, DropControl},
		{"udp-wrong-session", udp, "00030000 00000002 deadbeef 40000001" + frame, DropSession},
		{"udp-wrong-cookie", udp, "00030000 00000001 deadbeee 40000001" + frame, DropCookie},
		{"udp-no-ethernet", udp, "00030000 00000001 deadbeef 40000001 ffffffffffff", DropShort},
		{"ip-control", ip, "00000000 0102030405060708" + frame, DropControl},
		{"ip-wrong-session", ip, "00000005 0102030405060708" + frame, DropSession},
		{"ip-wrong-cookie", ip, "00000001 0102030405060709" + frame, DropCookie},
		{"ip-cookie-32-of-64", ip, "00000001 01020304" + frame[:20], DropShort},
		{"ip-short", ip, "000000", DropShort},
		// Only a receive cookie: a packet without one is refused (its
		// first frame bytes are not the cookie).
		{"rx-only-missing", rxOnly, "00030000 00000001" + frame, DropCookie},
		{"rx-only-wrong", rxOnly, "00030000 00000001 11223345" + frame, DropCookie},
		// 64 bits expected, 32 sent: the cookie is read across the frame.
		{"rx64-got-32", tx32rx64, "00000002 00112233" + frame, DropCookie},
		{"rx64-got-32-short", tx32rx64, "00000002 00112233" + frame[:20], DropShort},
		// 32 bits expected, 64 sent: the last 4 cookie bytes are taken
		// for the frame, which is then delivered mangled, as Linux does;
		// here the first 4 bytes differ, so it is refused.
		{"rx32-got-64", tx64rx32, "00000002 8899aabbccddeeff" + frame, DropCookie},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoded
			if got := tc.h.Decode(unhex(t, tc.pkt), &d); got != tc.want {
				t.Fatalf("Decode = %v (%d), want %v (%d)", got, got, tc.want, tc.want)
			}
		})
	}
}

// TestHeaderDecodeSublayerReserved checks that, as in Linux, a sublayer with
// reserved bits set is accepted, flagged, and read for its S bit only:
// QEMU's counter=on writes a plain 32-bit count there, and a peer that
// sends no sublayer puts the start of its frame there.
func TestHeaderDecodeSublayerReserved(t *testing.T) {
	h := Header{UDP: true, RxSession: 1, Sublayer: SublayerCounter}
	cases := []struct {
		name     string
		word     string
		reserved bool
		hasSeq   bool
		seq      uint32
	}{
		{"clean-seq", "40000005", false, true, 5},
		{"clean-zero", "00000000", false, false, 0},
		{"qemu-counter-2^24", "01000000", true, false, 0},
		{"qemu-counter-2^24+7", "01000007", true, false, 0},
		{"qemu-counter-2^30+9", "40000009", false, true, 9},
		{"qemu-counter-2^31+9", "c0000009", true, true, 9},
		{"no-sublayer-broadcast-mac", "ffffffff", true, true, 0xffffff},
		{"no-sublayer-local-mac", "02aabbcc", true, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoded
			pkt := unhex(t, "00030000 00000001"+tc.word+hex.EncodeToString(ethFrame))
			if why := h.Decode(pkt, &d); why != DropNone {
				t.Fatalf("dropped: %v", why)
			}
			if d.Reserved != tc.reserved || d.HasSeq != tc.hasSeq || d.Seq != tc.seq {
				t.Fatalf("reserved %v seq %v/%#x, want %v %v/%#x", d.Reserved, d.HasSeq, d.Seq, tc.reserved, tc.hasSeq, tc.seq)
			}
			if !bytes.Equal(d.Frame, ethFrame) {
				t.Fatal("frame changed")
			}
		})
	}
}

// fuzzHeaders are the receive configurations the decoder is fuzzed under.
var fuzzHeaders = []Header{
	{UDP: true, RxSession: 1},
	{UDP: true, RxSession: 1, TxCookieLen: 4, RxCookieLen: 4, RxCookie: 0xdeadbeef, Sublayer: SublayerCounter},
	{RxSession: 1, TxCookieLen: 8, RxCookieLen: 8, RxCookie: 0x0102030405060708, Sublayer: SublayerPinned, Offset: 3},
	{RxSession: 0x11223344},
	{UDP: true, RxSession: 2, TxCookieLen: 4, RxCookieLen: 8, RxCookie: 0x0011223344556677},
	{RxSession: 2, TxCookieLen: 8, RxCookieLen: 0, Sublayer: SublayerCounter},
}

// FuzzDecode checks that Header.Decode never panics and that whatever it accepts is
// consistent: a frame of at least an Ethernet header, right after the header.
func FuzzDecode(f *testing.F) {
	v := loadHeaderVectors(f)
	for _, tc := range v.Headers {
		f.Add(append(unhex(f, tc.Wire), ethFrame...), uint8(0))
	}
	for _, tc := range v.SplitCookies {
		f.Add(append(unhex(f, tc.Rx), ethFrame...), uint8(4))
	}
	f.Add([]byte{0, 3, 0, 0, 0, 0, 0, 1}, uint8(0))
	f.Fuzz(func(t *testing.T, pkt []byte, which uint8) {
		h := fuzzHeaders[int(which)%len(fuzzHeaders)]
		var d Decoded
		if h.Decode(pkt, &d) != DropNone {
			return
		}
		if len(d.Frame) < EthHeaderLen {
			t.Fatalf("accepted a %d-byte frame", len(d.Frame))
		}
		if len(pkt)-len(d.Frame) != h.RxLen() {
			t.Fatalf("frame starts at %d, receive header is %d bytes", len(pkt)-len(d.Frame), h.RxLen())
		}
	})
}

// FuzzRoundTrip checks that any frame encoded under any option set decodes
// back to itself with the same sequence number.
func FuzzRoundTrip(f *testing.F) {
	f.Add(true, uint32(1), uint8(1), uint64(0xdeadbeef), uint8(2), uint8(0), uint32(7), ethFrame)
	f.Add(false, uint32(0xffffffff), uint8(2), uint64(1<<63), uint8(1), uint8(9), uint32(0), ethFrame)
	f.Fuzz(func(t *testing.T, udp bool, session uint32, cookie uint8, ck uint64, sub uint8, offset uint8, seq uint32, frame []byte) {
		if session == 0 || len(frame) < EthHeaderLen {
			return
		}
		// One end's transmit side is the other's receive side.
		h := Header{UDP: udp, TxSession: session, RxSession: session, Sublayer: Sublayer(sub % 3), Offset: int(offset)}
		h.TxCookieLen = []int{0, 4, 8}[cookie%3]
		if h.TxCookieLen == 4 {
			ck &= 0xffffffff
		}
		h.RxCookieLen = h.TxCookieLen
		h.TxCookie, h.RxCookie = ck, ck
		pkt := make([]byte, h.TxLen()+len(frame))
		n := h.Encode(pkt, seq)
		copy(pkt[n:], frame)
		var d Decoded
		if why := h.Decode(pkt, &d); why != DropNone {
			t.Fatalf("own packet dropped: %v", why)
		}
		if !bytes.Equal(d.Frame, frame) {
			t.Fatal("frame changed")
		}
		if (h.Sublayer == SublayerCounter) != d.HasSeq || (d.HasSeq && d.Seq != seq&SeqMask) {
			t.Fatalf("seq %v/%#x from %#x", d.HasSeq, d.Seq, seq)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	h := Header{UDP: true, TxSession: 1, TxCookieLen: 8, RxCookieLen: 8, TxCookie: 42, Sublayer: SublayerCounter}
	buf := make([]byte, 1514+h.Len())
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		h.Encode(buf, uint32(i))
	}
}

func BenchmarkDecode(b *testing.B) {
	h := Header{UDP: true, TxSession: 1, RxSession: 1, TxCookieLen: 8, RxCookieLen: 8, TxCookie: 42, RxCookie: 42, Sublayer: SublayerCounter}
	pkt := make([]byte, 1514+h.Len())
	h.Encode(pkt, 1)
	var d Decoded
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if h.Decode(pkt, &d) != DropNone {
			b.Fatal("dropped")
		}
	}
}
