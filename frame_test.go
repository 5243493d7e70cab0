package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes hex with spaces for readability.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testFrame is a 60-byte Ethernet frame: broadcast ARP-like, arbitrary body.
var testFrame = func() []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06})
	for i := 14; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}()

// headerCases hold, for each option combination, the header bytes a peer
// puts on the wire. They were written from RFC 3931 §4.1 and §4.6, not
// produced by Encode.
var headerCases = []struct {
	name string
	h    Header
	seq  uint32
	wire string
}{
	{"udp", Header{UDP: true, TxSession: 0x11223344}, 0,
		"00030000 11223344"},
	{"udp-cookie32", Header{UDP: true, TxSession: 1, CookieLen: 4, TxCookie: 0xdeadbeef}, 0,
		"00030000 00000001 deadbeef"},
	{"udp-cookie64", Header{UDP: true, TxSession: 1, CookieLen: 8, TxCookie: 0x0102030405060708}, 0,
		"00030000 00000001 0102030405060708"},
	{"udp-cookie32-counter", Header{UDP: true, TxSession: 1, CookieLen: 4, TxCookie: 0xdeadbeef, Sublayer: SublayerCounter}, 5,
		"00030000 00000001 deadbeef 40000005"},
	{"udp-counter-wraps-24bit", Header{UDP: true, TxSession: 2, Sublayer: SublayerCounter}, 0x01000003,
		"00030000 00000002 40000003"},
	{"udp-pincounter", Header{UDP: true, TxSession: 2, Sublayer: SublayerPinned}, 77,
		"00030000 00000002 00000000"},
	{"udp-offset", Header{UDP: true, TxSession: 7, Sublayer: SublayerPinned, Offset: 2}, 0,
		"00030000 00000007 00000000 0000"},
	{"ip", Header{TxSession: 9}, 0,
		"00000009"},
	{"ip-cookie32", Header{TxSession: 0xffffffff, CookieLen: 4, TxCookie: 0xcafe}, 0,
		"ffffffff 0000cafe"},
	{"ip-cookie64-pincounter", Header{TxSession: 1, CookieLen: 8, TxCookie: 0x0102030405060708, Sublayer: SublayerPinned}, 0,
		"00000001 0102030405060708 00000000"},
	{"ip-counter", Header{TxSession: 9, Sublayer: SublayerCounter}, 0xffffff,
		"00000009 40ffffff"},
	{"ip-cookie64-counter-offset", Header{TxSession: 3, CookieLen: 8, TxCookie: 0xffffffffffffffff, Sublayer: SublayerCounter, Offset: 4}, 1,
		"00000003 ffffffffffffffff 40000001 00000000"},
}

func TestEncodeGolden(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.wire)
			if got := tc.h.Len(); got != len(want) {
				t.Fatalf("Len() = %d, want %d", got, len(want))
			}
			buf := bytes.Repeat([]byte{0xaa}, maxHeaderLen) // stale bytes must be overwritten
			n := tc.h.Encode(buf, tc.seq)
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("Encode = % x, want % x", buf[:n], want)
			}
		})
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.RxSession, h.RxCookie = h.TxSession, h.TxCookie
			pkt := append(unhex(t, tc.wire), testFrame...)
			var d Decoded
			if why := h.Decode(pkt, &d); why != DropNone {
				t.Fatalf("Decode: dropped: %v", why)
			}
			if !bytes.Equal(d.Frame, testFrame) {
				t.Fatalf("frame = % x, want % x", d.Frame, testFrame)
			}
			wantSeq := h.Sublayer == SublayerCounter
			if d.HasSeq != wantSeq || (wantSeq && d.Seq != tc.seq&seqMask) {
				t.Fatalf("seq = %v/%#x, want %v/%#x", d.HasSeq, d.Seq, wantSeq, tc.seq&seqMask)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	udp := Header{UDP: true, RxSession: 1, CookieLen: 4, RxCookie: 0xdeadbeef, Sublayer: SublayerCounter}
	ip := Header{RxSession: 1, CookieLen: 8, RxCookie: 0x0102030405060708}
	frame := hex.EncodeToString(testFrame)
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

// TestDecodeSublayerReserved checks that, as in Linux, a sublayer with
// reserved bits set is accepted, flagged, and read for its S bit only:
// QEMU's counter=on writes a plain 32-bit count there, and a peer that
// sends no sublayer puts the start of its frame there.
func TestDecodeSublayerReserved(t *testing.T) {
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
			pkt := unhex(t, "00030000 00000001"+tc.word+hex.EncodeToString(testFrame))
			if why := h.Decode(pkt, &d); why != DropNone {
				t.Fatalf("dropped: %v", why)
			}
			if d.Reserved != tc.reserved || d.HasSeq != tc.hasSeq || d.Seq != tc.seq {
				t.Fatalf("reserved %v seq %v/%#x, want %v %v/%#x", d.Reserved, d.HasSeq, d.Seq, tc.reserved, tc.hasSeq, tc.seq)
			}
			if !bytes.Equal(d.Frame, testFrame) {
				t.Fatal("frame changed")
			}
		})
	}
}

// fuzzHeaders are the receive configurations the decoder is fuzzed under.
var fuzzHeaders = []Header{
	{UDP: true, RxSession: 1},
	{UDP: true, RxSession: 1, CookieLen: 4, RxCookie: 0xdeadbeef, Sublayer: SublayerCounter},
	{RxSession: 1, CookieLen: 8, RxCookie: 0x0102030405060708, Sublayer: SublayerPinned, Offset: 3},
	{RxSession: 0x11223344},
}

// FuzzDecode checks that Decode never panics and that whatever it accepts is
// consistent: a frame of at least an Ethernet header, right after the header.
func FuzzDecode(f *testing.F) {
	for _, tc := range headerCases {
		f.Add(append(unhex(f, tc.wire), testFrame...), uint8(0))
	}
	f.Add([]byte{0, 3, 0, 0, 0, 0, 0, 1}, uint8(0))
	f.Fuzz(func(t *testing.T, pkt []byte, which uint8) {
		h := fuzzHeaders[int(which)%len(fuzzHeaders)]
		var d Decoded
		if h.Decode(pkt, &d) != DropNone {
			return
		}
		if len(d.Frame) < ethHeaderLen {
			t.Fatalf("accepted a %d-byte frame", len(d.Frame))
		}
		if len(pkt)-len(d.Frame) != h.Len() {
			t.Fatalf("frame starts at %d, header is %d bytes", len(pkt)-len(d.Frame), h.Len())
		}
	})
}

// FuzzRoundTrip checks that any frame encoded under any option set decodes
// back to itself with the same sequence number.
func FuzzRoundTrip(f *testing.F) {
	f.Add(true, uint32(1), uint8(1), uint64(0xdeadbeef), uint8(2), uint8(0), uint32(7), testFrame)
	f.Add(false, uint32(0xffffffff), uint8(2), uint64(1<<63), uint8(1), uint8(9), uint32(0), testFrame)
	f.Fuzz(func(t *testing.T, udp bool, session uint32, cookie uint8, ck uint64, sub uint8, offset uint8, seq uint32, frame []byte) {
		if session == 0 || len(frame) < ethHeaderLen {
			return
		}
		h := Header{UDP: udp, TxSession: session, RxSession: session, Sublayer: Sublayer(sub % 3), Offset: int(offset)}
		h.CookieLen = []int{0, 4, 8}[cookie%3]
		if h.CookieLen == 4 {
			ck &= 0xffffffff
		}
		h.TxCookie, h.RxCookie = ck, ck
		pkt := make([]byte, h.Len()+len(frame))
		n := h.Encode(pkt, seq)
		copy(pkt[n:], frame)
		var d Decoded
		if why := h.Decode(pkt, &d); why != DropNone {
			t.Fatalf("own packet dropped: %v", why)
		}
		if !bytes.Equal(d.Frame, frame) {
			t.Fatal("frame changed")
		}
		if (h.Sublayer == SublayerCounter) != d.HasSeq || (d.HasSeq && d.Seq != seq&seqMask) {
			t.Fatalf("seq %v/%#x from %#x", d.HasSeq, d.Seq, seq)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	h := Header{UDP: true, TxSession: 1, CookieLen: 8, TxCookie: 42, Sublayer: SublayerCounter}
	buf := make([]byte, 1514+h.Len())
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		h.Encode(buf, uint32(i))
	}
}

func BenchmarkDecode(b *testing.B) {
	h := Header{UDP: true, TxSession: 1, RxSession: 1, CookieLen: 8, TxCookie: 42, RxCookie: 42, Sublayer: SublayerCounter}
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
