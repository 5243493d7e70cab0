package config

import (
	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/urfave/cli/v2"
)

// Flags returns the command line's flags, each setting its field of o.
func Flags(o *Options) []cli.Flag {
	o.SrcPort.max, o.DstPort.max = 65535, 65535
	o.TxSession.max, o.RxSession.max = 0xffffffff, 0xffffffff
	o.Offset.max = l2tpv3.MaxOffset
	o.MTU.max = 65535
	o.Queues.max = maxQueues
	o.Keepalive.RxTunnel.max, o.Keepalive.TxTunnel.max = 0xffffffff, 0xffffffff
	o.Keepalive.Hello.max = maxHello
	o.Keepalive.Retries.max = maxHelloRetries
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
		f("rxtunnel", "ID", "our control connection ID, which the peer's control messages carry (1..0xffffffff; with -txtunnel and -hello)", &o.Keepalive.RxTunnel),
		f("txtunnel", "ID", "the peer's control connection ID, which ours carry (its -rxtunnel; with -rxtunnel and -hello)", &o.Keepalive.TxTunnel),
		f("hello", "SECONDS", "send an RFC 3931 HELLO when the control channel was quiet this long; a peer that acknowledges none of -hello-retries transmissions of a HELLO (so within (retries + 1) times SECONDS) is down and the TAP carriers go off until it answers again (default 0: no control channel)", &o.Keepalive.Hello),
		f("hello-retries", "N", "with -hello: how many transmissions of a HELLO, each waiting at most -hello seconds, go unacknowledged, with nothing else heard from the peer, before it is down (1..255, default 10)", &o.Keepalive.Retries),
		f("hello-required", "", "with -hello: a peer down turns the carriers off (default on); off: data keeps flowing and the state is only logged and shown (for a peer without a control channel)", &o.Keepalive.Required),
		f("circuit", "NAME", "a dynamic session: the circuit (Remote End ID, e.g. vm1) both ends name; session IDs and cookies are negotiated over an RFC 3931 control connection instead of -txsession/-rxsession/-txcookie/-rxcookie", &o.Dynamic.Circuit),
		f("hostname", "NAME", "with -circuit: our host name in the control connection (default: the machine's)", &o.Dynamic.HostName),
		f("peer-hostname", "NAME", "with -circuit: the host name the peer must announce; another is refused (default: any)", &o.Dynamic.PeerName),
		f("secret-file", "FILE", "with -circuit: authenticate control messages (RFC 3931 message digest) with the shared secret in FILE (trailing newline ignored; keep it mode 0600)", &o.Dynamic.SecretFile),
		f("digest", "ALG", "with -secret-file: md5 (HMAC-MD5, default) or sha1 (HMAC-SHA-1); both ends must agree", &o.Dynamic.Digest),
		f("router-id", "ID", "with -circuit: the Router ID we announce (RFC 3931, unique per end; tie breaking over IP uses it): an IPv4 address or a number (default: the tunnel's local IPv4 address; over IPv6 the last 32 bits of the local address)", &o.Dynamic.RouterID),
		f("role", "ROLE", "with -circuit: initiator (request the connection and sessions), responder (wait for the peer's) or both (default; ties broken as RFC 3931 says)", &o.Dynamic.Role),
		f("config", "FILE", "read tunnels and sessions from this TOML file, whose keys are the flag names (see the README); instead of the tunnel and session options; -sched, -ip-path, -cpuprofile, -memprofile, -user, -seccomp, -control, -metrics and -log-format may be given with it and override the file's top-level keys", &o.ConfigFile),
		f("log-format", "FORMAT", "text: log lines 'l2tap: MESSAGE key=value ...', counters as 'name value' lines (default); json: every log line one JSON object on stderr, the counters one JSON object on stdout", &o.LogFormat),
		f("control", "PATH", "unix socket 'l2tap show' asks (default "+DefaultStatusSocketDir+"/<TAP>.sock, <TAP>@<netns>.sock outside the main network namespace; -control off disables)", &o.Observe.StatusSocket),
		f("metrics", "ADDR", "serve Prometheus metrics on http://ADDR/metrics, such as 127.0.0.1:9723 (default off)", &o.Observe.Metrics),
	}
}
