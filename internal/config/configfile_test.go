//go:build linux

package config

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/tap"
	"github.com/urfave/cli/v2"
)

// twoSessions is testdata/two-sessions.toml: one tunnel with two sessions,
// the tunnel of the example file in docs/configuration.md ("The
// configuration file", which the docs test runs as written); test/e2e runs
// the binary on it.
// Embedded, so that the test binary finds it from any working directory.
//
//go:embed testdata/two-sessions.toml
var twoSessions string

// TestConfigFileExample checks every field the example sets, and those it
// leaves to their defaults, in both sessions.
func TestConfigFileExample(t *testing.T) {
	restore := MachineIDFile
	t.Cleanup(func() { MachineIDFile = restore })
	MachineIDFile = filepath.Join(t.TempDir(), "machine-id") // none: MachineID nil
	got, err := parseConfig("l2tap.toml", []byte(twoSessions), nil)
	if err != nil {
		t.Fatal(err)
	}
	ep := TunnelEnds{UDP: true, Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"), LocalPort: 1701, RemotePort: 1701}
	want := &Config{
		Batch:   true,
		Seccomp: true,
		Tunnels: []TunnelConfig{{Ends: ep, Sessions: []SessionConfig{
			{
				Header: l2tpv3.Header{UDP: true, TxSession: 10, RxSession: 20, TxCookieLen: 4, RxCookieLen: 4, TxCookie: 0x11223344, RxCookie: 0x55667788, Sublayer: l2tpv3.SublayerCounter},
				TAP:    TAPConfig{Name: "vm0", Owner: -1, Group: -1, Master: "br0", Offload: true, Queues: 1},
				// SeqCheck false, CoalesceUDP false: not asked for.
				Offload: true,
			},
			{
				// udp inherited from the tunnel; rxsession from txsession.
				Header:  l2tpv3.Header{UDP: true, TxSession: 11, RxSession: 11},
				TAP:     TAPConfig{Name: "vm1", Owner: -1, Group: -1, Offload: true, Queues: 1},
				Offload: true,
			},
		}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", *got, *want)
	}
}

// TestConfigFileValues checks that values are spelled as the flags spell
// them: numbers as TOML integers or as strings in decimal or 0x-hex (a
// leading zero is decimal), switches as booleans or the flags' on/off words.
func TestConfigFileValues(t *testing.T) {
	const head = "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\n"
	cases := []struct {
		name, session string
		check         func(*SessionConfig) bool
	}{
		{"int", "txsession = 300", func(s *SessionConfig) bool { return s.Header.TxSession == 300 }},
		{"toml-hex", "txsession = 0x12c", func(s *SessionConfig) bool { return s.Header.TxSession == 300 }},
		{"toml-underscores", "txsession = 1_000", func(s *SessionConfig) bool { return s.Header.TxSession == 1000 }},
		{"string-hex", `txsession = "0x12C"`, func(s *SessionConfig) bool { return s.Header.TxSession == 300 }},
		{"string-leading-zero-decimal", "txsession = 1\noffset = \"0100\"", func(s *SessionConfig) bool { return s.Header.Offset == 100 }},
		{"cookie64-string", "txsession = 1\ncookie64 = true\ntxcookie = \"0xffffffffffffffff\"\nrxcookie = 1",
			func(s *SessionConfig) bool {
				return s.Header.TxCookieLen == 8 && s.Header.RxCookieLen == 8 && s.Header.TxCookie == 0xffffffffffffffff && s.Header.RxCookie == 1
			}},
		{"txcookie-alone", "txsession = 1\ntxcookie = 5", func(s *SessionConfig) bool {
			return s.Header.TxCookieLen == 4 && s.Header.TxCookie == 5 && s.Header.RxCookieLen == 0
		}},
		{"rxcookie-alone-64", "txsession = 1\nrxcookie = 5\ncookie64 = true", func(s *SessionConfig) bool {
			return s.Header.RxCookieLen == 8 && s.Header.RxCookie == 5 && s.Header.TxCookieLen == 0
		}},
		{"tx32-rx64", "txsession = 1\ntxcookie = 1\nrxcookie = \"0x123456789\"\nrxcookie64 = true", func(s *SessionConfig) bool {
			return s.Header.TxCookieLen == 4 && s.Header.RxCookieLen == 8 && s.Header.RxCookie == 0x123456789
		}},
		{"cookie64-tx-off", "txsession = 1\ntxcookie = 1\nrxcookie = 2\ncookie64 = true\ntxcookie64 = false", func(s *SessionConfig) bool {
			return s.Header.TxCookieLen == 4 && s.Header.RxCookieLen == 8
		}},
		{"mac-random", "txsession = 1\nmac = \"random\"", func(s *SessionConfig) bool { return s.TAP.MAC == tap.MACRandom }},
		{"mac-address", "txsession = 1\nmac = \"02:00:5e:10:00:01\"", func(s *SessionConfig) bool {
			return s.TAP.MAC == tap.MACFixed && s.TAP.MACAddr.String() == "02:00:5e:10:00:01"
		}},
		{"bool", "txsession = 1\npincounter = true", func(s *SessionConfig) bool { return s.Header.Sublayer == l2tpv3.SublayerPinned }},
		{"on", "txsession = 1\npincounter = \"on\"", func(s *SessionConfig) bool { return s.Header.Sublayer == l2tpv3.SublayerPinned }},
		{"off", "txsession = 1\npincounter = \"off\"", func(s *SessionConfig) bool { return s.Header.Sublayer == l2tpv3.SublayerNone }},
		{"yes", "txsession = 1\ncounter = \"yes\"\nseqcheck = \"1\"", func(s *SessionConfig) bool {
			return s.Header.Sublayer == l2tpv3.SublayerCounter && s.SeqCheck
		}},
		{"false", "txsession = 1\nattach = false", func(s *SessionConfig) bool { return !s.TAP.Attach }},
		{"owner-number", "txsession = 1\nowner = 0\ngroup = \"0\"", func(s *SessionConfig) bool { return s.TAP.Owner == 0 && s.TAP.Group == 0 }},
		{"owner-name", "txsession = 1\nowner = \"root\"", func(s *SessionConfig) bool { return s.TAP.Owner == 0 && s.TAP.Group == -1 }},
		{"offload-full", "txsession = 1\noffload = \"full\"", func(s *SessionConfig) bool { return s.Offload && s.CoalesceUDP && s.TAP.Offload }},
		{"offload-off", "txsession = 1\noffload = \"off\"", func(s *SessionConfig) bool { return !s.Offload && !s.TAP.Offload }},
		{"queues-mtu", "txsession = 1\nqueues = 4\nmtu = 9000", func(s *SessionConfig) bool { return s.TAP.Queues == 4 && s.TAP.MTU == 9000 }},
		{"quoted-key", "\"txsession\" = 5", func(s *SessionConfig) bool { return s.Header.TxSession == 5 }},
		{"pcap", "txsession = 1\npcap = \"/var/tmp/c.pcap\"\npcap-outer = true\npcap-size = \"100M\"", func(s *SessionConfig) bool {
			return s.Capture == CaptureConfig{Path: "/var/tmp/c.pcap", Outer: true, Size: 100e6}
		}},
		{"pcap-size-int", "txsession = 1\npcap = \"c.pcap\"\npcap-size = 4096", func(s *SessionConfig) bool { return s.Capture.Size == 4096 && !s.Capture.Outer }},
		{"pcap-size-mib", "txsession = 1\npcap = \"c.pcap\"\npcap-size = \"2MiB\"", func(s *SessionConfig) bool { return s.Capture.Size == 2<<20 }},
		{"mss-clamp-int", "txsession = 1\nmss-clamp = 1360", func(s *SessionConfig) bool { return s.MSSClamp == MSSClampConfig{Mode: ClampFixed, MSS: 1360} }},
		{"mss-clamp-auto", "txsession = 1\nmss-clamp = \"auto\"", func(s *SessionConfig) bool { return s.MSSClamp == MSSClampConfig{Mode: ClampAuto} }},
		{"mss-clamp-off", "txsession = 1\nmss-clamp = \"off\"", func(s *SessionConfig) bool { return s.MSSClamp == MSSClampConfig{Mode: ClampOff} }},
		{"mss-clamp-absent", "txsession = 1", func(s *SessionConfig) bool { return s.MSSClamp == MSSClampConfig{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig("v.toml", []byte(head+tc.session+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if s := &c.Tunnels[0].Sessions[0]; !tc.check(s) {
				t.Fatalf("%q gave %+v", tc.session, *s)
			}
		})
	}
}

// TestConfigFileProcess checks the top-level keys, and that the
// process-wide flags given with -config override them.
func TestConfigFileProcess(t *testing.T) {
	const tunnels = "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\n"
	file := "sched = \"normal\"\nip-path = \"packet\"\nseccomp = false\nuser = 0\ncpuprofile = \"/tmp/p\"\ncontrol = \"/tmp/c.sock\"\nmetrics = \"127.0.0.1:9723\"\n" + tunnels
	c, err := parseConfig("p.toml", []byte(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	// user = 0 is root: kept, with a warning at start (see chooseUser).
	if c.Batch || !c.PacketPath || c.Seccomp || c.User != nil || !c.RootKept || c.CPUProfile != "/tmp/p" ||
		c.Observe.StatusSocket != "/tmp/c.sock" || c.Observe.Metrics != "127.0.0.1:9723" {
		t.Fatalf("top-level keys: %+v", c)
	}

	var o Options
	parseFlags(t, &o, "-config", "p.toml", "-sched", "batch", "-ip-path", "raw", "-seccomp", "-cpuprofile", "/tmp/q", "-control", "off", "-metrics", "127.0.0.1:9724")
	c, err = parseConfig("p.toml", []byte(file), &o)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Batch || c.PacketPath || !c.Seccomp || c.User != nil || !c.RootKept || c.CPUProfile != "/tmp/q" || !c.Observe.StatusSocketOff || c.Observe.Metrics != "127.0.0.1:9724" {
		t.Fatalf("flags over top-level keys: %+v", c)
	}

	// A bad value from the command line is the flag's error; from the file,
	// the file's.
	o = Options{}
	parseFlags(t, &o, "-sched", "fifo")
	_, err = parseConfig("p.toml", []byte(file), &o)
	if err == nil || !strings.HasPrefix(err.Error(), `-sched "fifo"`) {
		t.Fatalf("bad -sched with a file: %v", err)
	}
	_, err = parseConfig("p.toml", []byte("sched = \"fifo\"\n"+tunnels), nil)
	if err == nil || !strings.HasPrefix(err.Error(), `p.toml:1: sched "fifo": want batch`) {
		t.Fatalf("bad sched in a file: %v", err)
	}
	_, err = parseConfig("p.toml", []byte("ip-path = \"fast\"\n"+tunnels), nil)
	if err == nil || !strings.HasPrefix(err.Error(), `p.toml:1: ip-path "fast": want raw`) {
		t.Fatalf("bad ip-path in a file: %v", err)
	}
}

// parseFlags parses args into o as the command line does, without running.
func parseFlags(t *testing.T, o *Options, args ...string) {
	t.Helper()
	app := &cli.App{Name: "l2tap", Flags: Flags(o), Action: func(*cli.Context) error { return nil }}
	if err := app.Run(append([]string{"l2tap"}, args...)); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// TestConfigFileErrors checks that each kind of mistake is reported at the
// right line, naming the key and its value, in one line, as a usage error.
func TestConfigFileErrors(t *testing.T) {
	restore := lookupNetIP
	t.Cleanup(func() { lookupNetIP = restore })
	lookupNetIP = fakeLookup

	const tun = "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n"                                             // lines 1-3
	const udp = "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nudp = true\nsrcport = 1701\ndstport = 1701\n" // lines 1-6
	cases := []struct {
		name string
		file string
		line int    // 0: the message names no line
		want string // after "FILE:LINE: "
	}{
		// What TOML itself rejects.
		{"syntax", tun + "[[tunnel.session]]\ntxsession = = 1\n", 5, ""},
		{"unterminated-string", tun + "[[tunnel.session]]\ntxsession = 1\nifname = \"vm0\n", 6, ""},
		{"int-overflow", tun + "[[tunnel.session]]\ntxsession = 1\ntxcookie = 0xffffffffffffffff\n", 6, "as strings"},
		{"leading-zero", tun + "[[tunnel.session]]\ntxsession = 01\n", 5, "zero"},
		{"duplicate", tun + "[[tunnel.session]]\ntxsession = 1\ntxsession = 2\n", 6, "txsession 2: given twice in one table (first at line 5)"},

		// The control channel's keys belong to the tunnel.
		{"hello-in-session", tun + "[[tunnel.session]]\ntxsession = 1\nhello = 10\n", 6, "hello"},
		{"hello-without-ids", tun + "hello = 10\n[[tunnel.session]]\ntxsession = 1\n", 1, "hello needs rxtunnel"},
		{"rxtunnel-zero", tun + "hello = 10\nrxtunnel = 0\ntxtunnel = 2\n[[tunnel.session]]\ntxsession = 1\n", 5, "rxtunnel 0"},
		{"mss-clamp-word", tun + "[[tunnel.session]]\ntxsession = 1\nmss-clamp = \"on\"\n", 6, `mss-clamp "on": want auto`},
		{"mss-clamp-small", tun + "[[tunnel.session]]\ntxsession = 1\nmss-clamp = 40\n", 6, `mss-clamp "40"`},
		{"mss-clamp-in-tunnel", tun + "mss-clamp = \"auto\"\n[[tunnel.session]]\ntxsession = 1\n", 4, "mss-clamp"},

		// The shape of the file.
		{"empty", "", 0, "no [[tunnel]]"},
		{"comments-only", "# nothing\n\n", 0, "no [[tunnel]]"},
		{"top-level-only", "sched = \"batch\"\n", 0, "no [[tunnel]]"},
		{"tunnel-without-sessions", tun + "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.3\"\n[[tunnel.session]]\ntxsession = 1\n", 1, "[[tunnel]] without a [[tunnel.session]]"},
		{"session-first", "[[tunnel.session]]\ntxsession = 1\n" + tun, 1, "[[tunnel.session]] before any [[tunnel]]"},
		{"single-bracket-tunnel", "[tunnel]\nsrc = \"192.0.2.1\"\n", 1, "[tunnel]: write [[tunnel]]"},
		{"single-bracket-session", tun + "[tunnel.session]\ntxsession = 1\n", 4, "[tunnel.session]: write [[tunnel.session]]"},
		{"quoted-dotted-table", tun + "[[\"tunnel.session\"]]\ntxsession = 1\n", 4, `[["tunnel.session"]]`},
		{"unknown-table", tun + "[[tunnel.session]]\ntxsession = 1\n[extra]\n", 6, "[extra]: unknown table"},
		{"inline-tunnels", "tunnel = [{src = \"192.0.2.1\"}]\n", 1, "tunnel [{src = \"192.0.2.1\"}]: write each tunnel as a [[tunnel]] table"},
		{"inline-sessions", tun + "session = [{txsession = 1}]\n", 4, "write each session as a [[tunnel.session]] table"},

		// Keys.
		{"unknown-key-suggestion", tun + "[[tunnel.session]]\ntxsesion = 1\n", 5, "txsesion 1: unknown key; did you mean txsession?"},
		{"dashed-key-suggestion", tun + "[[tunnel.session]]\n-txsession = 1\n", 5, "-txsession 1: unknown key; did you mean txsession?"},
		{"unknown-key", tun + "[[tunnel.session]]\ntxsession = 1\nvlan = 5\n", 6, "vlan 5: unknown key; the keys are the flag names"},
		{"dotted-key", tun + "[[tunnel.session]]\ntxsession = 1\ntap.name = \"x\"\n", 6, "tap.name \"x\": unknown key; dotted keys are not used"},
		{"config-key", "config = \"other.toml\"\n" + tun, 1, "config \"other.toml\": a configuration file cannot name another"},
		{"session-key-at-top", "txsession = 1\n" + tun, 1, "txsession 1: a session key; put it in a [[tunnel.session]]"},
		{"session-key-in-tunnel", tun + "counter = true\n[[tunnel.session]]\ntxsession = 1\n", 4, "counter true: a session key"},
		{"tunnel-key-in-session", tun + "[[tunnel.session]]\ntxsession = 1\nudp = true\n", 6, "udp true: a tunnel key (all sessions of a tunnel share its socket); put it in [[tunnel]]"},
		{"tunnel-key-at-top", "src = \"192.0.2.1\"\n" + tun, 1, "src \"192.0.2.1\": a tunnel key"},
		{"process-key-in-session", tun + "[[tunnel.session]]\ntxsession = 1\nseccomp = false\n", 6, "seccomp false: a process-wide key; put it at the top of the file"},

		// TOML types and the flags' value rules.
		{"float-number", tun + "[[tunnel.session]]\ntxsession = 1.5\n", 5, `txsession 1.5: want an integer, or a string such as "0x10"`},
		{"bool-number", tun + "[[tunnel.session]]\ntxsession = true\n", 5, "txsession true: want an integer"},
		{"int-switch", tun + "[[tunnel.session]]\ntxsession = 1\ncounter = 1\n", 6, "counter 1: want true or false"},
		{"int-text", tun + "[[tunnel.session]]\ntxsession = 1\nifname = 5\n", 6, "ifname 5: want a string"},
		{"array-text", tun + "[[tunnel.session]]\ntxsession = 1\nowner = [1]\n", 6, "owner [1]: want a name or a number"},
		{"date-text", "sched = 2024-01-01\n" + tun, 1, "sched 2024-01-01: want a string"},
		{"not-a-number", tun + "[[tunnel.session]]\ntxsession = \"one\"\n", 5, `txsession "one": want a number, decimal or 0x-hex`},
		{"negative", tun + "[[tunnel.session]]\ntxsession = -1\n", 5, "txsession -1: want a number"},
		{"too-big", tun + "[[tunnel.session]]\ntxsession = 0x100000000\n", 5, "txsession 0x100000000: want at most 4294967295"},
		{"port-too-big", strings.Replace(udp, "srcport = 1701", "srcport = 70000", 1) + "[[tunnel.session]]\ntxsession = 1\n", 5, "srcport 70000: want at most 65535"},
		{"switch-word", "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nudp = \"maybe\"\n[[tunnel.session]]\ntxsession = 1\n", 4, `udp "maybe": want on or off`},

		// The command line's checks, with keys for flags.
		{"no-src", "[[tunnel]]\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\n", 1, "src is required"},
		{"empty-src", "[[tunnel]]\nsrc = \"\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\n", 2, "src is required"},
		{"no-txsession", tun + "[[tunnel.session]]\nifname = \"vm0\"\n", 4, "txsession is required"},
		{"session-0", tun + "[[tunnel.session]]\ntxsession = 0\n", 5, "txsession 0: session ID 0 is reserved"},
		{"udp-no-srcport", "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\nudp = true\n[[tunnel.session]]\ntxsession = 1\n", 1, "udp needs srcport"},
		{"srcport-without-udp", tun + "srcport = 1701\n[[tunnel.session]]\ntxsession = 1\n", 4, "srcport is for UDP encapsulation: add udp, or drop srcport"},
		{"txcookie64-alone", tun + "[[tunnel.session]]\ntxsession = 1\n[[tunnel.session]]\ntxsession = 2\ntxcookie64 = true\n", 6, "txcookie64 without txcookie: add txcookie N"},
		{"cookie-too-wide", tun + "[[tunnel.session]]\ntxsession = 1\ntxcookie = 0x123456789\nrxcookie = 1\n", 6, "txcookie 0x123456789 is wider than 32 bits: add txcookie64 (or cookie64"},
		{"rxcookie-too-wide", tun + "[[tunnel.session]]\ntxsession = 1\ntxcookie64 = true\ntxcookie = 0x123456789\nrxcookie = 0x123456789\n", 8, "rxcookie 0x123456789 is wider than 32 bits: add rxcookie64"},
		{"seqcheck-alone", tun + "[[tunnel.session]]\ntxsession = 1\nseqcheck = true\n", 6, "seqcheck needs a sublayer to carry sequence numbers: add counter"},
		{"attach-no-ifname", tun + "[[tunnel.session]]\ntxsession = 1\nattach = true\n", 4, "attach needs ifname"},
		{"queues-counter", tun + "[[tunnel.session]]\ntxsession = 1\ncounter = true\nqueues = 2\n", 7, "queues 2 with counter"},
		{"ifname-long", tun + "[[tunnel.session]]\ntxsession = 1\nifname = \"a-very-long-tap-name\"\n", 6, `ifname "a-very-long-tap-name": a Linux interface name has 1 to 15 bytes`},
		{"mtu-small", tun + "[[tunnel.session]]\ntxsession = 1\nmtu = 60\n", 6, "mtu 60: the smallest MTU for IPv4 is 68; leave mtu out"},
		{"mac-attach", tun + "[[tunnel.session]]\ntxsession = 1\nifname = \"vm0\"\nattach = true\nmac = \"random\"\n", 8, "mac random with attach: an attached TAP keeps its own MAC; drop mac"},
		{"mac-twice", tun + "[[tunnel.session]]\ntxsession = 1\nmac = \"02:00:5e:10:00:01\"\n[[tunnel.session]]\ntxsession = 2\nmac = \"02-00-5E-10-00-01\"\n", 9, `mac "02-00-5E-10-00-01": the session at line 4 gives its TAP this MAC too`},
		{"mac-bad", tun + "[[tunnel.session]]\ntxsession = 1\nmac = \"02:00\"\n", 6, `mac "02:00": not a 6-byte Ethernet address`},
		{"offload-bad", tun + "[[tunnel.session]]\ntxsession = 1\noffload = \"fast\"\n", 6, `offload "fast": want auto`},
		{"multiline-value", tun + "[[tunnel.session]]\ntxsession = 1\nowner = \"\"\"\nno\nsuch\"\"\"\n", 6, `owner no\nsuch: no such name`},
		{"owner-unknown", tun + "[[tunnel.session]]\ntxsession = 1\nowner = \"no-such-user-here\"\n", 6, "owner no-such-user-here: no such name"},
		{"user-unknown", "user = \"no-such-user-here\"\n" + tun + "[[tunnel.session]]\ntxsession = 1\n", 1, "user no-such-user-here: no such user"},
		{"v6-without-ipv6", "[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"2001:db8::2\"\n[[tunnel.session]]\ntxsession = 1\n", 3, "dst 2001:db8::2 is not IPv4: add ipv6"},
		{"name-not-found", "[[tunnel]]\nsrc = \"192.0.2.1\"\n\ndst = \"peer.invalid\"\n[[tunnel.session]]\ntxsession = 1\n", 4, "dst peer.invalid: no IPv4 address for that name"},

		// Sessions against each other.
		{"same-rxsession", tun + "[[tunnel.session]]\ntxsession = 1\nrxsession = 7\n[[tunnel.session]]\ntxsession = 2\nrxsession = 7\n", 9,
			"rxsession 7: the session at line 4 of this tunnel receives session ID 7 too"},
		{"same-rxsession-by-default", tun + "[[tunnel.session]]\ntxsession = 3\n[[tunnel.session]]\ntxsession = 0x3\n", 7,
			"txsession 0x3 (also the rxsession): the session at line 4"},
		{"same-udp-ends", udp + "[[tunnel.session]]\ntxsession = 1\n" + udp + "[[tunnel.session]]\ntxsession = 2\n", 9,
			"[[tunnel]] 192.0.2.1:1701 to 192.0.2.2:1701: the tunnel at line 1 has the same local and peer address and port"},
		{"same-ip-local-rxsession", tun + "[[tunnel.session]]\ntxsession = 5\n" + strings.Replace(tun, "192.0.2.2", "192.0.2.3", 1) + "[[tunnel.session]]\ntxsession = 6\nrxsession = 5\n", 11,
			"rxsession 5: the session at line 4 also receives session ID 5 at 192.0.2.1; IP encapsulation has one socket per local address"},
		{"same-ifname", tun + "[[tunnel.session]]\ntxsession = 1\nifname = \"vm0\"\n" + strings.Replace(udp, "192.0.2.2", "192.0.2.9", 1) + "[[tunnel.session]]\ntxsession = 1\nifname = \"vm0\"\n", 15,
			`ifname "vm0": the session at line 4 has this TAP too`},
		{"same-pcap", tun + "[[tunnel.session]]\ntxsession = 1\npcap = \"c.pcap\"\n[[tunnel.session]]\ntxsession = 2\npcap = \"./c.pcap\"\n", 9,
			`pcap "./c.pcap": the session at line 4 captures to this file too`},
		{"same-socket", tun + "[[tunnel.session]]\ntxsession = 1\nsocket = \"/run/vm.sock\"\n[[tunnel.session]]\ntxsession = 2\nsocket = \"/run/./vm.sock\"\n", 9,
			`socket "/run/./vm.sock": the session at line 4 listens on this socket too`},
		{"socket-with-ifname", tun + "[[tunnel.session]]\ntxsession = 1\nsocket = \"/run/vm.sock\"\nifname = \"vm0\"\n", 7,
			`ifname vm0 with socket /run/vm.sock: ifname is for a TAP`},
		{"socket-type-bad", tun + "[[tunnel.session]]\ntxsession = 1\nsocket = \"/run/vm.sock\"\nsocket-type = \"seq\"\n", 7,
			`socket-type "seq": want stream`},
		{"same-vhost-user", tun + "[[tunnel.session]]\ntxsession = 1\nsocket = \"/run/vm.sock\"\n[[tunnel.session]]\ntxsession = 2\nvhost-user = \"/run/./vm.sock\"\n", 9,
			`vhost-user "/run/./vm.sock": the session at line 4 uses this socket too`},
		{"vhost-user-with-ifname", tun + "[[tunnel.session]]\ntxsession = 1\nvhost-user = \"/run/vm.vhost\"\nifname = \"vm0\"\n", 7,
			`ifname vm0 with vhost-user /run/vm.vhost: ifname is for a TAP`},
		{"vhost-user-mode-bad", tun + "[[tunnel.session]]\ntxsession = 1\nvhost-user = \"/run/vm.vhost\"\nvhost-user-mode = \"listen\"\n", 7,
			`vhost-user-mode "listen": want server`},
		{"pcap-size-alone", tun + "[[tunnel.session]]\ntxsession = 1\npcap-size = \"1M\"\n", 4, "pcap-size without pcap"},
		{"pcap-size-unit", tun + "[[tunnel.session]]\ntxsession = 1\npcap = \"c.pcap\"\npcap-size = \"1Q\"\n", 7, `pcap-size "1Q"`},
	}

	flagInMsg := regexp.MustCompile(`(^|[\s(,])-[a-z0-9]+`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig("f.toml", []byte(tc.file), nil)
			if err == nil {
				t.Fatalf("accepted:\n%s\ngave %+v", tc.file, c)
			}
			var ue UsageError
			if !errors.As(err, &ue) {
				t.Errorf("not a usage error (exit code 2): %T %v", err, err)
			}
			msg := err.Error()
			prefix := "f.toml: "
			if tc.line != 0 {
				prefix = fmt.Sprintf("f.toml:%d: ", tc.line)
			}
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg[len(prefix):], tc.want) {
				t.Fatalf("got  %q\nwant %q followed by ...%q...", msg, prefix, tc.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("more than one line: %q", msg)
			}
			for _, m := range flagInMsg.FindAllString(msg, -1) {
				name := strings.TrimLeft(strings.TrimSpace(m[1:]), "-")
				if m = strings.TrimSpace(m); strings.HasPrefix(m, "-") {
					name = m[1:]
				}
				if _, ok := fileKeys()[name]; ok && !strings.Contains(tc.file, "-"+name) {
					t.Errorf("message spells a key as a flag (%q): %q", m, msg)
				}
			}
		})
	}
}

// TestConfigFileAccepts checks what the cross checks must let through.
func TestConfigFileAccepts(t *testing.T) {
	cases := []struct{ name, file string }{
		{"udp-same-local-other-peers", `
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1701
dstport = 1701
  [[tunnel.session]]
  txsession = 1
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.3"
udp = true
srcport = 1701
dstport = 1701
  [[tunnel.session]]
  txsession = 1
`},
		{"udp-same-rxsession-other-tunnels", `
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1701
dstport = 1701
  [[tunnel.session]]
  txsession = 1
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1702
dstport = 1701
  [[tunnel.session]]
  txsession = 1
`},
		{"ip-same-rxsession-other-local", `
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
  [[tunnel.session]]
  txsession = 1
[[tunnel]]
src = "198.51.100.1"
dst = "198.51.100.2"
  [[tunnel.session]]
  txsession = 1
`},
		{"patterns-repeat", `
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
  [[tunnel.session]]
  txsession = 1
  [[tunnel.session]]
  txsession = 2
  ifname = "vm%d"
  [[tunnel.session]]
  txsession = 3
  ifname = "vm%d"
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig("a.toml", []byte(tc.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, tu := range c.Tunnels {
				n += len(tu.Sessions)
			}
			if n != strings.Count(tc.file, "[[tunnel.session]]") || len(c.Tunnels) != strings.Count(tc.file, "[[tunnel]]") {
				t.Fatalf("got %d tunnels, %d sessions: %+v", len(c.Tunnels), n, c)
			}
		})
	}
}

// flagsToTOML writes a single-session command line as a file: each flag a
// key at its level, switches as booleans (or their on/off word when given),
// numbers as TOML integers or, with quoted, as strings.
func flagsToTOML(t *testing.T, args []string, quoted bool) (top, tunnel, session string) {
	t.Helper()
	values := flagValues(&Options{})
	var out [3]strings.Builder
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimPrefix(args[i], "-"), "=")
		v, ok := values[name]
		if !ok {
			t.Fatalf("unknown flag %q", args[i])
		}
		var lit string
		switch v.(type) {
		case *SwitchValue:
			lit = "true"
			if hasVal {
				lit = fmt.Sprintf("%q", val)
			}
		case *UintValue:
			if !hasVal {
				i++
				val = args[i]
			}
			lit = val
			if quoted {
				lit = fmt.Sprintf("%q", val)
			}
		default:
			if !hasVal {
				i++
				val = args[i]
			}
			lit = fmt.Sprintf("%q", val)
		}
		fmt.Fprintf(&out[fileKeys()[name]], "%s = %s\n", name, lit)
	}
	return out[LevelProcess].String(), out[LevelTunnel].String(), out[LevelSession].String()
}

// encaps are the four underlays, as the flags of side a (addresses
// included) of test/e2e's integration tests.
var encaps = []struct {
	name string
	a    []string
}{
	{"udp4", []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-src", "192.0.2.1", "-dst", "192.0.2.2"}},
	{"udp6", []string{"-udp", "-ipv6", "-srcport", "5000", "-dstport", "5001", "-src", "2001:db8::1", "-dst", "2001:db8::2"}},
	{"ip4", []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}},
	{"ip6", []string{"-ipv6", "-src", "2001:db8::1", "-dst", "2001:db8::2"}},
}

// variants are the session option sets test/e2e's integration tests run
// on every underlay.
var variants = []struct {
	name  string
	flags []string
}{
	{"plain", []string{"-txsession", "1"}},
	{"cookie32", []string{"-txsession", "0x10", "-rxsession", "0x10", "-txcookie", "0xdeadbeef", "-rxcookie", "0xdeadbeef"}},
	{"cookie64-counter", []string{"-txsession", "7", "-cookie64", "-txcookie", "0x0102030405060708", "-rxcookie", "0x0102030405060708", "-counter"}},
	{"pincounter-offset", []string{"-txsession", "4294967295", "-pincounter=on", "-offset", "8"}},
}

// TestConfigFileMatchesFlags checks that a file and a command line saying
// the same thing give the same Config: every underlay and option set of the
// integration tests (encaps, variants), alone and all together in one file.
func TestConfigFileMatchesFlags(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		var all strings.Builder
		want := &Config{Batch: true, Seccomp: true}
		for _, e := range encaps {
			var tunnel string
			var tc TunnelConfig
			for vi, v := range variants {
				args := slices.Concat(e.a, v.flags, []string{"-ifname", fmt.Sprintf("pw%s-%d", e.name, vi)})
				var o Options
				parseFlags(t, &o, args...)
				fromFlags, err := o.Config()
				if err != nil {
					t.Fatalf("%v: %v", args, err)
				}
				_, tun, sess := flagsToTOML(t, args, quoted)
				tunnel = tun
				file := "[[tunnel]]\n" + tun + "[[tunnel.session]]\n" + sess
				fromFile, err := parseConfig("m.toml", []byte(file), nil)
				if err != nil {
					t.Fatalf("%s:\n%v", file, err)
				}
				if !reflect.DeepEqual(fromFile, fromFlags) {
					t.Errorf("%v\nflags: %+v\nfile:  %+v\n%s", args, fromFlags, fromFile, file)
				}
				tc.Ends = fromFlags.Tunnels[0].Ends
				tc.Sessions = append(tc.Sessions, fromFlags.Tunnels[0].Sessions[0])
			}
			want.Tunnels = append(want.Tunnels, tc)
			fmt.Fprintf(&all, "[[tunnel]]\n%s", tunnel)
			for vi, v := range variants {
				_, _, sess := flagsToTOML(t, slices.Concat(v.flags, []string{"-ifname", fmt.Sprintf("pw%s-%d", e.name, vi)}), quoted)
				fmt.Fprintf(&all, "  [[tunnel.session]]\n%s", sess)
			}
		}
		got, err := parseConfig("all.toml", []byte(all.String()), nil)
		if err != nil {
			t.Fatalf("%s\n%v", all.String(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("quoted %v: one file with every tunnel and session:\ngot  %+v\nwant %+v", quoted, got, want)
		}
	}
}

// fakeLookup stands in for the resolver: every name is unknown, at once.
func fakeLookup(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// FuzzConfigFile checks that no file makes the loader panic, that every
// rejection is one line naming the file, and that every accepted file's
// sessions can be told apart: per tunnel by receive session ID, per local
// address for IP encapsulation, no UDP tunnel twice, no TAP name twice.
func FuzzConfigFile(f *testing.F) {
	restore := lookupNetIP
	lookupNetIP = fakeLookup
	defer func() { lookupNetIP = restore }()
	f.Add([]byte(twoSessions))
	f.Add([]byte("sched = \"normal\"\n[[tunnel]]\nsrc = \"2001:db8::1\"\ndst = \"2001:db8::2\"\nipv6 = true\n[[tunnel.session]]\ntxsession = 1\ncounter = true\nqueues = 2\n"))
	f.Add([]byte("[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\n[[tunnel.session]]\ntxsession = 1\n"))
	f.Add([]byte("[[tunnel.session]]\n[[tunnel]]\n"))
	f.Add([]byte("a.b.c = {x = [1, 2]}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("z.toml", data, nil)
		if err != nil {
			var ue UsageError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "z.toml") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%T %q", err, err)
			}
			return
		}
		if len(c.Tunnels) == 0 {
			t.Fatal("accepted without tunnels")
		}
		names := map[string]bool{}
		type ipRx struct {
			a  netip.Addr
			id uint32
		}
		ip := map[ipRx]bool{}
		ends := map[TunnelEnds]bool{}
		for _, tu := range c.Tunnels {
			if len(tu.Sessions) == 0 {
				t.Fatal("accepted a tunnel without sessions")
			}
			if tu.Ends.UDP {
				if ends[tu.Ends] {
					t.Fatalf("two UDP tunnels %+v", tu.Ends)
				}
				ends[tu.Ends] = true
			}
			rx := map[uint32]bool{}
			for _, s := range tu.Sessions {
				id := s.Header.RxSession
				if id == 0 || s.Header.TxSession == 0 || rx[id] {
					t.Fatalf("receive session ID %d: zero or twice in a tunnel", id)
				}
				rx[id] = true
				if !tu.Ends.UDP {
					if k := (ipRx{tu.Ends.Local, id}); ip[k] {
						t.Fatalf("session ID %d twice on %s", id, k.a)
					} else {
						ip[k] = true
					}
				}
				if s.Header.UDP != tu.Ends.UDP {
					t.Fatal("session and tunnel disagree on UDP")
				}
				if n := s.TAP.Name; !strings.Contains(n, "%") {
					if names[n] {
						t.Fatalf("TAP %q twice", n)
					}
					names[n] = true
				}
			}
		}
	})
}
