// Command l2tap bridges a Linux TAP device to a static L2TPv3 Ethernet
// pseudowire (RFC 3931, RFC 4719), so that whatever is attached to the TAP
// sits on the peer's Layer-2 network. Its options carry the names and
// meanings of QEMU's -netdev l2tpv3.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

const description = `l2tap creates a TAP device (or attaches to one) and carries every Ethernet
frame on it over a static L2TPv3 pseudowire to a peer: a Linux host with
'ip l2tp', QEMU's -netdev l2tpv3, or a router. Options use QEMU's l2tpv3 names
and meanings; numbers take decimal or 0x-hex; switches work bare (-udp) or as
-udp=on/off.

Examples:
   # UDP on port 1701 both ways, session 1, 32-bit cookies
   l2tap -udp -src 192.0.2.1 -dst 192.0.2.2 -srcport 1701 -dstport 1701 \
         -txsession 1 -txcookie 0x11223344 -rxcookie 0x55667788 -ifname vm0

   # IP encapsulation (protocol 115) over IPv6 with the sequenced sublayer
   l2tap -ipv6 -src 2001:db8::1 -dst 2001:db8::2 -txsession 7 -counter

   # tunnels and their sessions from a TOML file whose keys are the flag names:
   # top-level keys sched ip-path cpuprofile memprofile user seccomp control metrics log-format;
   # [[tunnel]] keys src dst udp srcport dstport ipv6 rxtunnel txtunnel hello
   # hello-required hello-retries; [[tunnel.session]]: the others
   l2tap -config /etc/l2tap/l2tap.toml

On SIGINT or SIGTERM l2tap prints its counters and removes the TAPs it made.
SIGUSR1 prints the counters without stopping; so does 'l2tap show', through
the control socket (-control), for every l2tap running. With -config, SIGHUP
reads the file again: sessions added, removed or changed follow it, the
others carry on untouched.`

const helpTemplate = `Usage: {{.UsageText}}

{{.Usage}}.

{{.Description}}

Options:
{{range .VisibleFlags}}   {{.}}
{{end}}
Commands:
   show [-json] [-socket PATH]	print the tunnels, sessions and counters of running l2taps (l2tap show -help)
`

func flagSpecs(o *Options) []cli.Flag {
	o.SrcPort.max, o.DstPort.max = 65535, 65535
	o.TxSession.max, o.RxSession.max = 0xffffffff, 0xffffffff
	o.Offset.max = maxOffset
	o.MTU.max = 65535
	o.Queues.max = maxQueues
	o.Control.RxTunnel.max, o.Control.TxTunnel.max = 0xffffffff, 0xffffffff
	o.Control.Hello.max = maxHello
	o.Control.Retries.max = maxHelloRetries
	f := func(name, arg, usage string, v cli.Generic) cli.Flag {
		if arg != "" {
			usage = "`" + arg + "` " + usage
		}
		return &cli.GenericFlag{Name: name, Usage: usage, Value: v}
	}
	return []cli.Flag{
		f("src", "ADDR", "local underlay address or name to send from (required)", &o.Src),
		f("dst", "ADDR", "peer's underlay address or name (required); only its packets are accepted", &o.Dst),
		f("udp", "", "UDP encapsulation (default: IP protocol 115)", &o.UDP),
		f("srcport", "PORT", "local UDP port (with -udp)", &o.SrcPort),
		f("dstport", "PORT", "peer's UDP port (with -udp)", &o.DstPort),
		f("ipv6", "", "IPv6 underlay (default IPv4)", &o.IPv6),
		f("txsession", "ID", "session ID sent to the peer, 1..0xffffffff (required)", &o.TxSession),
		f("rxsession", "ID", "session ID expected from the peer (default: -txsession)", &o.RxSession),
		f("txcookie", "N", "cookie sent to the peer (ip l2tp: its peer_cookie); alone, none is expected back (default: no cookie sent)", &o.TxCookie),
		f("rxcookie", "N", "cookie expected from the peer (ip l2tp: its cookie); others are dropped; alone, none is sent (default: none expected)", &o.RxCookie),
		f("cookie64", "", "both cookies are 64 bits (default 32)", &o.Cookie64),
		f("txcookie64", "", "the cookie sent is 64 bits, whatever -cookie64 says (-txcookie64=off: 32)", &o.TxCookie64),
		f("rxcookie64", "", "the cookie expected is 64 bits, whatever -cookie64 says (-rxcookie64=off: 32)", &o.RxCookie64),
		f("counter", "", "send the default sublayer with sequence numbers (ip l2tp: l2spec_type default seq both)", &o.Counter),
		f("pincounter", "", "send the default sublayer with zeros (ip l2tp: l2spec_type default seq none); implies a sublayer", &o.PinCount),
		f("offset", "N", "zero bytes between header and frame, as QEMU's offset (0..255; Linux ignores it)", &o.Offset),
		f("seqcheck", "", "drop out-of-order packets (like ip l2tp seq recv); default counts and forwards them", &o.SeqCheck),
		f("ifname", "NAME", "TAP name; %d picks a free number (default l2tap%d)", &o.IfName),
		f("attach", "", "use the existing TAP -ifname and leave it in place on exit", &o.Attach),
		f("mtu", "N", "TAP MTU (default: path MTU to -dst minus encapsulation)", &o.MTU),
		f("mss-clamp", "MODE", "lower the MSS option of TCP SYNs and SYN-ACKs crossing the pseudowire, both ways, so that connections send segments that cross it unfragmented: auto: to the pseudowire's payload MTU - 40 (IPv4), - 60 (IPv6); N: to N bytes; off: never (default: auto when the TAP's MTU is above what fits the path, as with -mtu 1500 over a 1500-byte underlay, else off)", &o.MSSClamp),
		f("mac", "ADDR", "MAC of a TAP l2tap creates: persistent (the same on every start, derived from /etc/machine-id and the TAP's name; random with a warning when there is no machine ID), random (a new one each start) or an address such as 02:00:5e:10:00:01 (default persistent; not with -attach)", &o.MAC),
		f("owner", "USER", "owner of a TAP l2tap creates, or of the -socket file (name or uid)", &o.Owner),
		f("group", "GROUP", "group of a TAP l2tap creates, or of the -socket file, then mode 0660 (name or gid)", &o.Group),
		f("master", "BRIDGE", "enslave the TAP to this bridge", &o.Master),
		f("socket", "PATH", "the session's endpoint is a unix socket at PATH that a VM's QEMU connects to (-netdev stream, or dgram), instead of a TAP: no TAP or root needed for the VM; l2tap prints the QEMU option to use", &o.Socket),
		f("socket-type", "TYPE", "with -socket: stream (QEMU -netdev stream, or -net socket: a length before each frame; default) or dgram (QEMU -netdev dgram over unix sockets: a frame per datagram)", &o.SocketType),
		f("offload", "MODE", "auto: TAP segmentation offloads, UDP GSO/GRO and TCP coalescing where the kernel has them; full: auto, and UDP datagrams coalesced into the TAP too; off: one frame per system call", &o.Offload),
		f("tap-driver", "DRIVER", "kernel: Linux's /dev/net/tun with offloads and queues (default on Linux); water: the portable TAP of songgao/water, one frame per system call (the only one on other systems)", &o.TAPDriver),
		f("queues", "N", "TAP queues, each read by its own loop (IFF_MULTI_QUEUE; default 1); flows spread over them", &o.Queues),
		f("sched", "POLICY", "batch: threads run as SCHED_BATCH (when woken they wait their turn instead of preempting), fewer context switches under bulk traffic; normal: the kernel's default policy (default batch)", &o.Sched),
		f("ip-path", "PATH", "how IP encapsulation over IPv4 leaves: raw: a raw IP socket through the kernel's IP output (default); packet: an AF_PACKET socket on the underlay interface with the Ethernet and IPv4 headers built by l2tap from the route and the neighbour's address, skipping the route lookup, netfilter and queueing disciplines (and IPsec policies) per packet; the raw socket still receives, and sends while the neighbour is unresolved, on links other than Ethernet, and frames above the link MTU", &o.IPPath),
		f("cpuprofile", "FILE", "write a Go CPU profile to FILE until exit (for performance work)", &o.CPUProfile),
		f("memprofile", "FILE", "write a Go heap profile (live memory after a collection) to FILE on exit and on SIGUSR2, each time replacing the last (for finding what holds memory)", &o.MemProfile),
		f("user", "USER", "once set up, run as this user (name or uid) and its primary group, with no supplementary groups (default: started as root, the l2tap account, else nobody; otherwise the user started as); root stays root, with a warning; every capability is dropped either way", &o.User),
		f("seccomp", "", "once set up, allow only the system calls moving frames needs; any other kills l2tap with SIGSYS naming the call (default on; -seccomp=off disables)", &o.Seccomp),
		f("pcap", "FILE", "capture what crosses the pseudowire to FILE in pcap format: the Ethernet frames each way (see -pcap-outer); never slows the data path (frames the writer cannot keep up with count as pcap_dropped)", &o.Pcap),
		f("pcap-outer", "", "with -pcap: capture the L2TPv3 packets with outer IP/UDP headers (rebuilt from the tunnel's addresses and ports) instead of the frames", &o.PcapOuter),
		f("pcap-size", "SIZE", "with -pcap: when FILE reaches SIZE (bytes, or 100M, 1G, 512MiB), rename it FILE.1 (replacing the old one) and start FILE anew (default: no limit)", &o.PcapSize),
		f("rxtunnel", "ID", "our control connection ID, which the peer's control messages carry (1..0xffffffff; with -txtunnel and -hello)", &o.Control.RxTunnel),
		f("txtunnel", "ID", "the peer's control connection ID, which ours carry (its -rxtunnel; with -rxtunnel and -hello)", &o.Control.TxTunnel),
		f("hello", "SECONDS", "send an RFC 3931 HELLO when the control channel was quiet this long; a peer that acknowledges none of -hello-retries transmissions of a HELLO (so within (retries + 1) times SECONDS) is down and the TAP carriers go off until it answers again (default 0: no control channel)", &o.Control.Hello),
		f("hello-retries", "N", "with -hello: how many transmissions of a HELLO, each waiting at most -hello seconds, go unacknowledged, with nothing else heard from the peer, before it is down (1..255, default 10)", &o.Control.Retries),
		f("hello-required", "", "with -hello: a peer down turns the carriers off (default on); off: data keeps flowing and the state is only logged and shown (for a peer without a control channel)", &o.Control.Required),
		f("circuit", "NAME", "a dynamic session: the circuit (Remote End ID, e.g. vm1) both ends name; session IDs and cookies are negotiated over an RFC 3931 control connection instead of -txsession/-rxsession/-txcookie/-rxcookie", &o.Dynamic.Circuit),
		f("hostname", "NAME", "with -circuit: our host name in the control connection (default: the machine's)", &o.Dynamic.HostName),
		f("peer-hostname", "NAME", "with -circuit: the host name the peer must announce; another is refused (default: any)", &o.Dynamic.PeerName),
		f("secret-file", "FILE", "with -circuit: authenticate control messages (RFC 3931 message digest) with the shared secret in FILE (trailing newline ignored; keep it mode 0600)", &o.Dynamic.SecretFile),
		f("digest", "ALG", "with -secret-file: md5 (HMAC-MD5, default) or sha1 (HMAC-SHA-1); both ends must agree", &o.Dynamic.Digest),
		f("router-id", "ID", "with -circuit: the Router ID we announce (RFC 3931, unique per end; tie breaking over IP uses it): an IPv4 address or a number (default: the tunnel's local IPv4 address; over IPv6 the last 32 bits of the local address)", &o.Dynamic.RouterID),
		f("role", "ROLE", "with -circuit: initiator (request the connection and sessions), responder (wait for the peer's) or both (default; ties broken as RFC 3931 says)", &o.Dynamic.Role),
		f("config", "FILE", "read tunnels and sessions from this TOML file, whose keys are the flag names (see the README); instead of the tunnel and session options; -sched, -ip-path, -cpuprofile, -memprofile, -user, -seccomp, -control, -metrics and -log-format may be given with it and override the file's top-level keys", &o.ConfigFile),
		f("log-format", "FORMAT", "text: log lines 'l2tap: MESSAGE key=value ...', counters as 'name value' lines (default); json: every log line one JSON object on stderr, the counters one JSON object on stdout", &o.LogFormat),
		f("control", "PATH", "unix socket 'l2tap show' asks (default "+defaultControlDir+"/<TAP>.sock, <TAP>@<netns>.sock outside the main network namespace; -control off disables)", &o.Observe.Control),
		f("metrics", "ADDR", "serve Prometheus metrics on http://ADDR/metrics, such as 127.0.0.1:9723 (default off)", &o.Observe.Metrics),
	}
}

func newApp(o *Options) *cli.App {
	var showVersion onOff
	return &cli.App{
		Name:                  "l2tap",
		Usage:                 "bridge a TAP device to a static L2TPv3 Ethernet pseudowire",
		UsageText:             "l2tap -src ADDR -dst ADDR -txsession ID [options]\n   or: l2tap -config FILE [-sched POLICY] [-ip-path PATH] [-user USER] [-seccomp=off] [-control PATH] [-metrics ADDR] [-log-format FORMAT] [-cpuprofile FILE] [-memprofile FILE]",
		Description:           description,
		HideHelpCommand:       true,
		CustomAppHelpTemplate: helpTemplate,
		Flags:                 append(flagSpecs(o), versionFlag(&showVersion)),
		OnUsageError:          onUsageError("l2tap -help"),
		Commands:              []*cli.Command{showCommand(), manCommand()},
		Action: func(ctx *cli.Context) error {
			if showVersion.val {
				_, err := fmt.Fprintln(ctx.App.Writer, versionLine())
				return err
			}
			if ctx.NArg() > 0 {
				return usagef("unexpected argument %q: options start with a dash (see l2tap -help)", ctx.Args().First())
			}
			// Errors from here on are logged in the format asked for on
			// the command line; the file's log-format applies once read.
			slog.SetDefault(newLogger(os.Stderr, o.LogFormat.val == "json"))
			var cfg *Config
			var err error
			if o.ConfigFile.set {
				cfg, err = configFromFile(ctx, o)
			} else {
				cfg, err = o.Config()
			}
			if err != nil {
				return err
			}
			slog.SetDefault(newLogger(os.Stderr, cfg.LogJSON))
			if helper, err := helperMode(cfg, hostOpener{}); helper {
				return err
			}
			return Run(cfg, hostOpener{})
		},
	}
}

// configFromFile loads -config FILE, refusing the flags that the file
// replaces.
func configFromFile(ctx *cli.Context, o *Options) (*Config, error) {
	file := o.ConfigFile.val
	if file == "" {
		return nil, usagef("-config needs a file name (e.g. -config /etc/l2tap/l2tap.toml)")
	}
	for _, fl := range ctx.App.Flags {
		name := fl.Names()[0]
		if level, ok := fileKeys()[name]; ok && level != levelProcess && ctx.IsSet(name) {
			return nil, usagef("-%s with -config: tunnel and session options go in %s as %s = ... under %s; drop -%s", name, file, name, level.tableName(), name)
		}
	}
	cfg, err := loadConfigFile(file, o)
	if err != nil {
		return nil, err
	}
	cfg.Reload = func() (*Config, error) { return loadConfigFile(file, o) }
	return cfg, nil
}

// onUsageError turns the command line parser's errors into usage errors
// (exit code 2) that point at help.
func onUsageError(help string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		msg := err.Error()
		if strings.HasPrefix(msg, "flag provided but not defined") {
			msg += "; see " + help
		}
		return usageError{errors.New(msg)}
	}
}

const showHelpTemplate = `Usage: {{.UsageText}}

{{.Usage}}.

{{.Description}}

Options:
{{range .VisibleFlags}}   {{.}}
{{end}}`

// showCommand is `l2tap show`: see runShow.
func showCommand() *cli.Command {
	var asJSON onOff
	var socket text
	return &cli.Command{
		Name:      "show",
		Usage:     "print the tunnels, sessions and counters of running l2taps",
		UsageText: "l2tap show [-json] [-socket PATH]",
		Description: `Asks each l2tap through its control socket (see l2tap -help, -control) and
prints, per process, its tunnels and per session the session IDs, the TAP,
its MTU and the counters, as 'ip -s l2tp show session' does. Without
-socket every socket in ` + defaultControlDir + ` is asked. Exit status 1 when no
l2tap answers.`,
		CustomHelpTemplate: showHelpTemplate,
		HideHelpCommand:    true,
		Flags: []cli.Flag{
			&cli.GenericFlag{Name: "json", Usage: "print a JSON array with one object per process", Value: &asJSON},
			&cli.GenericFlag{Name: "socket", Usage: "`PATH` ask only the l2tap on this control socket", Value: &socket},
		},
		OnUsageError: onUsageError("l2tap show -help"),
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return usagef("show: unexpected argument %q (see l2tap show -help)", ctx.Args().First())
			}
			if l := ctx.Lineage(); len(l) > 1 && l[1].NumFlags() > 0 {
				return usagef("show: options before show are for starting an l2tap; give show's own after it (see l2tap show -help)")
			}
			if socket.set && socket.val == "" {
				return usagef("-socket \"\": give the path of a control socket, or leave -socket out to ask every l2tap")
			}
			return runShow(os.Stdout, socket.val, asJSON.val)
		},
	}
}

func main() {
	slog.SetDefault(newLogger(os.Stderr, false))
	cli.FlagStringer = singleDash
	var o Options
	if err := newApp(&o).Run(os.Args); err != nil {
		slog.Error(err.Error())
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// singleDash renders a flag for -help the way it is typed: -name VALUE.
func singleDash(fl cli.Flag) string {
	g, ok := fl.(*cli.GenericFlag)
	if !ok {
		return "-help\tshow this help"
	}
	arg, usage := "", g.Usage
	if i := strings.Index(usage, "` "); strings.HasPrefix(usage, "`") && i > 0 {
		arg, usage = " "+usage[1:i], usage[i+2:]
	}
	return fmt.Sprintf("-%s%s\t%s", g.Name, arg, usage)
}
