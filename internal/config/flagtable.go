package config

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/urfave/cli/v2"
)

// The flag table: every option l2tap takes, on the command line or in a
// configuration file, is one entry of flagTable. The command line's flags
// (Flags), the file's keys and the table each belongs in (fileKeys), the
// copying of a file's values and of the command line's process options
// (cfFile.set, cfFile.check), the help's key lists (FileKeys), the manual
// page's OPTIONS (root manpage.go), the shell completions and the options
// reference (generate.go) all come from it. A new option is a new field
// of Options, an entry here, and its check.

// Level is where an option belongs: the table of a configuration file
// that holds its key, or the command line only.
type Level int

const (
	LevelSession     Level = iota // [[tunnel.session]]: one pseudowire and its TAP
	LevelTunnel                   // [[tunnel]]: one underlay socket's two ends
	LevelProcess                  // the top of the file: the whole process
	LevelCommandLine              // the command line only: not a file key
)

// Completion says what a shell completes as an option's value.
type Completion int

const (
	CompleteNone      Completion = iota // nothing (a number, a name l2tap cannot list)
	CompleteFile                        // a file name
	CompleteUser                        // a user name
	CompleteGroup                       // a group name
	CompleteBridge                      // a bridge on this host
	CompleteInterface                   // a network interface on this host
	CompleteHost                        // a host name or address
)

// ValueType is the kind of value an option takes.
type ValueType int

const (
	TypeSwitch ValueType = iota // SwitchValue: bare, or =on/off
	TypeUint                    // UintValue: decimal or 0x-hex
	TypeString                  // StringValue
)

// Flag is one option: an entry of the flag table.
type Flag struct {
	Name  string // the flag without its dash, and the file's key
	Level Level
	// Arg names the value in help (-src ADDR); "" for a switch.
	Arg string
	// Usage is the line -help prints after the flag and its Arg.
	Usage string
	// Man, when set, is the longer text of the manual page and the options
	// reference; otherwise they show Usage.
	Man string
	// Summary is the few words a shell's completion shows for the option.
	Summary string
	// Default is the value without the option, as the options reference
	// shows it (markdown); "" when there is none to show.
	Default string
	// Values are the words the value may be, offered by completion.
	Values []string
	// Complete is what completion offers for other values.
	Complete Completion
	// NameOrNumber: a string value that a file may give as a TOML
	// integer (a user, a size, a Router ID).
	NameOrNumber bool
	// FileOnly: a key of the configuration file without a flag (secret:
	// a command line shows in ps).
	FileOnly bool
	max      uint64                 // the largest UintValue, 0 for none
	field    func(o *Options) value // the field of Options it sets
}

// value is what the flag value types have in common.
type value interface {
	cli.Generic
	given() bool
}

func (b *SwitchValue) given() bool { return b.Given }
func (n *UintValue) given() bool   { return n.Given }
func (t *StringValue) given() bool { return t.Given }

// ManText is the option's text in the manual page and options reference.
func (f *Flag) ManText() string {
	if f.Man != "" {
		return f.Man
	}
	return f.Usage
}

// Type is the kind of value the option takes.
func (f *Flag) Type() ValueType {
	switch f.field(&Options{}).(type) {
	case *SwitchValue:
		return TypeSwitch
	case *UintValue:
		return TypeUint
	}
	return TypeString
}

// valueIn returns the option's value in o, with its limit set.
func (f *Flag) valueIn(o *Options) value {
	v := f.field(o)
	if n, ok := v.(*UintValue); ok {
		n.max = f.max
	}
	return v
}

// FlagTable returns every option, in the order of -help.
func FlagTable() []Flag { return slices.Clone(flagTable()) }

// LookupFlag returns the option called name, or nil. The entry is
// shared: read it, do not change it.
func LookupFlag(name string) *Flag {
	t := flagTable()
	for i := range t {
		if t[i].Name == name {
			return &t[i]
		}
	}
	return nil
}

// Flags returns the command line's flags, each setting its field of o.
func Flags(o *Options) []cli.Flag {
	var flags []cli.Flag
	for _, f := range flagTable() {
		if f.FileOnly {
			continue
		}
		usage := f.Usage
		if f.Arg != "" {
			usage = "`" + f.Arg + "` " + usage
		}
		flags = append(flags, &cli.GenericFlag{Name: f.Name, Usage: usage, Value: f.valueIn(o)})
	}
	return flags
}

// FileKeys returns the keys of a configuration file at level, in table
// order.
func FileKeys(level Level) []string {
	var keys []string
	for _, f := range flagTable() {
		if f.Level == level {
			keys = append(keys, f.Name)
		}
	}
	return keys
}

// processFlagList names the process options of table t in a sentence:
// "-sched, -ip-path ... and -metrics".
func processFlagList(t []Flag) string {
	var names []string
	for _, f := range t {
		if f.Level == LevelProcess {
			names = append(names, "-"+f.Name)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// ProcessSynopsis is the process options as a usage line shows them:
// "[-sched POLICY] ... [-seccomp=off] ...", a switch that is on by
// default as the way to turn it off.
func ProcessSynopsis() string {
	var parts []string
	for _, f := range flagTable() {
		if f.Level != LevelProcess {
			continue
		}
		switch {
		case f.Arg != "":
			parts = append(parts, fmt.Sprintf("[-%s %s]", f.Name, f.Arg))
		case f.Default == "on":
			parts = append(parts, fmt.Sprintf("[-%s=off]", f.Name))
		default:
			parts = append(parts, fmt.Sprintf("[-%s]", f.Name))
		}
	}
	return strings.Join(parts, " ")
}

// flagTable is the table, built once: the usage of -config names the
// process options, so it is filled in after the rest.
var flagTable = sync.OnceValue(func() []Flag {
	t := flagEntries()
	i := slices.IndexFunc(t, func(f Flag) bool { return f.Name == "config" })
	t[i].Usage = "read tunnels and sessions from this TOML file, whose keys are the flag names (see the README); instead of the tunnel and session options; " +
		processFlagList(t) + " may be given with it and override the file's top-level keys"
	return t
})

// flagEntries is the flag table, in the order of -help.
func flagEntries() []Flag {
	return []Flag{
		{Name: "src", Level: LevelTunnel,
			Arg:      "ADDR",
			Usage:    "local underlay address or name to send from (required)",
			Summary:  "local underlay address or name",
			Default:  "required",
			Complete: CompleteHost,
			field:    func(o *Options) value { return &o.Src }},
		{Name: "dst", Level: LevelTunnel,
			Arg:      "ADDR",
			Usage:    "peer's underlay address or name (required); only its packets are accepted",
			Summary:  "peer underlay address or name",
			Default:  "required",
			Complete: CompleteHost,
			field:    func(o *Options) value { return &o.Dst }},
		{Name: "udp", Level: LevelTunnel,
			Usage:   "UDP encapsulation (default: IP protocol 115)",
			Summary: "UDP encapsulation",
			Default: "IP encapsulation, protocol 115",
			field:   func(o *Options) value { return &o.UDP }},
		{Name: "srcport", Level: LevelTunnel,
			Arg:     "PORT",
			Usage:   "local UDP port (with -udp)",
			Summary: "local UDP port",
			max:     65535,
			field:   func(o *Options) value { return &o.SrcPort }},
		{Name: "dstport", Level: LevelTunnel,
			Arg:     "PORT",
			Usage:   "peer's UDP port (with -udp)",
			Summary: "peer UDP port",
			max:     65535,
			field:   func(o *Options) value { return &o.DstPort }},
		{Name: "ipv6", Level: LevelTunnel,
			Usage:   "IPv6 underlay (default IPv4)",
			Summary: "IPv6 underlay",
			Default: "IPv4",
			field:   func(o *Options) value { return &o.IPv6 }},
		{Name: "txsession", Level: LevelSession,
			Arg:     "ID",
			Usage:   "session ID sent to the peer, 1..0xffffffff (required)",
			Summary: "session ID sent to the peer",
			Default: "required (static sessions)",
			max:     0xffffffff,
			field:   func(o *Options) value { return &o.TxSession }},
		{Name: "rxsession", Level: LevelSession,
			Arg:     "ID",
			Usage:   "session ID expected from the peer (default: -txsession)",
			Summary: "session ID expected from the peer",
			Default: "`-txsession`",
			max:     0xffffffff,
			field:   func(o *Options) value { return &o.RxSession }},
		{Name: "txcookie", Level: LevelSession,
			Arg:     "N",
			Usage:   "cookie sent to the peer (ip l2tp: its peer_cookie); alone, none is expected back (default: no cookie sent)",
			Summary: "cookie sent to the peer",
			Default: "no cookie sent",
			field:   func(o *Options) value { return &o.TxCookie }},
		{Name: "rxcookie", Level: LevelSession,
			Arg:     "N",
			Usage:   "cookie expected from the peer (ip l2tp: its cookie); others are dropped; alone, none is sent (default: none expected)",
			Summary: "cookie expected from the peer",
			Default: "none expected",
			field:   func(o *Options) value { return &o.RxCookie }},
		{Name: "cookie64", Level: LevelSession,
			Usage:   "both cookies are 64 bits (default 32)",
			Summary: "64-bit cookies both ways",
			Default: "32-bit",
			field:   func(o *Options) value { return &o.Cookie64 }},
		{Name: "txcookie64", Level: LevelSession,
			Usage:   "the cookie sent is 64 bits, whatever -cookie64 says (-txcookie64=off: 32)",
			Summary: "the cookie sent is 64 bits",
			Default: "`-cookie64`",
			field:   func(o *Options) value { return &o.TxCookie64 }},
		{Name: "rxcookie64", Level: LevelSession,
			Usage:   "the cookie expected is 64 bits, whatever -cookie64 says (-rxcookie64=off: 32)",
			Summary: "the cookie expected is 64 bits",
			Default: "`-cookie64`",
			field:   func(o *Options) value { return &o.RxCookie64 }},
		{Name: "counter", Level: LevelSession,
			Usage:   "send the default sublayer with sequence numbers (ip l2tp: l2spec_type default seq both)",
			Summary: "send the sequenced sublayer",
			Default: "no sublayer",
			field:   func(o *Options) value { return &o.Counter }},
		{Name: "pincounter", Level: LevelSession,
			Usage:   "send the default sublayer with zeros (ip l2tp: l2spec_type default seq none); implies a sublayer",
			Summary: "send the sublayer with zeros",
			field:   func(o *Options) value { return &o.PinCount }},
		{Name: "offset", Level: LevelSession,
			Arg:     "N",
			Usage:   "zero bytes between header and frame, as QEMU's offset (0..255; Linux ignores it)",
			Summary: "zero bytes between header and frame",
			Default: "0",
			max:     l2tpv3.MaxOffset,
			field:   func(o *Options) value { return &o.Offset }},
		{Name: "seqcheck", Level: LevelSession,
			Usage:   "drop out-of-order packets (like ip l2tp seq recv); default counts and forwards them",
			Summary: "drop out-of-order packets",
			Default: "count and forward",
			field:   func(o *Options) value { return &o.SeqCheck }},
		{Name: "ifname", Level: LevelSession,
			Arg:      "NAME",
			Usage:    "TAP name; %d picks a free number (default l2tap%d)",
			Summary:  "TAP name",
			Default:  "`l2tap%d`",
			Complete: CompleteInterface,
			field:    func(o *Options) value { return &o.IfName }},
		{Name: "attach", Level: LevelSession,
			Usage:   "use the existing TAP -ifname and leave it in place on exit",
			Summary: "use the existing TAP",
			Default: "create",
			field:   func(o *Options) value { return &o.Attach }},
		{Name: "mtu", Level: LevelSession,
			Arg:     "N",
			Usage:   "TAP MTU (default: path MTU to -dst minus encapsulation)",
			Summary: "TAP MTU",
			Default: "path MTU minus encapsulation",
			max:     65535,
			field:   func(o *Options) value { return &o.MTU }},
		{Name: "mss-clamp", Level: LevelSession,
			Arg:          "MODE",
			Usage:        "lower the MSS option of TCP SYNs and SYN-ACKs crossing the pseudowire, both ways, so that connections send segments that cross it unfragmented: auto: to the pseudowire's payload MTU - 40 (IPv4), - 60 (IPv6); N: to N bytes; off: never (default: auto when the TAP's MTU is above what fits the path, as with -mtu 1500 over a 1500-byte underlay, else off)",
			Summary:      "lower the MSS of TCP SYNs to fit the path",
			Default:      "`auto` if the TAP's MTU is above the path's, else `off`",
			Values:       []string{"auto", "off"},
			NameOrNumber: true,
			field:        func(o *Options) value { return &o.MSSClamp }},
		{Name: "mac", Level: LevelSession,
			Arg:     "ADDR",
			Usage:   "MAC of a TAP l2tap creates: persistent (the same on every start, derived from /etc/machine-id and the TAP's name; random with a warning when there is no machine ID), random (a new one each start) or an address such as 02:00:5e:10:00:01 (default persistent; not with -attach)",
			Summary: "MAC of a TAP l2tap creates",
			Default: "`persistent`",
			Values:  []string{"persistent", "random"},
			field:   func(o *Options) value { return &o.MAC }},
		{Name: "owner", Level: LevelSession,
			Arg:          "USER",
			Usage:        "owner of a TAP l2tap creates, or of the -socket file (name or uid)",
			Summary:      "owner of the TAP or socket",
			Default:      "root only",
			Complete:     CompleteUser,
			NameOrNumber: true,
			field:        func(o *Options) value { return &o.Owner }},
		{Name: "group", Level: LevelSession,
			Arg:          "GROUP",
			Usage:        "group of a TAP l2tap creates, or of the -socket file, then mode 0660 (name or gid)",
			Summary:      "group of the TAP or socket",
			Default:      "root only",
			Complete:     CompleteGroup,
			NameOrNumber: true,
			field:        func(o *Options) value { return &o.Group }},
		{Name: "master", Level: LevelSession,
			Arg:      "BRIDGE",
			Usage:    "enslave the TAP to this bridge",
			Summary:  "bridge the TAP joins",
			Complete: CompleteBridge,
			field:    func(o *Options) value { return &o.Master }},
		{Name: "socket", Level: LevelSession,
			Arg:      "PATH",
			Usage:    "the session's endpoint is a unix socket at PATH that a VM's QEMU connects to (-netdev stream, or dgram), instead of a TAP: no TAP or root needed for the VM; l2tap prints the QEMU option to use",
			Summary:  "ask only this status socket",
			Default:  "a TAP",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.Socket }},
		{Name: "socket-type", Level: LevelSession,
			Arg:     "TYPE",
			Usage:   "with -socket: stream (QEMU -netdev stream, or -net socket: a length before each frame; default) or dgram (QEMU -netdev dgram over unix sockets: a frame per datagram)",
			Summary: "QEMU netdev of the socket",
			Default: "`stream`",
			Values:  []string{"stream", "dgram"},
			field:   func(o *Options) value { return &o.SocketType }},
		{Name: "vhost-user", Level: LevelSession,
			Arg:      "PATH",
			Usage:    "the session's endpoint is a vhost-user backend on the unix socket at PATH (QEMU -netdev vhost-user, DPDK's virtio-user), instead of a TAP: the VM's memory is shared with l2tap, frames carry virtio-net offloads, no TAP or root needed; l2tap prints the QEMU options to use (Linux only)",
			Summary:  "vhost-user socket of the session",
			Default:  "a TAP",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.VhostUser }},
		{Name: "vhost-user-mode", Level: LevelSession,
			Arg:     "MODE",
			Usage:   "with -vhost-user: server (l2tap listens on PATH, QEMU connects; default) or client (l2tap connects to PATH, where QEMU listens with server=on, and connects again whenever the frontend goes)",
			Summary: "who listens on the vhost-user socket",
			Default: "`server`",
			Values:  []string{"server", "client"},
			field:   func(o *Options) value { return &o.VhostUserMode }},
		{Name: "offload", Level: LevelSession,
			Arg:     "MODE",
			Usage:   "auto: TAP segmentation offloads, UDP GSO/GRO and TCP coalescing where the kernel has them; full: auto, and UDP datagrams coalesced into the TAP too; off: one frame per system call",
			Summary: "offloads",
			Default: "`auto`",
			Values:  []string{"auto", "full", "off"},
			field:   func(o *Options) value { return &o.Offload }},
		{Name: "tap-driver", Level: LevelSession,
			Arg:     "DRIVER",
			Usage:   "kernel: Linux's /dev/net/tun with offloads and queues (default on Linux); water: the portable TAP of songgao/water, one frame per system call (the only one on other systems)",
			Summary: "TAP driver",
			Default: "`kernel` on Linux, `water` elsewhere",
			Values:  []string{"kernel", "water"},
			field:   func(o *Options) value { return &o.TAPDriver }},
		{Name: "queues", Level: LevelSession,
			Arg:     "N",
			Usage:   "TAP queues, each read by its own loop (IFF_MULTI_QUEUE; default 1); flows spread over them",
			Summary: "TAP queues",
			Default: "1",
			max:     maxQueues,
			field:   func(o *Options) value { return &o.Queues }},
		{Name: "sched", Level: LevelProcess,
			Arg:     "POLICY",
			Usage:   "batch: threads run as SCHED_BATCH (when woken they wait their turn instead of preempting), fewer context switches under bulk traffic; normal: the kernel's default policy (default batch)",
			Summary: "scheduling policy",
			Default: "`batch`",
			Values:  []string{"batch", "normal"},
			field:   func(o *Options) value { return &o.Sched }},
		{Name: "ip-path", Level: LevelProcess,
			Arg:     "PATH",
			Usage:   "how IP encapsulation over IPv4 leaves: raw: a raw IP socket through the kernel's IP output (default); packet: an AF_PACKET socket on the underlay interface with the Ethernet and IPv4 headers built by l2tap from the route and the neighbour's address, skipping the route lookup, netfilter and queueing disciplines (and IPsec policies) per packet; the raw socket still receives, and sends while the neighbour is unresolved, on links other than Ethernet, and frames above the link MTU",
			Summary: "how IP encapsulation over IPv4 is sent",
			Default: "`raw`",
			Values:  []string{"raw", "packet"},
			field:   func(o *Options) value { return &o.IPPath }},
		{Name: "cpuprofile", Level: LevelProcess,
			Arg:      "FILE",
			Usage:    "write a Go CPU profile to FILE until exit (for performance work)",
			Summary:  "write a CPU profile",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.CPUProfile }},
		{Name: "memprofile", Level: LevelProcess,
			Arg:      "FILE",
			Usage:    "write a Go heap profile (live memory after a collection) to FILE on exit and on SIGUSR2, each time replacing the last (for finding what holds memory)",
			Summary:  "write a heap profile",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.MemProfile }},
		{Name: "user", Level: LevelProcess,
			Arg:          "USER",
			Usage:        "once set up, run as this user (name or uid) and its primary group, with no supplementary groups (default: started as root, the l2tap account, else nobody; otherwise the user started as); root stays root, with a warning; every capability is dropped either way",
			Summary:      "run as this user once set up",
			Default:      "started as root: the `l2tap` account, else `nobody`; otherwise the starting user; without capabilities either way",
			Complete:     CompleteUser,
			NameOrNumber: true,
			field:        func(o *Options) value { return &o.User }},
		{Name: "seccomp", Level: LevelProcess,
			Usage:   "once set up, allow only the system calls moving frames needs; any other kills l2tap with SIGSYS naming the call (default on; -seccomp=off disables)",
			Summary: "seccomp filter",
			Default: "on",
			field:   func(o *Options) value { return &o.Seccomp }},
		{Name: "pcap", Level: LevelSession,
			Arg:      "FILE",
			Usage:    "capture what crosses the pseudowire to FILE in pcap format: the Ethernet frames each way (see -pcap-outer); never slows the data path (frames the writer cannot keep up with count as pcap_dropped)",
			Summary:  "capture what crosses the pseudowire",
			Default:  "off",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.Pcap }},
		{Name: "pcap-outer", Level: LevelSession,
			Usage:   "with -pcap: capture the L2TPv3 packets with outer IP/UDP headers (rebuilt from the tunnel's addresses and ports) instead of the frames",
			Summary: "capture the encapsulated packets",
			Default: "frames",
			field:   func(o *Options) value { return &o.PcapOuter }},
		{Name: "pcap-size", Level: LevelSession,
			Arg:          "SIZE",
			Usage:        "with -pcap: when FILE reaches SIZE (bytes, or 100M, 1G, 512MiB), rename it FILE.1 (replacing the old one) and start FILE anew (default: no limit)",
			Summary:      "rotate the capture at this size",
			Default:      "no limit",
			NameOrNumber: true,
			field:        func(o *Options) value { return &o.PcapSize }},
		{Name: "rxtunnel", Level: LevelTunnel,
			Arg:     "ID",
			Usage:   "our control connection ID, which the peer's control messages carry (1..0xffffffff; with -txtunnel and -hello)",
			Summary: "our control connection ID",
			max:     0xffffffff,
			field:   func(o *Options) value { return &o.Keepalive.RxTunnel }},
		{Name: "txtunnel", Level: LevelTunnel,
			Arg:     "ID",
			Usage:   "the peer's control connection ID, which ours carry (its -rxtunnel; with -rxtunnel and -hello)",
			Summary: "the peer's control connection ID",
			max:     0xffffffff,
			field:   func(o *Options) value { return &o.Keepalive.TxTunnel }},
		{Name: "hello", Level: LevelTunnel,
			Arg:     "SECONDS",
			Usage:   "send an RFC 3931 HELLO when the control channel was quiet this long; a peer that acknowledges none of -hello-retries transmissions of a HELLO (so within (retries + 1) times SECONDS) is down and the TAP carriers go off until it answers again (default 0: no control channel)",
			Summary: "HELLO interval in seconds",
			Default: "0: no control channel",
			max:     maxHello,
			field:   func(o *Options) value { return &o.Keepalive.Hello }},
		{Name: "hello-retries", Level: LevelTunnel,
			Arg:     "N",
			Usage:   "with -hello: how many transmissions of a HELLO, each waiting at most -hello seconds, go unacknowledged, with nothing else heard from the peer, before it is down (1..255, default 10)",
			Summary: "unacknowledged HELLO transmissions before the peer is down",
			Default: "10",
			max:     maxHelloRetries,
			field:   func(o *Options) value { return &o.Keepalive.Retries }},
		{Name: "hello-required", Level: LevelTunnel,
			Usage:   "with -hello: a peer down turns the carriers off (default on); off: data keeps flowing and the state is only logged and shown (for a peer without a control channel)",
			Summary: "a dead peer turns the carriers off",
			Default: "on",
			field:   func(o *Options) value { return &o.Keepalive.Required }},
		{Name: "circuit", Level: LevelSession,
			Arg:     "NAME",
			Usage:   "a dynamic session: the circuit (Remote End ID, e.g. vm1) both ends name; session IDs and cookies are negotiated over an RFC 3931 control connection instead of -txsession/-rxsession/-txcookie/-rxcookie",
			Summary: "dynamic session: the circuit both ends name",
			Default: "static session",
			field:   func(o *Options) value { return &o.Dynamic.Circuit }},
		{Name: "hostname", Level: LevelTunnel,
			Arg:     "NAME",
			Usage:   "with -circuit: our host name in the control connection (default: the machine's)",
			Summary: "our host name in the control connection",
			Default: "the machine's",
			field:   func(o *Options) value { return &o.Dynamic.HostName }},
		{Name: "peer-hostname", Level: LevelTunnel,
			Arg:     "NAME",
			Usage:   "with -circuit: the host name the peer must announce; another is refused (default: any)",
			Summary: "the host name the peer must announce",
			Default: "any",
			field:   func(o *Options) value { return &o.Dynamic.PeerName }},
		{Name: "secret-file", Level: LevelTunnel,
			Arg:      "FILE",
			Usage:    "with -circuit: authenticate control messages (RFC 3931 message digest) with the shared secret in FILE (trailing newline ignored; keep it mode 0600)",
			Summary:  "file holding the shared secret",
			Default:  "no authentication",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.Dynamic.SecretFile }},
		{Name: "secret", Level: LevelTunnel,
			Usage:    "with -circuit: the shared secret itself, in a configuration file only (a command line shows in ps); l2tap warns when other users may read the file",
			Default:  "no authentication",
			FileOnly: true,
			field:    func(o *Options) value { return &o.Dynamic.Secret }},
		{Name: "digest", Level: LevelTunnel,
			Arg:     "ALG",
			Usage:   "with -secret-file: md5 (HMAC-MD5, default) or sha1 (HMAC-SHA-1); both ends must agree",
			Summary: "message digest",
			Default: "`md5`",
			Values:  []string{"md5", "sha1"},
			field:   func(o *Options) value { return &o.Dynamic.Digest }},
		{Name: "router-id", Level: LevelTunnel,
			Arg:          "ID",
			Usage:        "with -circuit: the Router ID we announce (RFC 3931, unique per end; tie breaking over IP uses it): an IPv4 address or a number (default: the tunnel's local IPv4 address; over IPv6 the last 32 bits of the local address)",
			Summary:      "the Router ID we announce: an IPv4 address or a number",
			Default:      "the tunnel's local IPv4 address (IPv6: its last 32 bits)",
			NameOrNumber: true,
			field:        func(o *Options) value { return &o.Dynamic.RouterID }},
		{Name: "role", Level: LevelTunnel,
			Arg:     "ROLE",
			Usage:   "with -circuit: initiator (request the connection and sessions), responder (wait for the peer's) or both (default; ties broken as RFC 3931 says)",
			Summary: "who requests the connection",
			Default: "`both`",
			Values:  []string{"initiator", "responder", "both"},
			field:   func(o *Options) value { return &o.Dynamic.Role }},
		{Name: "config", Level: LevelCommandLine,
			Arg:      "FILE",
			Usage:    "", // filled in by flagTable
			Summary:  "tunnels and sessions from a TOML file",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.ConfigFile }},
		{Name: "log-format", Level: LevelProcess,
			Arg:     "FORMAT",
			Usage:   "text: log lines 'l2tap: MESSAGE key=value ...', counters as 'name value' lines (default); json: every log line one JSON object on stderr, the counters one JSON object on stdout",
			Summary: "log format",
			Default: "`text`",
			Values:  []string{"text", "json"},
			field:   func(o *Options) value { return &o.LogFormat }},
		{Name: "control", Level: LevelProcess,
			Arg:      "PATH",
			Usage:    "unix socket 'l2tap show' asks (default " + DefaultStatusSocketDir + "/<TAP>.sock, <TAP>@<netns>.sock outside the main network namespace; -control off disables)",
			Summary:  "status socket",
			Default:  "`/run/l2tap/<TAP>.sock`",
			Complete: CompleteFile,
			field:    func(o *Options) value { return &o.Observe.StatusSocket }},
		{Name: "metrics", Level: LevelProcess,
			Arg:     "ADDR",
			Usage:   "serve Prometheus metrics on http://ADDR/metrics, such as 127.0.0.1:9723 (default off)",
			Summary: "Prometheus metrics address",
			Default: "off",
			field:   func(o *Options) value { return &o.Observe.Metrics }},
		{Name: "version", Level: LevelCommandLine,
			Usage:   "print the version, the commit it was built from and that commit's date, and exit",
			Summary: "print the version and exit",
			field:   func(o *Options) value { return &o.Version }},
	}
}
