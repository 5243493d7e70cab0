package l2tpv3

import (
	"bytes"
	"testing"
)

// FuzzControl feeds arbitrary packets to the control parser, framed for UDP
// and for IP: it must never panic, and whatever it accepts must survive a
// round trip through AppendMessage unchanged (reserved bits aside).
func FuzzControl(f *testing.F) {
	f.Add(goldenZLB)
	f.Add(goldenHELLO)
	f.Add(goldenACKVendor)
	f.Add(append([]byte{0, 0, 0, 0}, goldenHELLO...))
	for _, g := range goldenMessages {
		f.Add(unhex(f, g.hex))
	}
	key := SharedKey([]byte("secret"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, udp := range []bool{true, false} {
			p, err := ControlPayload(pkt, udp)
			if err != nil {
				continue
			}
			m, err := ParseMessage(p)
			if err != nil {
				continue
			}
			var attrs Attrs
			if err := ParseAttrs(&m, &attrs); err == nil {
				VerifyMessage(&m, &attrs, key, []byte("a"), []byte("b"))
			} else if _, ok := err.(*AttrError); !ok {
				t.Fatalf("ParseAttrs on a parsed message: %v", err)
			}
			var avps []AVP
			it := m.AVPs()
			for it.Next() {
				avps = append(avps, it.AVP())
			}
			if it.Err() != nil {
				t.Fatalf("accepted message with bad AVPs: %v", it.Err())
			}
			var out []byte
			if m.IsZLB() {
				out = AppendZLB(nil, m.Header)
			} else if out, err = AppendMessage(nil, m.Header, m.Type, avps); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if len(out) != len(m.Raw) {
				t.Fatalf("re-encoded %d bytes, parsed %d", len(out), len(m.Raw))
			}
			m2, err := ParseMessage(out)
			if err != nil || m2.Header != m.Header || m2.Type != m.Type || !bytes.Equal(m2.Body, clearReserved(m.Body)) {
				t.Fatalf("round trip differs: %+v vs %+v (%v)", m2, m, err)
			}
		}
	})
}

// clearReserved returns a copy of a run of valid AVPs with the reserved
// header bits zeroed, as AppendAVP writes them.
func clearReserved(b []byte) []byte {
	c := append([]byte(nil), b...)
	for i := 0; i+AVPHeaderLen <= len(c); {
		c[i] &^= 0x3c
		n := int(c[i]&0x03)<<8 | int(c[i+1])
		i += n
	}
	return c
}
