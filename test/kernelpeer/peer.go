//go:build linux

package kernelpeer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sublayer is the guest session's L2-Specific Sublayer setting.
type Sublayer int

const (
	SublayerNone  Sublayer = iota // l2spec_type none
	SublayerZeros                 // l2spec_type default seq none
	SublayerSeq                   // l2spec_type default seq both
)

// ipArgs returns the `ip l2tp add session` arguments for s.
func (s Sublayer) ipArgs() string {
	switch s {
	case SublayerZeros:
		return "l2spec_type default seq none"
	case SublayerSeq:
		return "l2spec_type default seq both"
	default:
		return "l2spec_type none"
	}
}

// Len is the sublayer's size in bytes on the wire.
func (s Sublayer) Len() int {
	if s == SublayerNone {
		return 0
	}
	return 4
}

// PeerSession is one static L2TPv3 pseudowire as configured in the guest
// with `ip l2tp`. On its own (SetupCommands) it is the only session of
// tunnel 1 on UDP port 1701; within a PeerTunnel, IPv6 and UDP are the
// tunnel's.
type PeerSession struct {
	IPv6     bool
	UDP      bool
	Session  uint32   // session_id: what the guest receives (l2tap's -txsession)
	PeerSess uint32   // peer_session_id: what the guest sends; 0 means Session
	Cookie   string   // hex digits the guest sends (8 or 16), or ""
	PeerCook string   // hex digits the guest expects, or ""
	Sublayer Sublayer //
	Dev      string   // guest interface; "" means PeerDev
	Addr     string   // guest overlay address; "" means PeerAddr (prefix OverlayPrefix)
}

// dev is the guest interface's name.
func (p PeerSession) dev() string {
	if p.Dev != "" {
		return p.Dev
	}
	return PeerDev
}

// addr is the guest's overlay address.
func (p PeerSession) addr() string {
	if p.Addr != "" {
		return p.Addr
	}
	return PeerAddr
}

// peerSession is the session ID the guest sends (l2tap's -rxsession).
func (p PeerSession) peerSession() uint32 {
	if p.PeerSess != 0 {
		return p.PeerSess
	}
	return p.Session
}

// PeerDev is the name of the guest's pseudowire interface.
const PeerDev = "l2tpeth0"

// PeerAddr and HostOverlayAddr are the addresses inside the pseudowire.
const (
	PeerAddr        = "10.77.0.2"
	HostOverlayAddr = "10.77.0.1"
	OverlayPrefix   = 24
	L2TPPort        = 1701
)

// Local and Remote return the guest's and the host's underlay addresses
// for the session's address family.
func (p PeerSession) Local() string {
	if p.IPv6 {
		return GuestAddr6
	}
	return GuestAddr4
}

// Remote is the host's underlay address (the guest's remote).
func (p PeerSession) Remote() string {
	if p.IPv6 {
		return HostAddr6
	}
	return HostAddr4
}

// SetupCommands returns the guest commands that create the pseudowire as
// the only session of tunnel 1, bring its interface up and address it.
func (p PeerSession) SetupCommands() []string {
	return p.tunnel().SetupCommands()
}

// TeardownCommand removes the session and the tunnel; it tolerates their
// absence so it can clean up after a half-finished setup.
func (p PeerSession) TeardownCommand() string {
	return p.tunnel().TeardownCommand()
}

// tunnel is the guest tunnel that carries p alone.
func (p PeerSession) tunnel() PeerTunnel {
	return PeerTunnel{IPv6: p.IPv6, UDP: p.UDP, Sessions: []PeerSession{p}}
}

// PeerTunnel is one guest tunnel (`ip l2tp add tunnel`) and the sessions
// it carries. Each session needs its own Dev and Addr when there are
// several, and a session ID not used by any other tunnel: Linux looks up
// L2TPv3 sessions by ID alone.
type PeerTunnel struct {
	ID        uint32 // tunnel_id and peer_tunnel_id; 0 means 1
	IPv6, UDP bool
	Port      int // the guest's UDP port (udp_sport); 0 means L2TPPort
	PeerPort  int // the host's UDP port (udp_dport); 0 means L2TPPort
	Sessions  []PeerSession
}

func (t PeerTunnel) id() uint32 {
	if t.ID == 0 {
		return 1
	}
	return t.ID
}

// LocalPort and RemotePort are the guest's and the host's UDP ports.
func (t PeerTunnel) LocalPort() int  { return portOr(t.Port) }
func (t PeerTunnel) RemotePort() int { return portOr(t.PeerPort) }

func portOr(p int) int {
	if p == 0 {
		return L2TPPort
	}
	return p
}

// Session returns session i with the tunnel's address family and
// encapsulation, as ExpectedMTU, Local and Remote need them.
func (t PeerTunnel) Session(i int) PeerSession {
	s := t.Sessions[i]
	s.IPv6, s.UDP = t.IPv6, t.UDP
	return s
}

// SetupCommands returns the guest commands that create the tunnel and its
// sessions and bring each session's interface up with its address. IPv6
// is disabled on those interfaces before they come up, so that they send
// nothing (router solicitations, MLD reports) unless the test does.
func (t PeerTunnel) SetupCommands() []string {
	local, remote := t.Session(0).Local(), t.Session(0).Remote()
	tunnel := fmt.Sprintf("ip l2tp add tunnel tunnel_id %d peer_tunnel_id %d local %s remote %s", t.id(), t.id(), local, remote)
	if t.UDP {
		tunnel += fmt.Sprintf(" encap udp udp_sport %d udp_dport %d", t.LocalPort(), t.RemotePort())
	} else {
		tunnel += " encap ip"
	}
	cmds := []string{tunnel}
	for _, p := range t.Sessions {
		session := fmt.Sprintf("ip l2tp add session name %s tunnel_id %d session_id %d peer_session_id %d",
			p.dev(), t.id(), p.Session, p.peerSession())
		if p.Cookie != "" {
			session += " cookie " + p.Cookie
		}
		if p.PeerCook != "" {
			session += " peer_cookie " + p.PeerCook
		}
		session += " " + p.Sublayer.ipArgs()
		cmds = append(cmds, session)
	}
	for _, p := range t.Sessions {
		cmds = append(cmds, fmt.Sprintf("echo 1 >/proc/sys/net/ipv6/conf/%s/disable_ipv6 && ip link set %s up && ip addr add %s/%d dev %s",
			p.dev(), p.dev(), p.addr(), OverlayPrefix, p.dev()))
	}
	return cmds
}

// TeardownCommand removes the sessions and the tunnel; it tolerates their
// absence so it can clean up after a half-finished setup.
func (t PeerTunnel) TeardownCommand() string {
	var b strings.Builder
	for _, p := range t.Sessions {
		fmt.Fprintf(&b, "ip l2tp del session tunnel_id %d session_id %d 2>/dev/null; ", t.id(), p.Session)
	}
	fmt.Fprintf(&b, "ip l2tp del tunnel tunnel_id %d 2>/dev/null; true", t.id())
	return b.String()
}

// ExpectedMTU is the pseudowire MTU over a 1500-byte underlay by Linux's
// rule: 1500 minus outer IP, UDP, L2TP header, cookie, sublayer and the
// Ethernet header.
func (p PeerSession) ExpectedMTU() int {
	overhead := 4 + len(p.Cookie)/2 + p.Sublayer.Len() + 14 // session ID, cookie, sublayer, Ethernet
	if p.IPv6 {
		overhead += 40
	} else {
		overhead += 20
	}
	if p.UDP {
		overhead += 8 + 4 // UDP header, L2TPv3 T/Ver word
	}
	return 1500 - overhead
}

// MTUBelowKernel is how much lower l2tap's automatic TAP MTU is than the
// kernel's for p: the kernel counts the cookie it sends (Cookie), l2tap
// the larger of the cookie it sends (PeerCook) and the one it receives.
func (p PeerSession) MTUBelowKernel() int {
	return max(0, len(p.PeerCook)/2-len(p.Cookie)/2)
}

// KernelSessionStats are the guest kernel's counters for one session, as
// shown in /sys/kernel/debug/l2tp/tunnels. RxErrors counts every discard:
// sequence, cookie and malformed packets alike.
type KernelSessionStats struct {
	TxPackets, TxBytes, TxErrors uint64
	RxPackets, RxBytes, RxErrors uint64
}

var sessionStatsLine = regexp.MustCompile(`(?m)^\s+\d+/\d+ tx (\d+)/(\d+)/(\d+) rx (\d+)/(\d+)/(\d+)$`)

// ParseKernelSessionStats finds the counters of session id in the debugfs
// text of /sys/kernel/debug/l2tp/tunnels.
func ParseKernelSessionStats(debugfs string, id uint32) (KernelSessionStats, error) {
	head := fmt.Sprintf("SESSION %d,", id)
	i := strings.Index(debugfs, head)
	if i < 0 {
		return KernelSessionStats{}, fmt.Errorf("session %d not in l2tp debugfs:\n%s", id, debugfs)
	}
	m := sessionStatsLine.FindStringSubmatch(debugfs[i:])
	if m == nil {
		return KernelSessionStats{}, fmt.Errorf("no counters for session %d in l2tp debugfs:\n%s", id, debugfs[i:])
	}
	var v [6]uint64
	for k := range v {
		v[k], _ = strconv.ParseUint(m[k+1], 10, 64)
	}
	return KernelSessionStats{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
}
