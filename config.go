package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/user"
	"strconv"
	"time"
)

// Options holds the command line as given, before it is checked.
type Options struct {
	Src, Dst           text
	SrcPort, DstPort   number
	IPv6, UDP          onOff
	Cookie64           onOff
	Counter, PinCount  onOff
	TxCookie, RxCookie number
	TxSession          number
	RxSession          number
	Offset             number
	IfName             text
	MTU                number
	Attach             onOff
	Owner, Group       text
	Master             text
	SeqCheck           onOff
	Offload            text
	Queues             number
	Sched              text
	CPUProfile         text
	User               text
	Seccomp            onOff
	Observe            ObserveOptions // -control, -metrics (see observe.go)
}

// Config is a checked configuration: what the process does, and the
// tunnels it serves. The single-session command line makes one tunnel with
// one session.
type Config struct {
	Tunnels    []TunnelConfig
	CPUProfile string // write a CPU profile here until exit, if set
	// Batch runs l2tap's threads under SCHED_BATCH (see sched.go).
	Batch bool
	// User, when set, is the account l2tap runs as once set up (see
	// privilege.go); otherwise it keeps its user and group.
	User *Account
	// Seccomp installs the system call filter after setup (see seccomp.go).
	Seccomp bool
	// Observe says where the process can be observed (see observe.go).
	Observe ObserveConfig
}

// TunnelConfig is one underlay socket's two ends and the sessions it
// carries.
type TunnelConfig struct {
	Endpoint Endpoint
	Sessions []SessionConfig
}

// SessionConfig is one pseudowire: its L2TPv3 header and its TAP.
type SessionConfig struct {
	Header   Header
	TAP      TAPConfig // TAP.MTU 0 means automatic
	SeqCheck bool
	// Offload uses TAP offloads, UDP GSO/GRO and TCP coalescing where the
	// kernel has them; false moves every frame on its own.
	Offload bool
	// CoalesceUDP also merges equal-size UDP datagrams into one TAP write
	// (USO). Off by default: the burst overflows slow receivers' sockets.
	CoalesceUDP bool
}

// Account is a user to switch to: its uid and its primary group.
type Account struct {
	Name     string // as given to -user
	UID, GID int
}

// usageError is a configuration error: reported in one line, exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Config checks the options and resolves names. Every error names the flag,
// the value and what to do instead.
func (o *Options) Config() (*Config, error) {
	c := &Config{}
	sc := &SessionConfig{SeqCheck: o.SeqCheck.val}
	h := &sc.Header
	ep := &Endpoint{}

	if !o.Src.set || o.Src.val == "" {
		return nil, usagef("-src is required: the local underlay address to send from (e.g. -src 192.0.2.1)")
	}
	if !o.Dst.set || o.Dst.val == "" {
		return nil, usagef("-dst is required: the peer's underlay address (e.g. -dst 192.0.2.2)")
	}
	if !o.TxSession.set {
		return nil, usagef("-txsession is required: the session ID the peer expects (its rxsession / peer_session_id)")
	}
	h.TxSession = uint32(o.TxSession.val)
	h.RxSession = h.TxSession
	if o.RxSession.set {
		h.RxSession = uint32(o.RxSession.val)
	}
	if h.TxSession == 0 {
		return nil, usagef("-txsession 0: session ID 0 is reserved for control messages; use 1 to 4294967295")
	}
	if h.RxSession == 0 {
		return nil, usagef("-rxsession 0: session ID 0 is reserved for control messages; use 1 to 4294967295")
	}

	h.UDP = o.UDP.val
	ep.UDP = h.UDP
	if h.UDP {
		if !o.SrcPort.set || o.SrcPort.val == 0 {
			return nil, usagef("-udp needs -srcport: the local UDP port (1701 is usual)")
		}
		if !o.DstPort.set || o.DstPort.val == 0 {
			return nil, usagef("-udp needs -dstport: the peer's UDP port (1701 is usual)")
		}
		ep.LocalPort, ep.RemotePort = uint16(o.SrcPort.val), uint16(o.DstPort.val)
	} else if o.SrcPort.set || o.DstPort.set {
		flag := "-srcport"
		if !o.SrcPort.set {
			flag = "-dstport"
		}
		return nil, usagef("%s is for UDP encapsulation: add -udp, or drop %s for IP encapsulation", flag, flag)
	}

	switch {
	case o.TxCookie.set != o.RxCookie.set:
		have, miss := "-txcookie", "-rxcookie"
		if o.RxCookie.set {
			have, miss = miss, have
		}
		return nil, usagef("%s without %s: cookies are configured in pairs; give both (the peer's %s is its %s)", have, miss, miss, have)
	case o.TxCookie.set:
		h.CookieLen = 4
		if o.Cookie64.val {
			h.CookieLen = 8
		}
		for _, ck := range []struct {
			name string
			n    *number
		}{{"-txcookie", &o.TxCookie}, {"-rxcookie", &o.RxCookie}} {
			if h.CookieLen == 4 && ck.n.val > 0xffffffff {
				return nil, usagef("%s %#x is wider than 32 bits: add -cookie64 (both sides must agree)", ck.name, ck.n.val)
			}
		}
		h.TxCookie, h.RxCookie = o.TxCookie.val, o.RxCookie.val
	case o.Cookie64.val:
		return nil, usagef("-cookie64 without cookies: add -txcookie and -rxcookie, or drop -cookie64")
	}

	switch {
	case o.PinCount.val:
		h.Sublayer = SublayerPinned
	case o.Counter.val:
		h.Sublayer = SublayerCounter
	}
	if sc.SeqCheck && h.Sublayer == SublayerNone {
		return nil, usagef("-seqcheck needs a sublayer to carry sequence numbers: add -counter")
	}
	h.Offset = int(o.Offset.val)

	sc.TAP = TAPConfig{Name: "l2tap%d", Owner: -1, Group: -1, Attach: o.Attach.val, Master: o.Master.val}
	if o.IfName.set {
		if o.IfName.val == "" || len(o.IfName.val) > 15 {
			return nil, usagef("-ifname %q: a Linux interface name has 1 to 15 bytes", o.IfName.val)
		}
		sc.TAP.Name = o.IfName.val
	} else if sc.TAP.Attach {
		return nil, usagef("-attach needs -ifname: the name of the TAP to attach to")
	}
	if o.MTU.set {
		if o.MTU.val < 68 {
			return nil, usagef("-mtu %d: the smallest MTU for IPv4 is 68; leave -mtu out for the automatic value", o.MTU.val)
		}
		sc.TAP.MTU = int(o.MTU.val)
	}
	switch o.Offload.val {
	case "", "auto", "on":
		sc.Offload = true
	case "full":
		sc.Offload, sc.CoalesceUDP = true, true
	case "off":
	default:
		return nil, usagef("-offload %q: want auto (use what the kernel offers), full (auto, and coalesce UDP too) or off (one frame per system call)", o.Offload.val)
	}
	sc.TAP.Offload = sc.Offload
	sc.TAP.Queues = 1
	if o.Queues.set {
		if o.Queues.val < 1 {
			return nil, usagef("-queues 0: a TAP has at least one queue; leave -queues out for one")
		}
		if o.Queues.val > 1 && h.Sublayer == SublayerCounter {
			return nil, usagef("-queues %d with -counter: queues send in parallel, so sequence numbers would leave out of order; use -queues 1, or -pincounter", o.Queues.val)
		}
		sc.TAP.Queues = int(o.Queues.val)
	}
	c.CPUProfile = o.CPUProfile.val
	switch o.Sched.val {
	case "", "batch":
		c.Batch = true
	case "normal":
	default:
		return nil, usagef("-sched %q: want batch (threads that move bulk and do not preempt on wakeup) or normal (the kernel's default policy)", o.Sched.val)
	}
	var err error
	if sc.TAP.Owner, err = lookupID("-owner", o.Owner, lookupUser); err != nil {
		return nil, err
	}
	if sc.TAP.Group, err = lookupID("-group", o.Group, lookupGroup); err != nil {
		return nil, err
	}
	if o.User.set {
		if c.User, err = lookupAccount("-user", o.User.val); err != nil {
			return nil, err
		}
	}
	c.Seccomp = !o.Seccomp.set || o.Seccomp.val
	if c.Observe, err = o.Observe.config(); err != nil {
		return nil, err
	}

	if ep.Local, err = resolve("-src", o.Src.val, o.IPv6.val); err != nil {
		return nil, err
	}
	if ep.Remote, err = resolve("-dst", o.Dst.val, o.IPv6.val); err != nil {
		return nil, err
	}
	c.Tunnels = []TunnelConfig{{Endpoint: *ep, Sessions: []SessionConfig{*sc}}}
	return c, nil
}

// resolve turns a literal or a host name into an address of the family that
// -ipv6 selects.
func resolve(flag, s string, ipv6 bool) (netip.Addr, error) {
	want, fix := "IPv4", "add -ipv6"
	if ipv6 {
		want, fix = "IPv6", "drop -ipv6"
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		if a.Is6() != ipv6 {
			return netip.Addr{}, usagef("%s %s is not %s: %s, or give an %s address", flag, s, want, fix, want)
		}
		if a.Zone() != "" {
			return netip.Addr{}, usagef("%s %s: link-local zones are not supported; use a global address", flag, s)
		}
		return a, nil
	}
	network := "ip4"
	if ipv6 {
		network = "ip6"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, s)
	if err != nil || len(addrs) == 0 {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return netip.Addr{}, usagef("%s %s: no %s address for that name; give an address or fix the name", flag, s, want)
		}
		return netip.Addr{}, usagef("%s %s: cannot resolve: %v", flag, s, err)
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

// lookupAccount finds the user that s names, by name or uid, and its
// primary group in the user database.
func lookupAccount(flag, s string) (*Account, error) {
	lookup := user.Lookup
	if _, err := strconv.ParseUint(s, 10, 31); err == nil {
		lookup = user.LookupId
	}
	u, err := lookup(s)
	if err != nil {
		return nil, usagef("%s %s: no such user on this host; give a name or uid from /etc/passwd (its primary group is used)", flag, s)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, usagef("%s %s: uid %q, gid %q are not numbers; give another user", flag, s, u.Uid, u.Gid)
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

// lookupID turns a user or group name, or a number, into a numeric ID; -1 if unset.
func lookupID(flag string, t text, lookup func(string) (string, error)) (int, error) {
	if !t.set {
		return -1, nil
	}
	if id, err := strconv.ParseUint(t.val, 10, 31); err == nil {
		return int(id), nil
	}
	s, err := lookup(t.val)
	if err != nil {
		return 0, usagef("%s %s: no such name on this host; give a name from /etc/passwd or /etc/group, or a number", flag, t.val)
	}
	id, _ := strconv.Atoi(s)
	return id, nil
}
