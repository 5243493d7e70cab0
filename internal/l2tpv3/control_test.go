package l2tpv3

import (
	"bytes"
	"errors"
	"testing"
)

// Golden messages written by hand from RFC 3931 §3.2.1 and §5.
var (
	// A ZLB to control connection 0x01020304, Ns 5, Nr 7.
	goldenZLB = []byte{
		0xc8, 0x03, 0x00, 0x0c, // T L S, Ver 3, Length 12
		0x01, 0x02, 0x03, 0x04, // Control Connection ID
		0x00, 0x05, 0x00, 0x07, // Ns, Nr
	}
	// A HELLO to connection 0xdeadbeef, Ns 1, Nr 2: header and the
	// Message Type AVP (M=1, Length 8, vendor 0, type 0, value 6).
	goldenHELLO = []byte{
		0xc8, 0x03, 0x00, 0x14,
		0xde, 0xad, 0xbe, 0xef,
		0x00, 0x01, 0x00, 0x02,
		0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
	}
	// An ACK to connection 9, Ns 3, Nr 4, with an extra non-mandatory
	// vendor AVP (vendor 9, type 1, value "ab").
	goldenACKVendor = []byte{
		0xc8, 0x03, 0x00, 0x1c,
		0x00, 0x00, 0x00, 0x09,
		0x00, 0x03, 0x00, 0x04,
		0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14,
		0x00, 0x08, 0x00, 0x09, 0x00, 0x01, 'a', 'b',
	}
)

func TestControlHeaderGolden(t *testing.T) {
	got := AppendZLB(nil, ControlHeader{ConnID: 0x01020304, Ns: 5, Nr: 7})
	if !bytes.Equal(got, goldenZLB) {
		t.Fatalf("ZLB = % x, want % x", got, goldenZLB)
	}
	m, err := ParseMessage(goldenZLB)
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsZLB() || m.Type != 0 || m.Header != (ControlHeader{0x01020304, 5, 7}) {
		t.Fatalf("parsed ZLB = %+v", m)
	}
}

func TestMessageGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    ControlHeader
		typ  MessageType
		avps []AVP
		want []byte
	}{
		{"HELLO", ControlHeader{0xdeadbeef, 1, 2}, MsgHELLO, nil, goldenHELLO},
		{"ACK+vendor", ControlHeader{9, 3, 4}, MsgACK, []AVP{{Vendor: 9, Type: 1, Value: []byte("ab")}}, goldenACKVendor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xaa}
			got, err := AppendMessage(prefix, tc.h, tc.typ, tc.avps)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[1:], tc.want) || got[0] != 0xaa {
				t.Fatalf("append = % x, want aa % x", got, tc.want)
			}
			m, err := ParseMessage(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if m.Header != tc.h || m.Type != tc.typ || m.IsZLB() {
				t.Fatalf("parsed %+v", m)
			}
			it := m.AVPs()
			var i int
			for ; it.Next(); i++ {
				a := it.AVP()
				w := tc.avps[i]
				if a.Mandatory != w.Mandatory || a.Hidden != w.Hidden || a.Vendor != w.Vendor || a.Type != w.Type || !bytes.Equal(a.Value, w.Value) {
					t.Fatalf("AVP %d = %+v, want %+v", i, a, w)
				}
			}
			if it.Err() != nil || i != len(tc.avps) {
				t.Fatalf("iterated %d AVPs, err %v; want %d", i, it.Err(), len(tc.avps))
			}
		})
	}
}

func TestControlHeaderErrors(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), goldenHELLO...))
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrCtlShort},
		{"11 bytes", goldenHELLO[:11], ErrCtlShort},
		{"T clear", mod(func(b []byte) []byte { b[0] &^= 0x80; return b }), ErrCtlNotControl},
		{"L clear", mod(func(b []byte) []byte { b[0] &^= 0x40; return b }), ErrCtlNoLength},
		{"S clear", mod(func(b []byte) []byte { b[0] &^= 0x08; return b }), ErrCtlNoSequence},
		{"version 2", mod(func(b []byte) []byte { b[1] = 0x02; return b }), ErrCtlVersion},
		{"length 11", mod(func(b []byte) []byte { b[3] = 11; return b }), ErrCtlLength},
		{"length past end", mod(func(b []byte) []byte { b[3] = 21; return b }), ErrCtlLength},
		{"truncated", goldenHELLO[:19], ErrCtlLength},
		{"AVP length 5", mod(func(b []byte) []byte { b[13] = 5; return b }), ErrAVPLength},
		{"AVP past length", mod(func(b []byte) []byte { b[13] = 9; return b }), ErrAVPLength},
		{"AVP partial header", mod(func(b []byte) []byte { b[3] = 16; return b[:16] }), ErrAVPLength},
		{"first AVP not message type", mod(func(b []byte) []byte { b[17] = 1; return b }), ErrNoMessageType},
		{"hidden message type", mod(func(b []byte) []byte { b[12] |= 0x40; return b }), ErrNoMessageType},
		{"vendor message type", mod(func(b []byte) []byte { b[15] = 1; return b }), ErrNoMessageType},
		{"trailing AVP bytes", append(mod(func(b []byte) []byte { b[3] = 23; return b }), 0, 0, 0), ErrAVPLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMessage(tc.pkt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseMessage(% x) = %v, want %v", tc.pkt, err, tc.want)
			}
			var ce ControlError
			if !errors.As(err, &ce) || ce.Counter() == "" || ce.Error() == "" {
				t.Fatalf("error %v is not a ControlError with a counter", err)
			}
		})
	}
}

func TestControlReservedBitsIgnored(t *testing.T) {
	b := append([]byte(nil), goldenHELLO...)
	b[0] |= 0x37 // x bits of the first octet
	b[1] |= 0xf0 // x bits of the second octet
	b[12] |= 0x3c
	m, err := ParseMessage(b)
	if err != nil || m.Type != MsgHELLO {
		t.Fatalf("reserved bits: %v %v", m.Type, err)
	}
}

func TestControlTrailingBytesIgnored(t *testing.T) {
	b := append(append([]byte(nil), goldenHELLO...), 1, 2, 3)
	m, err := ParseMessage(b)
	if err != nil || len(m.Raw) != len(goldenHELLO) || len(m.Body) != 0 {
		t.Fatalf("trailing bytes: %+v %v", m, err)
	}
}

func TestAppendErrors(t *testing.T) {
	b := []byte{1, 2}
	got, err := AppendMessage(b, ControlHeader{}, MsgHELLO, []AVP{{Value: make([]byte, MaxAVPValue+1)}})
	if err != ErrAVPTooLong || !bytes.Equal(got, []byte{1, 2}) {
		t.Fatalf("long value: %v % x", err, got)
	}
	if _, err := AppendMessage(nil, ControlHeader{}, MsgHELLO, []AVP{{Vendor: 0x10000}}); err != ErrAVPVendor {
		t.Fatalf("wide vendor: %v", err)
	}
	avps := make([]AVP, 70)
	for i := range avps {
		avps[i].Value = make([]byte, MaxAVPValue)
	}
	if _, err := AppendMessage(nil, ControlHeader{}, MsgHELLO, avps); err != ErrMessageTooLong {
		t.Fatalf("long message: %v", err)
	}
	// The longest value fits exactly.
	m, err := AppendMessage(nil, ControlHeader{}, MsgHELLO, []AVP{{Type: 99, Value: make([]byte, MaxAVPValue)}})
	if err != nil {
		t.Fatal(err)
	}
	pm, err := ParseMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	it := pm.AVPs()
	if !it.Next() || len(it.AVP().Value) != MaxAVPValue || it.Next() {
		t.Fatalf("longest AVP did not round-trip: %v", it.Err())
	}
}

func TestFraming(t *testing.T) {
	udp := AppendControlFraming(nil, true)
	udp = AppendZLB(udp, ControlHeader{ConnID: 1})
	if !IsControl(udp, true) || IsControl(udp, false) {
		t.Fatal("UDP control message not recognised")
	}
	p, err := ControlPayload(udp, true)
	if err != nil || !bytes.Equal(p, udp) {
		t.Fatalf("UDP payload: %v", err)
	}
	ip := AppendControlFraming(nil, false)
	ip = AppendZLB(ip, ControlHeader{ConnID: 1})
	if !bytes.Equal(ip[:4], []byte{0, 0, 0, 0}) || len(ip) != 16 {
		t.Fatalf("IP framing = % x", ip)
	}
	if !IsControl(ip, false) {
		t.Fatal("IP control message not recognised")
	}
	p, err = ControlPayload(ip, false)
	if err != nil || !bytes.Equal(p, ip[4:]) {
		t.Fatalf("IP payload: %v", err)
	}
	// The data path agrees: a control message is DropControl, and a data
	// packet is not control.
	if _, r := SessionID(udp, true); r != DropControl {
		t.Fatalf("SessionID(UDP control) = %v", r)
	}
	if _, r := SessionID(ip, false); r != DropControl {
		t.Fatalf("SessionID(IP control) = %v", r)
	}
	data := []byte{0, 3, 0, 0, 0, 0, 0, 7}
	if IsControl(data, true) || IsControl(data[4:], false) {
		t.Fatal("data packet taken for control")
	}
	if _, err := ControlPayload([]byte{0, 0, 0, 1, 0xc8}, false); err != ErrCtlPrefix {
		t.Fatalf("nonzero prefix: %v", err)
	}
	if _, err := ControlPayload([]byte{0, 0}, false); err != ErrCtlShort {
		t.Fatalf("short prefix: %v", err)
	}
}

func TestMessageTypeString(t *testing.T) {
	for m, want := range map[MessageType]string{0: "ZLB", MsgSCCRQ: "SCCRQ", MsgACK: "ACK", 99: "message type 99"} {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", m, got, want)
		}
	}
}

func TestAppendMessageAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	avps := []AVP{{Mandatory: true, Type: AttrReceiveWindowSize, Value: []byte{0, 4}}}
	n := testing.AllocsPerRun(100, func() {
		b, _ := AppendMessage(buf[:0], ControlHeader{ConnID: 1}, MsgHELLO, avps)
		b = AppendAVPUint32(b, false, 99, 1)
		_ = SetControlLength(b)
		m, _ := ParseMessage(b)
		it := m.AVPs()
		for it.Next() {
		}
	})
	if n != 0 {
		t.Fatalf("append and parse allocate %v times", n)
	}
}
