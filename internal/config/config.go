package config

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/sandbox"
)

// Options holds the command line as given, before it is checked.
type Options struct {
	Src, Dst           StringValue
	SrcPort, DstPort   UintValue
	IPv6, UDP          SwitchValue
	Cookie64           SwitchValue // -cookie64: both cookies are 64 bits
	TxCookie64         SwitchValue // -txcookie64: the cookie sent is 64 bits
	RxCookie64         SwitchValue // -rxcookie64: the cookie expected is 64 bits
	Counter, PinCount  SwitchValue
	TxCookie, RxCookie UintValue
	TxSession          UintValue
	RxSession          UintValue
	Offset             UintValue
	IfName             StringValue
	MTU                UintValue
	MSSClamp           StringValue // -mss-clamp: auto, off or an MSS
	Attach             SwitchValue
	Owner, Group       StringValue
	Master             StringValue
	MAC                StringValue // -mac: persistent, random or an address (see mac.go)
	Socket, SocketType StringValue // -socket, -socket-type: the endpoint is a VM's socket (see vmsocket.go)
	VhostUser          StringValue // -vhost-user: the endpoint is a vhost-user backend (see vhostuser.go)
	VhostUserMode      StringValue // -vhost-user-mode: server or client
	SeqCheck           SwitchValue
	Offload            StringValue
	TAPDriver          StringValue // -tap-driver: kernel or water
	Queues             UintValue
	Sched              StringValue
	IPPath             StringValue // -ip-path: raw or packet
	CPUProfile         StringValue
	MemProfile         StringValue // -memprofile: a heap profile on exit and on SIGUSR2
	User               StringValue
	Seccomp            SwitchValue
	Pcap               StringValue // -pcap: capture the session to this file
	PcapOuter          SwitchValue // -pcap-outer: the encapsulated packets rather than the frames
	PcapSize           StringValue // -pcap-size: rotate at this size
	LogFormat          StringValue
	Version            SwitchValue      // -version: print the version and exit
	ConfigFile         StringValue      // -config: tunnels and sessions from a file
	Observe            ObserveOptions   // -control, -metrics (see observe.go)
	Keepalive          KeepaliveOptions // -rxtunnel, -txtunnel, -hello, -hello-required, -hello-retries (see keepalive.go)
	Dynamic            DynamicOptions   // -circuit, -hostname, -peer-hostname, -secret-file, -digest, -role, -router-id (see dynamic.go)
}

// Config is a checked configuration: what the process does, and the
// tunnels it serves. The single-session command line makes one tunnel with
// one session.
type Config struct {
	Tunnels    []TunnelConfig
	CPUProfile string // write a CPU profile here until exit, if set
	MemProfile string // write a heap profile here on exit and on SIGUSR2, if set
	// Batch runs l2tap's threads under SCHED_BATCH (-sched batch; see
	// internal/tune).
	Batch bool
	// PacketPath sends IP encapsulation over IPv4 through an AF_PACKET
	// socket (-ip-path packet; see internal/underlay/packet.go).
	PacketPath bool
	// User, when set, is the account l2tap runs as once set up (see
	// internal/sandbox); otherwise it keeps its user and group. Started as
	// root without -user, the daemon fills it in at start with the default
	// account.
	User *Account
	// RootKept is -user root (or 0): started as root, l2tap stays root
	// after setup, without any capability, and warns that it does.
	RootKept bool
	// Seccomp installs the system call filter after setup (see
	// internal/sandbox).
	Seccomp bool
	// Observe says where the process can be observed (see observe.go).
	Observe ObserveConfig
	// LogJSON writes every log line as a JSON object and the counters as
	// one JSON object (-log-format json); otherwise log lines are
	// "l2tap: ..." text and counters "name value" lines.
	LogJSON bool
	// Reload reads the configuration file again (SIGHUP); nil without
	// -config. Only its tunnels and sessions are taken: what concerns the
	// whole process stays as it started.
	Reload func() (*Config, error)
	// Gen numbers a reload's configuration as the privileged helper read
	// it; 0 for the configuration at start.
	Gen uint64
}

// TunnelConfig is one underlay socket's two ends and the sessions it
// carries.
type TunnelConfig struct {
	Ends     TunnelEnds
	Sessions []SessionConfig
	// Keepalive is the tunnel's keepalive; its zero value is none.
	Keepalive KeepaliveConfig
	// Dynamic, when set, is the control connection that negotiates the
	// sessions, each named by its Circuit.
	Dynamic *DynamicConfig `json:"-"`
}

// SessionConfig is one pseudowire: its L2TPv3 header and its TAP.
type SessionConfig struct {
	// Circuit names a dynamic session (-circuit): its IDs and cookies
	// in Header are negotiated, not configured.
	Circuit  string
	Header   l2tpv3.Header
	TAP      TAPConfig // TAP.MTU 0 means automatic
	SeqCheck bool
	// MSSClamp lowers the MSS of TCP SYNs crossing the pseudowire (see
	// mssclamp.go).
	MSSClamp MSSClampConfig
	// Offload uses TAP offloads, UDP GSO/GRO and TCP coalescing where the
	// kernel has them; false moves every frame on its own.
	Offload bool
	// TAPDriver opens and drives the TAP: DriverKernel, DriverWater, or
	// "" for the system's default (see tapdriver.go).
	TAPDriver string
	// CoalesceUDP also merges equal-size UDP datagrams into one TAP write
	// (USO). Off by default: the burst overflows slow receivers' sockets.
	CoalesceUDP bool
	// Capture, when its Path is set, writes what the session carries to
	// a pcap file (see internal/pcap).
	Capture CaptureConfig
	// Socket, when its Path is set, is the session's endpoint instead of
	// the TAP (see vmsocket.go).
	Socket SocketConfig
	// VhostUser, when its Path is set, is the session's endpoint instead
	// of the TAP: a vhost-user backend (see vhostuser.go).
	VhostUser VhostUserConfig
}

// CaptureConfig is a session's -pcap, -pcap-outer and -pcap-size.
type CaptureConfig struct {
	Path  string
	Outer bool  // the L2TPv3 packets with outer IP/UDP headers, not the frames
	Size  int64 // rename the file to Path.1 and start anew at this size; 0 never
}

// minPcapSize is the smallest -pcap-size.
const minPcapSize = 1024

// Account is a user to switch to: its uid and its primary group.
type Account = sandbox.Account

// UsageError is a configuration error: reported in one line, exit code 2.
// Err is the message: it names the flag (or FILE:LINE: KEY), the value and
// the fix.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError from a format and its arguments.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// optionError is a usage error about one option, named by Key (the flag
// without its dash). Missing means Key is absent rather than wrong. A
// command line prints the message as it is; a configuration file reports it
// at the line of Key or, when Missing, of the table that should hold Key.
type optionError struct {
	Key     string
	Missing bool
	msg     string
}

func (e *optionError) Error() string { return e.msg }

// badf reports that option key has a wrong value, or does not fit with
// the others.
func badf(key, format string, args ...any) error {
	return UsageError{&optionError{Key: key, msg: fmt.Sprintf(format, args...)}}
}

// missingf reports that option key is needed and absent.
func missingf(key, format string, args ...any) error {
	return UsageError{&optionError{Key: key, Missing: true, msg: fmt.Sprintf(format, args...)}}
}

// Config checks the options and resolves names. Every error names the flag,
// the value and what to do instead. It makes one tunnel with one session.
func (o *Options) Config() (*Config, error) {
	ep, sc, err := o.session()
	if err != nil {
		return nil, err
	}
	c, err := o.process()
	if err != nil {
		return nil, err
	}
	ctl, dyn, err := o.tunnelControl(sc.Circuit != "")
	if err != nil {
		return nil, err
	}
	if err := o.resolveEnds(&ep); err != nil {
		return nil, err
	}
	c.Tunnels = []TunnelConfig{{Ends: ep, Sessions: []SessionConfig{sc}, Keepalive: ctl, Dynamic: dyn}}
	return c, nil
}

// session checks the per-tunnel and per-session options, and returns the
// tunnel's ends without their addresses (see resolveEnds) and the
// session. It looks up -owner and -group but resolves no host name.
func (o *Options) session() (TunnelEnds, SessionConfig, error) {
	sc := SessionConfig{SeqCheck: o.SeqCheck.Val}
	h := &sc.Header
	var ep TunnelEnds
	fail := func(err error) (TunnelEnds, SessionConfig, error) { return TunnelEnds{}, SessionConfig{}, err }

	if !o.Src.Given || o.Src.Val == "" {
		return fail(missingf("src", "-src is required: the local underlay address to send from (e.g. -src 192.0.2.1)"))
	}
	if !o.Dst.Given || o.Dst.Val == "" {
		return fail(missingf("dst", "-dst is required: the peer's underlay address (e.g. -dst 192.0.2.2)"))
	}
	if o.Dynamic.Circuit.Given {
		if err := o.circuitSession(h); err != nil {
			return fail(err)
		}
		sc.Circuit = o.Dynamic.Circuit.Val
	} else if err := o.staticSession(h); err != nil {
		return fail(err)
	}

	h.UDP = o.UDP.Val
	ep.UDP = h.UDP
	if h.UDP {
		if !o.SrcPort.Given || o.SrcPort.Val == 0 {
			return fail(missingf("srcport", "-udp needs -srcport: the local UDP port (1701 is usual)"))
		}
		if !o.DstPort.Given || o.DstPort.Val == 0 {
			return fail(missingf("dstport", "-udp needs -dstport: the peer's UDP port (1701 is usual)"))
		}
		ep.LocalPort, ep.RemotePort = uint16(o.SrcPort.Val), uint16(o.DstPort.Val)
	} else if o.SrcPort.Given || o.DstPort.Given {
		flag := "srcport"
		if !o.SrcPort.Given {
			flag = "dstport"
		}
		return fail(badf(flag, "-%s is for UDP encapsulation: add -udp, or drop -%s for IP encapsulation", flag, flag))
	}

	if err := o.cookies(h); err != nil {
		return fail(err)
	}

	switch {
	case o.PinCount.Val:
		h.Sublayer = l2tpv3.SublayerPinned
	case o.Counter.Val:
		h.Sublayer = l2tpv3.SublayerCounter
	}
	if sc.SeqCheck && h.Sublayer == l2tpv3.SublayerNone {
		return fail(badf("seqcheck", "-seqcheck needs a sublayer to carry sequence numbers: add -counter"))
	}
	h.Offset = int(o.Offset.Val)

	sc.TAP = TAPConfig{Name: "l2tap%d", Owner: -1, Group: -1, Attach: o.Attach.Val, Master: o.Master.Val}
	if o.IfName.Given {
		if o.IfName.Val == "" || len(o.IfName.Val) > 15 {
			return fail(badf("ifname", "-ifname %q: a Linux interface name has 1 to 15 bytes", o.IfName.Val))
		}
		sc.TAP.Name = o.IfName.Val
	} else if sc.TAP.Attach {
		return fail(missingf("ifname", "-attach needs -ifname: the name of the TAP to attach to"))
	}
	if o.MTU.Given {
		if o.MTU.Val < 68 {
			return fail(badf("mtu", "-mtu %d: the smallest MTU for IPv4 is 68; leave -mtu out for the automatic value", o.MTU.Val))
		}
		sc.TAP.MTU = int(o.MTU.Val)
	}
	switch o.Offload.Val {
	case "", "auto", "on":
		sc.Offload = true
	case "full":
		sc.Offload, sc.CoalesceUDP = true, true
	case "off":
	default:
		return fail(badf("offload", "-offload %q: want auto (use what the kernel offers), full (auto, and coalesce UDP too) or off (one frame per system call)", o.Offload.Val))
	}
	sc.TAP.Offload = sc.Offload
	sc.TAP.Queues = 1
	if o.Queues.Given {
		if o.Queues.Val < 1 {
			return fail(badf("queues", "-queues 0: a TAP has at least one queue; leave -queues out for one"))
		}
		if o.Queues.Val > 1 && h.Sublayer == l2tpv3.SublayerCounter {
			return fail(badf("queues", "-queues %d with -counter: queues send in parallel, so sequence numbers would leave out of order; use -queues 1, or -pincounter", o.Queues.Val))
		}
		sc.TAP.Queues = int(o.Queues.Val)
	}
	var err error
	if sc.TAPDriver, err = o.tapDriver(); err != nil {
		return fail(err)
	}
	if err = o.checkSystemSession(); err != nil {
		return fail(err)
	}
	if sc.Capture, err = o.capture(); err != nil {
		return fail(err)
	}
	if sc.TAP.Owner, err = lookupID("owner", o.Owner, lookupUser); err != nil {
		return fail(err)
	}
	if sc.TAP.Group, err = lookupID("group", o.Group, lookupGroup); err != nil {
		return fail(err)
	}
	if sc.Socket, err = o.socketConfig(); err != nil {
		return fail(err)
	}
	if sc.VhostUser, err = o.vhostUserConfig(); err != nil {
		return fail(err)
	}
	if sc.MSSClamp, err = parseMSSClamp(o.MSSClamp); err != nil {
		return fail(err)
	}
	if err = o.macConfig(&sc.TAP); err != nil {
		return fail(err)
	}
	return ep, sc, nil
}

// cookies checks -txcookie, -rxcookie and their widths into h. Each
// direction stands alone, as RFC 3931 §4.1 and Linux allow: a cookie sent
// and none expected, or the reverse, or 32 bits one way and 64 the other.
// A direction's width is -txcookie64 or -rxcookie64 when given, else
// -cookie64 (both directions, as QEMU's cookie64), else 32 bits.
func (o *Options) cookies(h *l2tpv3.Header) error {
	dirs := []struct {
		name, wide string
		n          *UintValue
		w          *SwitchValue
		len        *int
		val        *uint64
	}{
		{"txcookie", "txcookie64", &o.TxCookie, &o.TxCookie64, &h.TxCookieLen, &h.TxCookie},
		{"rxcookie", "rxcookie64", &o.RxCookie, &o.RxCookie64, &h.RxCookieLen, &h.RxCookie},
	}
	if o.Cookie64.Val && !o.TxCookie.Given && !o.RxCookie.Given {
		return badf("cookie64", "-cookie64 without cookies: add -txcookie (the cookie to send) and/or -rxcookie (the cookie to expect), or drop -cookie64")
	}
	for _, d := range dirs {
		if !d.n.Given {
			if d.w.Given {
				return missingf(d.name, "-%s without -%s: add -%s N, or drop -%s", d.wide, d.name, d.name, d.wide)
			}
			continue
		}
		wide := o.Cookie64.Val
		if d.w.Given {
			wide = d.w.Val
		}
		*d.len, *d.val = 4, d.n.Val
		if wide {
			*d.len = 8
		} else if d.n.Val > 0xffffffff {
			return badf(d.name, "-%s %#x is wider than 32 bits: add -%s (or -cookie64 for both directions; the peer must agree)", d.name, d.n.Val, d.wide)
		}
	}
	return nil
}

// staticSession checks the session IDs of a static session.
func (o *Options) staticSession(h *l2tpv3.Header) error {
	if !o.TxSession.Given {
		return missingf("txsession", "-txsession is required: the session ID the peer expects (its rxsession / peer_session_id), or -circuit NAME for a dynamic session")
	}
	h.TxSession = uint32(o.TxSession.Val)
	h.RxSession = h.TxSession
	if o.RxSession.Given {
		h.RxSession = uint32(o.RxSession.Val)
	}
	if h.TxSession == 0 {
		return badf("txsession", "-txsession 0: session ID 0 is reserved for control messages; use 1 to 4294967295")
	}
	if h.RxSession == 0 {
		return badf("rxsession", "-rxsession 0: session ID 0 is reserved for control messages; use 1 to 4294967295")
	}
	return nil
}

// PcapRotates reports whether a session's capture has a size limit, and so
// renames and creates files as it runs.
func (c *Config) PcapRotates() bool {
	for _, t := range c.Tunnels {
		for _, s := range t.Sessions {
			if s.Capture.Path != "" && s.Capture.Size > 0 {
				return true
			}
		}
	}
	return false
}

// capture checks -pcap, -pcap-outer and -pcap-size.
func (o *Options) capture() (CaptureConfig, error) {
	c := CaptureConfig{Path: o.Pcap.Val, Outer: o.PcapOuter.Val}
	if o.Pcap.Given && c.Path == "" {
		return c, badf("pcap", "-pcap \"\": give a file name to capture to (e.g. -pcap /var/tmp/vm0.pcap), or leave -pcap out")
	}
	if c.Path == "" {
		for _, k := range []struct {
			name string
			set  bool
		}{{"pcap-outer", o.PcapOuter.Given}, {"pcap-size", o.PcapSize.Given}} {
			if k.set {
				return c, missingf("pcap", "-%s without -pcap: add -pcap FILE, the file to capture to", k.name)
			}
		}
		return c, nil
	}
	if o.PcapSize.Given {
		n, err := parseSize(o.PcapSize.Val)
		if err != nil || n < minPcapSize {
			return c, badf("pcap-size", "-pcap-size %q: want a size of at least %d bytes: a number of bytes, or with k, M, G (powers of 1000) or KiB, MiB, GiB (of 1024), e.g. 100M", o.PcapSize.Val, minPcapSize)
		}
		c.Size = n
	}
	return c, nil
}

// parseSize reads a byte count: a decimal number with an optional suffix
// k, M or G (powers of 1000, a trailing B allowed) or KiB, MiB, GiB
// (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a size")
	}
	return n * mult, nil
}

// process checks the options that hold for the whole process, and returns
// a Config without tunnels.
func (o *Options) process() (*Config, error) {
	c := &Config{CPUProfile: o.CPUProfile.Val, MemProfile: o.MemProfile.Val}
	switch o.Sched.Val {
	case "", "batch":
		c.Batch = true
	case "normal":
	default:
		return nil, badf("sched", "-sched %q: want batch (threads that move bulk and do not preempt on wakeup) or normal (the kernel's default policy)", o.Sched.Val)
	}
	switch o.IPPath.Val {
	case "", "raw":
	case "packet":
		c.PacketPath = true
	default:
		return nil, badf("ip-path", "-ip-path %q: want raw (the kernel's IP output, the default) or packet (an AF_PACKET socket with headers built by l2tap, IPv4 only)", o.IPPath.Val)
	}
	if o.User.Given {
		var err error
		if c.User, err = LookupAccount("user", o.User.Val); err != nil {
			return nil, err
		}
		if c.User.UID == 0 {
			c.User, c.RootKept = nil, true
		}
	}
	c.Seccomp = !o.Seccomp.Given || o.Seccomp.Val
	if err := o.checkSystem(); err != nil {
		return nil, err
	}
	switch o.LogFormat.Val {
	case "", "text":
	case "json":
		c.LogJSON = true
	default:
		return nil, badf("log-format", "-log-format %q: want text (\"l2tap: ...\" lines, counters as \"name value\" lines) or json (one JSON object per line)", o.LogFormat.Val)
	}
	var err error
	if c.Observe, err = o.Observe.config(); err != nil {
		return nil, err
	}
	return c, nil
}

// resolveEnds fills in ep's addresses from -src, -dst and -ipv6,
// resolving host names.
func (o *Options) resolveEnds(ep *TunnelEnds) error {
	var err error
	if ep.Local, err = resolve("src", o.Src.Val, o.IPv6.Val); err != nil {
		return err
	}
	ep.Remote, err = resolve("dst", o.Dst.Val, o.IPv6.Val)
	return err
}

// lookupNetIP resolves host names for -src and -dst; tests replace it.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// resolve turns a literal or a host name into an address of the family that
// -ipv6 selects. key is the option that gave s, without its dash.
func resolve(key, s string, ipv6 bool) (netip.Addr, error) {
	want, fix := "IPv4", "add -ipv6"
	if ipv6 {
		want, fix = "IPv6", "drop -ipv6"
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		if a.Is6() != ipv6 {
			return netip.Addr{}, badf(key, "-%s %s is not %s: %s, or give an %s address", key, s, want, fix, want)
		}
		if a.Zone() != "" {
			return netip.Addr{}, badf(key, "-%s %s: link-local zones are not supported; use a global address", key, s)
		}
		return a, nil
	}
	network := "ip4"
	if ipv6 {
		network = "ip6"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := lookupNetIP(ctx, network, s)
	if err != nil || len(addrs) == 0 {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return netip.Addr{}, badf(key, "-%s %s: no %s address for that name; give an address or fix the name", key, s, want)
		}
		return netip.Addr{}, badf(key, "-%s %s: cannot resolve: %v", key, s, err)
	}
	return addrs[0].Unmap(), nil
}

func lookupUser(s string) (string, error) {
	u, err := user.Lookup(s)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

// LookupAccount finds the user that s names, by name or uid, and its
// primary group in the user database. key is the option, without its dash.
func LookupAccount(key, s string) (*Account, error) {
	lookup := user.Lookup
	if _, err := strconv.ParseUint(s, 10, 31); err == nil {
		lookup = user.LookupId
	}
	u, err := lookup(s)
	if err != nil {
		return nil, badf(key, "-%s %s: no such user on this host; give a name or uid from /etc/passwd (its primary group is used)", key, s)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, badf(key, "-%s %s: uid %q, gid %q are not numbers; give another user", key, s, u.Uid, u.Gid)
	}
	return &Account{Name: s, UID: uid, GID: gid}, nil
}

func lookupGroup(s string) (string, error) {
	g, err := user.LookupGroup(s)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}

// lookupID turns a user or group name, or a number, into a numeric ID; -1 if
// unset. key is the option, without its dash.
func lookupID(key string, t StringValue, lookup func(string) (string, error)) (int, error) {
	if !t.Given {
		return -1, nil
	}
	if id, err := strconv.ParseUint(t.Val, 10, 31); err == nil {
		return int(id), nil
	}
	s, err := lookup(t.Val)
	if err != nil {
		return 0, badf(key, "-%s %s: no such name on this host; give a name from /etc/passwd or /etc/group, or a number", key, t.Val)
	}
	id, _ := strconv.Atoi(s)
	return id, nil
}
