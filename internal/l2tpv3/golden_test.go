package l2tpv3

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a hex dump written by hand: spaces, newlines and comments
// after '#' are ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad golden hex: %v", err)
	}
	return b
}

// goldenMessage is one control message of each type, written by hand from
// RFC 3931 §3.2.1, §5.4 and §6, and the calls that build it.
type goldenMessage struct {
	name  string
	hex   string
	build func(b []byte) []byte
}

var goldenMessages = []goldenMessage{
	{"SCCRQ", `
		c803 0052 00000000 0000 0000   # T L S Ver 3, length 82, conn 0, Ns 0, Nr 0
		8008 0000 0000 0001            # Message Type SCCRQ
		800a 0000 0007 6c616331        # Host Name "lac1"
		800a 0000 003c 0a000001        # Router ID 10.0.0.1
		800a 0000 003d 11223344        # Assigned Control Connection ID
		800a 0000 003e 0005 0004       # PW Capabilities: Ethernet, Ethernet VLAN
		8008 0000 000a 0010            # Receive Window Size 16
		800e 0000 0005 0102030405060708 # Tie Breaker`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{}, MsgSCCRQ)
			b = AppendAVPBytes(b, true, AttrHostName, []byte("lac1"))
			b = AppendAVPUint32(b, true, AttrRouterID, 0x0a000001)
			b = AppendAVPUint32(b, true, AttrAssignedConnID, 0x11223344)
			b = AppendPWCapabilities(b, PWEthernet, PWEthernetVLAN)
			b = AppendAVPUint16(b, true, AttrReceiveWindowSize, 16)
			return AppendAVPUint64(b, true, AttrTieBreaker, 0x0102030405060708)
		}},
	{"SCCRP", `
		c803 003a 11223344 0000 0001
		8008 0000 0000 0002            # SCCRP
		800a 0000 0007 6c6e7332        # Host Name "lns2"
		800a 0000 003c 0a000002        # Router ID
		800a 0000 003d 55667788        # Assigned Control Connection ID
		8008 0000 003e 0005            # PW Capabilities: Ethernet`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{ConnID: 0x11223344, Nr: 1}, MsgSCCRP)
			b = AppendAVPBytes(b, true, AttrHostName, []byte("lns2"))
			b = AppendAVPUint32(b, true, AttrRouterID, 0x0a000002)
			b = AppendAVPUint32(b, true, AttrAssignedConnID, 0x55667788)
			return AppendPWCapabilities(b, PWEthernet)
		}},
	{"SCCCN", `
		c803 0014 55667788 0001 0001
		8008 0000 0000 0003            # SCCCN`,
		func(b []byte) []byte { return BeginMessage(b, ControlHeader{0x55667788, 1, 1}, MsgSCCCN) }},
	{"StopCCN", `
		c803 002a 55667788 0002 0001
		8008 0000 0000 0004            # StopCCN
		800a 0000 003d 11223344        # Assigned Control Connection ID
		800c 0000 0001 0002 0008 7878  # Result 2, error 8 (unknown mandatory AVP), "xx"`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{0x55667788, 2, 1}, MsgStopCCN)
			b = AppendAVPUint32(b, true, AttrAssignedConnID, 0x11223344)
			return AppendResultCode(b, ResultCode{Result: StopGeneralError, HasError: true, Error: ErrorUnknownMandatory, Message: "xx"})
		}},
	{"HELLO", `
		c803 0014 55667788 0003 0002
		8008 0000 0000 0006            # HELLO`,
		func(b []byte) []byte { return BeginMessage(b, ControlHeader{0x55667788, 3, 2}, MsgHELLO) }},
	{"ICRQ", `
		c803 0069 55667788 0004 0002
		8008 0000 0000 000a            # ICRQ
		800a 0000 003f 0000abcd        # Local Session ID
		800a 0000 0040 00000000        # Remote Session ID 0
		000a 0000 000f 00000001        # Serial Number 1 (M=0)
		8008 0000 0044 0005            # PW Type Ethernet
		8009 0000 0042 766d31          # Remote End ID "vm1"
		8008 0000 0047 0003            # Circuit Status: new, active
		800e 0000 0041 0102030405060708 # Assigned Cookie (64 bits)
		8008 0000 0045 0001            # L2-Specific Sublayer: default
		8008 0000 0046 0000            # Data Sequencing: none`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{0x55667788, 4, 2}, MsgICRQ)
			b = AppendAVPUint32(b, true, AttrLocalSessionID, 0xabcd)
			b = AppendAVPUint32(b, true, AttrRemoteSessionID, 0)
			b = AppendAVPUint32(b, false, AttrSerialNumber, 1)
			b = AppendAVPUint16(b, true, AttrPWType, PWEthernet)
			b = AppendAVPBytes(b, true, AttrRemoteEndID, []byte("vm1"))
			b = AppendAVPUint16(b, true, AttrCircuitStatus, CircuitNew|CircuitActive)
			b = AppendCookie(b, 0x0102030405060708, 8)
			b = AppendAVPUint16(b, true, AttrL2SpecificSublayer, L2SublayerDefault)
			return AppendAVPUint16(b, true, AttrDataSequencing, SequencingNone)
		}},
	{"ICRP", `
		c803 003a 11223344 0002 0005
		8008 0000 0000 000b            # ICRP
		800a 0000 003f 00001234        # Local Session ID
		800a 0000 0040 0000abcd        # Remote Session ID
		8008 0000 0047 0003            # Circuit Status
		800a 0000 0041 cafef00d        # Assigned Cookie (32 bits)`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{0x11223344, 2, 5}, MsgICRP)
			b = AppendAVPUint32(b, true, AttrLocalSessionID, 0x1234)
			b = AppendAVPUint32(b, true, AttrRemoteSessionID, 0xabcd)
			b = AppendAVPUint16(b, true, AttrCircuitStatus, CircuitNew|CircuitActive)
			return AppendCookie(b, 0xcafef00d, 4)
		}},
	{"ICCN", `
		c803 0028 55667788 0005 0003
		8008 0000 0000 000c            # ICCN
		800a 0000 003f 0000abcd        # Local Session ID
		800a 0000 0040 00001234        # Remote Session ID`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{0x55667788, 5, 3}, MsgICCN)
			b = AppendAVPUint32(b, true, AttrLocalSessionID, 0xabcd)
			return AppendAVPUint32(b, true, AttrRemoteSessionID, 0x1234)
		}},
	{"CDN", `
		c803 0030 55667788 0006 0003
		8008 0000 0000 000e            # CDN
		8008 0000 0001 0003            # Result 3 (administrative)
		800a 0000 003f 0000abcd        # Local Session ID
		800a 0000 0040 00001234        # Remote Session ID`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{0x55667788, 6, 3}, MsgCDN)
			b = AppendResultCode(b, ResultCode{Result: CDNAdministrative})
			b = AppendAVPUint32(b, true, AttrLocalSessionID, 0xabcd)
			return AppendAVPUint32(b, true, AttrRemoteSessionID, 0x1234)
		}},
	{"SLI", `
		c803 0030 55667788 0007 0003
		8008 0000 0000 0010            # SLI
		800a 0000 003f 0000abcd        # Local Session ID
		800a 0000 0040 00001234        # Remote Session ID
		8008 0000 0047 0000            # Circuit Status: inactive`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{0x55667788, 7, 3}, MsgSLI)
			b = AppendAVPUint32(b, true, AttrLocalSessionID, 0xabcd)
			b = AppendAVPUint32(b, true, AttrRemoteSessionID, 0x1234)
			return AppendAVPUint16(b, true, AttrCircuitStatus, 0)
		}},
	{"ACK", `
		c803 0014 55667788 0008 0004
		8008 0000 0000 0014            # ACK`,
		func(b []byte) []byte { return BeginMessage(b, ControlHeader{0x55667788, 8, 4}, MsgACK) }},
	{"ZLB", `
		c803 000c 55667788 0008 0004`,
		func(b []byte) []byte { return AppendZLB(b, ControlHeader{0x55667788, 8, 4}) }},
	{"SCCRQ-auth", `
		c803 005a 00000000 0000 0000
		8008 0000 0000 0001            # SCCRQ
		8017 0000 003b 00 00000000000000000000000000000000 # Message Digest, HMAC-MD5, zero
		8009 0000 0007 6c6163          # Host Name "lac"
		800a 0000 003c 0a000001        # Router ID
		800a 0000 003d 00000001        # Assigned Control Connection ID
		8008 0000 003e 0005            # PW Capabilities
		800a 0000 0049 6e6f6e63        # Nonce "nonc"`,
		func(b []byte) []byte {
			b = BeginMessage(b, ControlHeader{}, MsgSCCRQ)
			b = AppendDigestAVP(b, DigestMD5)
			b = AppendAVPBytes(b, true, AttrHostName, []byte("lac"))
			b = AppendAVPUint32(b, true, AttrRouterID, 0x0a000001)
			b = AppendAVPUint32(b, true, AttrAssignedConnID, 1)
			b = AppendPWCapabilities(b, PWEthernet)
			return AppendAVPBytes(b, true, AttrCtlMsgAuthNonce, []byte("nonc"))
		}},
}

func TestGoldenMessages(t *testing.T) {
	for _, g := range goldenMessages {
		t.Run(g.name, func(t *testing.T) {
			want := unhex(t, g.hex)
			got := g.build(nil)
			if err := SetControlLength(got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("built\n% x\nwant\n% x", got, want)
			}
			m, err := ParseMessage(want)
			if err != nil {
				t.Fatal(err)
			}
			if name := strings.TrimSuffix(g.name, "-auth"); m.Type.String() != name {
				t.Fatalf("type %v, want %s", m.Type, name)
			}
			var a Attrs
			if err := ParseAttrs(&m, &a); err != nil {
				t.Fatalf("ParseAttrs: %v", err)
			}
		})
	}
}

func TestGoldenAttrs(t *testing.T) {
	get := func(name string) (Message, Attrs) {
		for _, g := range goldenMessages {
			if g.name == name {
				return parsed(t, unhex(t, g.hex))
			}
		}
		t.Fatalf("no golden %s", name)
		return Message{}, Attrs{}
	}
	_, a := get("SCCRQ")
	if string(a.HostName) != "lac1" || a.RouterID != 0x0a000001 || a.AssignedConnID != 0x11223344 ||
		a.RecvWindow != 16 || a.TieBreaker != 0x0102030405060708 || !a.Has(AttrTieBreaker) ||
		!a.HasPWCapability(PWEthernet) || !a.HasPWCapability(PWEthernetVLAN) || a.HasPWCapability(7) || a.Has(AttrCtlMsgAuthNonce) {
		t.Errorf("SCCRQ attrs %+v", a)
	}
	_, a = get("StopCCN")
	if a.Result != (ResultCode{StopGeneralError, true, ErrorUnknownMandatory, "xx"}) {
		t.Errorf("StopCCN result %+v", a.Result)
	}
	_, a = get("ICRQ")
	if c, n := CookieValue(a.Cookie); a.LocalSessionID != 0xabcd || a.RemoteSessionID != 0 || !a.Has(AttrRemoteSessionID) ||
		a.SerialNumber != 1 || a.PWType != PWEthernet || string(a.RemoteEndID) != "vm1" ||
		a.CircuitStatus != CircuitNew|CircuitActive || c != 0x0102030405060708 || n != 8 ||
		a.L2Sublayer != L2SublayerDefault || !a.Has(AttrDataSequencing) || a.DataSequencing != 0 {
		t.Errorf("ICRQ attrs %+v", a)
	}
	_, a = get("ICRP")
	if c, n := CookieValue(a.Cookie); c != 0xcafef00d || n != 4 {
		t.Errorf("ICRP cookie %x/%d", c, n)
	}
	_, a = get("CDN")
	if a.Result != (ResultCode{Result: CDNAdministrative}) {
		t.Errorf("CDN result %+v", a.Result)
	}
	m, a := get("SCCRQ-auth")
	if a.NumDigests != 1 || a.Digests[0].Type != DigestMD5 || a.Digests[0].Offset != 27 || len(a.Digests[0].Value) != 16 ||
		string(a.Nonce) != "nonc" || m.Raw[27] != 0 {
		t.Errorf("SCCRQ-auth attrs %+v", a)
	}
}

func TestParseAttrsUnknown(t *testing.T) {
	build := func(extra AVP) Message {
		b, err := AppendMessage(nil, ControlHeader{ConnID: 1}, MsgICRP, []AVP{
			{Mandatory: true, Type: AttrLocalSessionID, Value: []byte{0, 0, 0, 9}},
			extra,
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		extra AVP
		code  uint16 // 0: accepted
	}{
		{"unknown optional", AVP{Type: 200, Value: []byte("x")}, 0},
		{"unknown vendor optional", AVP{Vendor: 9, Type: 1, Value: []byte("x")}, 0},
		{"unknown mandatory", AVP{Mandatory: true, Type: 200}, ErrorUnknownMandatory},
		{"unknown vendor mandatory", AVP{Mandatory: true, Vendor: 9, Type: 1}, ErrorUnknownMandatory},
		{"hidden mandatory", AVP{Mandatory: true, Hidden: true, Type: AttrCircuitStatus, Value: make([]byte, 20)}, ErrorUnknownMandatory},
		{"hidden optional", AVP{Hidden: true, Type: AttrCircuitStatus, Value: make([]byte, 20)}, 0},
		{"bad length mandatory", AVP{Mandatory: true, Type: AttrRemoteSessionID, Value: []byte{1, 2}}, ErrorLength},
		{"bad length optional", AVP{Type: AttrRemoteSessionID, Value: []byte{1, 2}}, 0},
		{"zero connection ID", AVP{Mandatory: true, Type: AttrAssignedConnID, Value: []byte{0, 0, 0, 0}}, ErrorLength},
		{"cookie of 5 bytes", AVP{Mandatory: true, Type: AttrAssignedCookie, Value: make([]byte, 5)}, ErrorLength},
		{"misplaced digest", AVP{Mandatory: true, Type: AttrMessageDigest, Value: make([]byte, 17)}, ErrorLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := build(tc.extra)
			var a Attrs
			err := ParseAttrs(&m, &a)
			if tc.code == 0 {
				if err != nil || a.LocalSessionID != 9 || a.Has(AttrRemoteSessionID) {
					t.Fatalf("err %v, attrs %+v", err, a)
				}
				return
			}
			ae, ok := err.(*AttrError)
			if !ok || ae.Code != tc.code || ae.Type != tc.extra.Type {
				t.Fatalf("err %v, want code %d", err, tc.code)
			}
			if rc := ae.ResultCode(); rc.Result != 2 || !rc.HasError || rc.Error != tc.code || rc.Message == "" {
				t.Fatalf("result code %+v", rc)
			}
		})
	}
}
