//go:build linux

package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reasmReqds returns the IPv4 and IPv6 fragments the namespace received
// for reassembly (ReasmReqds of /proc/net/snmp, Ip6ReasmReqds of
// /proc/net/snmp6).
func reasmReqds(t *testing.T, ns netns) (v4, v6 uint64) {
	t.Helper()
	out, err := ns.cmd("cat", "/proc/net/snmp", "/proc/net/snmp6").Output()
	if err != nil {
		t.Fatalf("read the SNMP counters of %s: %v", ns, err)
	}
	var ipNames []string
	found4, found6 := false, false
	for sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan(); {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 1 && f[0] == "Ip:" && ipNames == nil:
			ipNames = f
		case len(f) > 1 && f[0] == "Ip:":
			if i := slices.Index(ipNames, "ReasmReqds"); i > 0 && i < len(f) {
				v4, err = strconv.ParseUint(f[i], 10, 64)
				found4 = err == nil
			}
		case len(f) == 2 && f[0] == "Ip6ReasmReqds":
			v6, err = strconv.ParseUint(f[1], 10, 64)
			found6 = err == nil
		}
	}
	if !found4 || !found6 {
		t.Fatalf("no ReasmReqds (IPv4 %v, IPv6 %v) in the SNMP counters of %s:\n%s", found4, found6, ns, out)
	}
	return v4, v6
}

// mssSide builds one end of TestMSSClamp in x: a bridge br0 holding
// l2tap's TAP (started with args) and, behind a veth pair, a new host
// namespace whose eth0 has addr4 and addr6 at MTU 1500. With tagged, the
// host's frames cross a VLAN shim (TestVLANShimHelper) between the veth
// and the bridge, so that they reach the TAP, and the pseudowire, in VLAN 7
// (this kernel may have no 802.1Q support of its own).
func mssSide(t *testing.T, x netns, args []string, tagged bool, addr4, addr6 string) (host netns, p *proc) {
	t.Helper()
	host = newNetns(t, "mssh")
	run(t, "ip", "link", "add", "vh", "netns", string(x), "type", "veth", "peer", "name", "eth0", "netns", string(host))
	x.ip(t, "link", "add", "br0", "type", "bridge")
	port := "vh"
	if tagged {
		x.ip(t, "link", "add", "vt", "type", "veth", "peer", "name", "vtb")
		x.ip(t, "link", "set", "vt", "up")
		port = "vtb"
	}
	x.ip(t, "link", "set", port, "master", "br0")
	for _, dev := range []string{"vh", port, "br0"} {
		x.ip(t, "link", "set", dev, "up")
	}
	p = startL2tap(t, x, slices.Concat(args, []string{"-ifname", "mss0", "-mtu", "1500", "-master", "br0"})...)
	if tagged {
		startVLANShim(t, x, "vh", "vt", 7)
	}
	host.ip(t, "addr", "add", addr4, "dev", "eth0")
	host.ip(t, "addr", "add", addr6, "dev", "eth0", "nodad")
	host.ip(t, "link", "set", "eth0", "up")
	if got := host.ip(t, "-o", "link", "show", "eth0"); !strings.Contains(got, " mtu 1500 ") {
		t.Fatalf("eth0 in %s is not at MTU 1500: %s", host, got)
	}
	return host, p
}

// TestMSSClamp is the common case -mss-clamp is for: a host whose
// interface has MTU 1500 sits on a bridge with l2tap's TAP (-mtu 1500),
// and talks TCP across a 1500-byte underlay, where a full frame does not
// fit in one packet, to a host on the far side's bridge. With clamping
// (auto, and the default, which is auto for a TAP MTU above the path's)
// no outer packet is fragmented, in either direction (ReasmReqds of both
// underlay namespaces stays put) and a SHA-256-checked transfer each way
// completes, over IPv4 and IPv6, untagged and in a VLAN (tagged on the
// bridge side: 4 bytes less MSS); with -mss-clamp off the same transfer
// fragments.
func TestMSSClamp(t *testing.T) {
	requireTools(t, true, "ip", "ping", "ss")
	cases := []struct {
		name       string
		clamp      string // -mss-clamp; "" for none
		v6, tagged bool
	}{
		{"auto-ipv4", "auto", false, false},
		{"auto-ipv6", "auto", true, false},
		{"auto-ipv4-vlan", "auto", false, true},
		{"auto-ipv6-vlan", "auto", true, true},
		{"default-ipv6-vlan", "", true, true},
		{"off-ipv4", "off", false, false},
		{"off-ipv6-vlan", "off", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := vethPair(t, "mss")
			flags := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txsession", "1"}
			if c.clamp != "" {
				flags = append(flags, "-mss-clamp", c.clamp)
			}
			ha, pa := mssSide(t, a, slices.Concat(flags, []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}), c.tagged, "10.1.0.1/24", "fd00::1/64")
			hb, pb := mssSide(t, b, slices.Concat(flags, []string{"-src", "192.0.2.2", "-dst", "192.0.2.1"}), c.tagged, "10.1.0.2/24", "fd00::2/64")
			wantReady := "mss_clamp=1410/1390"
			if c.clamp == "off" {
				wantReady = "mss_clamp=off"
			}
			for _, p := range []*proc{pa, pb} {
				if !strings.Contains(p.stderr.String(), wantReady) {
					t.Errorf("ready line without %s:\n%s", wantReady, p.stderr.String())
				}
			}
			dst := "10.1.0.2"
			if c.v6 {
				dst = "fd00::2"
			}
			if err := ha.pingEventually(t, dst, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			a4, a6 := reasmReqds(t, a)
			b4, b6 := reasmReqds(t, b)
			bulkTransfer(t, ha, hb, dst)
			a4e, a6e := reasmReqds(t, a)
			b4e, b6e := reasmReqds(t, b)
			frags := fmt.Sprintf("outer fragments received: %d by side a (from the far side), %d by side b (from the host)",
				a4e-a4+a6e-a6, b4e-b4+b6e-b6)
			t.Log(frags)
			ca, cb := pa.stop(t), pb.stop(t)
			noErrors(t, ca, cb, "tx_errors", "rx_errors", "tap_write_errors")
			t.Logf("tx_mss_clamped %d/%d, rx_mss_clamped %d/%d (side a/b)", ca["tx_mss_clamped"], cb["tx_mss_clamped"], ca["rx_mss_clamped"], cb["rx_mss_clamped"])
			if c.clamp == "off" {
				if a4e-a4+a6e-a6 == 0 || b4e-b4+b6e-b6 == 0 {
					t.Errorf("without clamping, full-size frames must fragment both ways: %s", frags)
				}
				if ca["tx_mss_clamped"]+cb["tx_mss_clamped"]+ca["rx_mss_clamped"]+cb["rx_mss_clamped"] != 0 {
					t.Errorf("-mss-clamp off clamped: a %v, b %v", ca, cb)
				}
				return
			}
			if a4e != a4 || a6e != a6 || b4e != b4 || b6e != b6 {
				t.Errorf("with clamping, %s", frags)
			}
			// Each side lowers the MSS its own host announces: the SYN as
			// side a reads it, the SYN-ACK as side b reads it; each
			// arrives at the other side already low enough.
			if ca["tx_mss_clamped"] < 1 || cb["tx_mss_clamped"] < 1 || ca["rx_mss_clamped"]+cb["rx_mss_clamped"] != 0 {
				t.Errorf("tx_mss_clamped %d/%d, rx_mss_clamped %d/%d (side a/b): want the SYN and the SYN-ACK clamped where they are sent",
					ca["tx_mss_clamped"], cb["tx_mss_clamped"], ca["rx_mss_clamped"], cb["rx_mss_clamped"])
			}
		})
	}
}

// startVLANShim runs TestVLANShimHelper in ns between plain and tagged
// until the test ends.
func startVLANShim(t *testing.T, ns netns, plain, tagged string, vid int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.cmd(exe, "-test.run=^TestVLANShimHelper$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("L2TAP_VLANSHIM=%s,%s,%d", plain, tagged, vid))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs syncBuffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "vlan shim ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("VLAN shim in %s exited: %s", ns, errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("VLAN shim in %s not ready after 10s: %s", ns, errs.String())
	}
}

// TestVLANShimHelper, run with L2TAP_VLANSHIM=PLAIN,TAGGED,VID, moves
// frames between two interfaces through packet sockets with virtio-net
// headers (so offloaded superframes cross whole): from PLAIN to TAGGED with
// an 802.1Q tag of VID pushed, from TAGGED to PLAIN with it taken off
// (frames of other VLANs or untagged are dropped). Otherwise it does
// nothing.
func TestVLANShimHelper(t *testing.T) {
	spec := strings.Split(os.Getenv("L2TAP_VLANSHIM"), ",")
	if len(spec) != 3 {
		t.Skip("helper process for TestMSSClamp")
	}
	vid, err := strconv.Atoi(spec[2])
	if err != nil {
		t.Fatal(err)
	}
	open := func(name string) int {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		proto := int(binary.BigEndian.Uint16(binary.NativeEndian.AppendUint16(nil, unix.ETH_P_ALL)))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []int{unix.PACKET_VNET_HDR, unix.PACKET_AUXDATA} {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	plain, tagged := open(spec[0]), open(spec[1])
	fmt.Println("vlan shim ready")
	errc := make(chan error, 2)
	go func() { errc <- shimLoop(plain, tagged, vid, true) }()
	go func() { errc <- shimLoop(tagged, plain, vid, false) }()
	t.Fatal(<-errc)
}

// shimLoop reads frames from in and writes them to out, tagged with vid
// (push) or with vid's tag taken off, whether the kernel left it in the
// frame or passed it beside it (PACKET_AUXDATA).
func shimLoop(in, out, vid int, push bool) error {
	const vh = 10 // struct virtio_net_hdr
	buf := make([]byte, 4+vh+65536)
	oob := make([]byte, 256)
	for {
		n, oobn, _, from, err := unix.Recvmsg(in, buf[4:], oob, 0)
		if err != nil {
			return err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n < vh+14 {
			continue
		}
		var side *unix.TpacketAuxdata
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if cm.Header.Level == unix.SOL_PACKET && cm.Header.Type == unix.PACKET_AUXDATA && len(cm.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
					side = (*unix.TpacketAuxdata)(unsafe.Pointer(&cm.Data[0]))
				}
			}
		}
		hdr := buf[4 : 4+vh]
		var frame []byte
		shift := 4
		switch {
		case push:
			// The header and the MAC addresses move 4 bytes ahead; the tag
			// goes between the addresses and the EtherType.
			copy(buf[0:vh], buf[4:4+vh])
			copy(buf[vh:vh+12], buf[4+vh:4+vh+12])
			binary.BigEndian.PutUint16(buf[vh+12:], 0x8100)
			binary.BigEndian.PutUint16(buf[vh+14:], uint16(vid))
			hdr, frame = buf[0:vh], buf[0:4+n]
		case side != nil && side.Status&unix.TP_STATUS_VLAN_VALID != 0:
			if int(side.Vlan_tci&0xfff) != vid {
				continue
			}
			frame, shift = buf[4:4+n], 0 // the tag is beside the frame, not in it
		case binary.BigEndian.Uint16(buf[4+vh+12:]) == 0x8100 && int(binary.BigEndian.Uint16(buf[4+vh+14:])&0xfff) == vid:
			copy(buf[4+vh+4:4+vh+16], buf[4+vh:4+vh+12])
			copy(buf[8:8+vh], buf[4:4+vh])
			hdr, frame, shift = buf[8:8+vh], buf[8:4+n], -4
		default:
			continue
		}
		le := binary.LittleEndian
		if hdr[0]&1 != 0 { // VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start moves with the tag
			le.PutUint16(hdr[6:], uint16(int(le.Uint16(hdr[6:]))+shift))
		}
		if hdr[1] != 0 && le.Uint16(hdr[2:]) != 0 { // a superframe's hdr_len
			le.PutUint16(hdr[2:], uint16(int(le.Uint16(hdr[2:]))+shift))
		}
		if _, err := unix.Write(out, frame); err != nil && err != unix.EMSGSIZE && err != unix.EINVAL {
			return err
		}
	}
}

// TestMSSClampOneSide runs clamping on side a only (the far side has -mss-clamp
// off): the far side's SYN-ACK is clamped as side a receives it
// (rx_mss_clamped), so both directions still cross unfragmented.
func TestMSSClampOneSide(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	flags := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txsession", "1", "-mtu", "1500"}
	a, b, pa, pb := pseudowire(t, "msso", "mso0", slices.Concat(flags, []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-mss-clamp", "auto"}),
		slices.Concat(flags, []string{"-src", "192.0.2.2", "-dst", "192.0.2.1", "-mss-clamp", "off"}))
	if err := a.pingEventually(t, "10.1.0.2", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	a4, _ := reasmReqds(t, a)
	b4, _ := reasmReqds(t, b)
	bulkTransfer(t, a, b, "10.1.0.2")
	a4e, _ := reasmReqds(t, a)
	b4e, _ := reasmReqds(t, b)
	ca, cb := pa.stop(t), pb.stop(t)
	noErrors(t, ca, cb, "tx_errors", "rx_errors", "tap_write_errors")
	if a4e != a4 || b4e != b4 {
		t.Errorf("outer fragments: %d received by side a, %d by side b; want none", a4e-a4, b4e-b4)
	}
	if ca["tx_mss_clamped"] < 1 || ca["rx_mss_clamped"] < 1 || cb["tx_mss_clamped"]+cb["rx_mss_clamped"] != 0 {
		t.Errorf("side a clamped %d sent and %d received SYNs, side b %d and %d: want a both ways, b none",
			ca["tx_mss_clamped"], ca["rx_mss_clamped"], cb["tx_mss_clamped"], cb["rx_mss_clamped"])
	}
}
