package l2tpv3

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pcapRaw writes a pcap file (LINKTYPE_RAW: each record an IPv4 packet).
func pcapRaw(t *testing.T, path string, pkts [][]byte) {
	t.Helper()
	var f []byte
	f = binary.LittleEndian.AppendUint32(f, 0xa1b2c3d4)
	f = binary.LittleEndian.AppendUint16(f, 2)
	f = binary.LittleEndian.AppendUint16(f, 4)
	f = binary.LittleEndian.AppendUint64(f, 0)
	f = binary.LittleEndian.AppendUint32(f, 65535)
	f = binary.LittleEndian.AppendUint32(f, 101)
	for i, p := range pkts {
		f = binary.LittleEndian.AppendUint32(f, uint32(1700000000+i))
		f = binary.LittleEndian.AppendUint32(f, 0)
		f = binary.LittleEndian.AppendUint32(f, uint32(len(p)))
		f = binary.LittleEndian.AppendUint32(f, uint32(len(p)))
		f = append(f, p...)
	}
	if err := os.WriteFile(path, f, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ipv4 wraps payload in an IPv4 header 192.0.2.1 -> 192.0.2.2.
func ipv4(proto byte, payload []byte) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	return append(h, payload...)
}

// udp wraps payload in a UDP header 1701 -> 1701 without checksum.
func udp(payload []byte) []byte {
	h := []byte{0x06, 0xa5, 0x06, 0xa5, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

// TestTsharkDecodesControl writes every golden control message over UDP
// and over IP into a pcap and checks that tshark's L2TP dissector decodes
// each as an L2TPv3 control message of the right type, with no malformed
// packet and no expert error or warning.
func TestTsharkDecodesControl(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is required under CI=true")
		}
		t.Skip("tshark not installed")
	}
	var pkts [][]byte
	var want []MessageType
	for _, g := range goldenMessages {
		msg := unhex(t, g.hex)
		if strings.HasSuffix(g.name, "-auth") {
			if err := SignMessage(msg, SharedKey([]byte("secret")), nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		m, err := ParseMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts,
			ipv4(17, udp(append(AppendControlFraming(nil, true), msg...))),
			ipv4(115, append(AppendControlFraming(nil, false), msg...)))
		want = append(want, m.Type, m.Type)
	}
	path := filepath.Join(t.TempDir(), "control.pcap")
	pcapRaw(t, path, pkts)
	// With the shared secret, tshark also checks the Message Digest of
	// the signed SCCRQ ("Incorrect Digest" is an expert warning).
	cmd := exec.Command("tshark", "-o", "l2tp.shared_secret:secret", "-r", path, "-V")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	text := string(out)
	if testing.Verbose() {
		t.Log(text)
	}
	if !strings.Contains(text, "Message Digest AVP") {
		t.Error("tshark shows no Message Digest AVP")
	}
	for _, bad := range []string{"Malformed", "Expert Info (Error", "Expert Info (Warning", "Incorrect Digest"} {
		if strings.Contains(text, bad) {
			t.Errorf("tshark reports %q", bad)
		}
	}
	frames := strings.Split(strings.TrimPrefix(text, "Frame "), "\nFrame ")
	if len(frames) != len(pkts) {
		t.Fatalf("tshark shows %d frames, wrote %d", len(frames), len(pkts))
	}
	for i, f := range frames {
		if !strings.Contains(f, "Layer 2 Tunneling Protocol version 3") {
			t.Errorf("frame %d (%s) not decoded as L2TPv3:\n%s", i+1, want[i], f)
			continue
		}
		if !strings.Contains(f, "Type: Control Message") {
			t.Errorf("frame %d (%s) not a control message:\n%s", i+1, want[i], f)
		}
		if want[i] == 0 {
			if strings.Contains(f, "Message Type:") {
				t.Errorf("frame %d: ZLB shows a message type", i+1)
			}
		} else if s := fmt.Sprintf("Message Type: %s (%d)\n", tsharkNames[want[i]], want[i]); !strings.Contains(f, s) {
			t.Errorf("frame %d: no %q in\n%s", i+1, s, f)
		}
	}
}

// tsharkNames are the names Wireshark's L2TP dissector gives message types.
var tsharkNames = map[MessageType]string{
	MsgSCCRQ: "Start_Control_Request", MsgSCCRP: "Start_Control_Reply",
	MsgSCCCN: "Start_Control_Connected", MsgStopCCN: "Stop_Control_Notification",
	MsgHELLO: "Hello", MsgICRQ: "Incoming_Call_Request", MsgICRP: "Incoming_Call_Reply",
	MsgICCN: "Incoming_Call_Connected", MsgCDN: "Call_Disconnect_Notification",
	MsgSLI: "Set_Link_Info", MsgACK: "Explicit_Acknowledgement",
}
