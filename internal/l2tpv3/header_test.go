package l2tpv3

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"testing"
)

// headersJSON is embedded rather than read, so that the test binary finds
// it from any working directory (make cross runs it from the module's).
//
//go:embed testdata/headers.json
var headersJSON []byte

// headerVectors are the golden data headers of testdata/headers.json,
// written by hand from RFC 3931 (see the file's "about"); the l2tap
// command's frame tests read the same file. Headers: the bytes a peer puts
// on the wire for each option combination. SplitCookies: sessions whose
// cookie differs in each direction, Tx what the session sends, Rx what it
// accepts.
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
				t.Errorf("Len() = %d, want %d", got, want)
			}
			buf := bytes.Repeat([]byte{0xaa}, MaxHeaderLen)
			if n := tc.Header.Encode(buf, 0); !bytes.Equal(buf[:n], tx) {
				t.Errorf("Encode = % x, want % x", buf[:n], tx)
			}
			var d Decoded
			if why := tc.Header.Decode(append(rx, ethFrame...), &d); why != DropNone || !bytes.Equal(d.Frame, ethFrame) {
				t.Fatalf("Decode of the expected packet: %v, frame % x", why, d.Frame)
			}
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
