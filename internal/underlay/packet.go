//go:build linux

package underlay

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// This file is the packet path of IP encapsulation over IPv4: packets go
// out through an AF_PACKET socket on the underlay interface, behind an
// Ethernet and IPv4 header l2tap writes itself from the route to the peer
// and the neighbour's MAC address, skipping the kernel's IP output (route
// lookup, netfilter, queueing discipline) for every packet. The raw IP
// socket stays open: it receives, it answers for protocol 115 so the
// kernel sends no ICMP protocol-unreachable, and it sends whatever the
// packet path cannot: while the neighbour is unresolved or stale (which
// makes the kernel resolve it), over a link that is not Ethernet, and
// frames larger than the link's MTU (which the kernel fragments).

const (
	ethHdrLen  = 14
	ipv4HdrLen = 20
	pktHdrLen  = ethHdrLen + ipv4HdrLen

	// hopRefresh is how often the route and neighbour of every peer are
	// looked up again; hopRetry while some peer has none usable.
	hopRefresh = time.Second
	hopRetry   = 100 * time.Millisecond
)

// nextHop is what the packet path needs to reach a peer: the interface,
// its MTU, and the Ethernet and IPv4 headers with the fields that do not
// change per packet, plus the checksum of those fields.
type nextHop struct {
	ifindex int
	mtu     int
	hdr     [pktHdrLen]byte
	sum     uint32 // one's complement sum of hdr's IPv4 header as it stands
}

// hop is one peer's next hop, replaced as a whole when it changes; nil
// when the packet path cannot reach the peer.
type hop struct {
	peer netip.Addr
	cur  atomic.Pointer[nextHop]
}

// packetPath is a socket's AF_PACKET sender and the lookups behind it.
type packetPath struct {
	file  *os.File
	rc    syscall.RawConn
	nl    *netlink.Handle
	local netip.Addr
	ttl   uint8

	closing sync.Once
	mu      sync.Mutex
	hops    map[netip.Addr]*hop
	kick    chan struct{}
	done    chan struct{}
	ended   chan struct{}
}

// openPacketPath opens the AF_PACKET socket (protocol 0: it receives
// nothing) and a netlink handle for the lookups, both now, before
// privileges are dropped, and starts the goroutine that keeps every peer's
// next hop current.
func openPacketPath(local netip.Addr) (*packetPath, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create packet socket: %w", err)
	}
	// Hand frames straight to the driver, as the raw socket's packets of
	// one flow reach it in order anyway; an error only means the qdisc.
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sockBuf)
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink: %w", err)
	}
	p := &packetPath{
		file: os.NewFile(uintptr(fd), "l2tp-packet"), nl: nl, local: local, ttl: defaultTTL(),
		hops: map[netip.Addr]*hop{}, kick: make(chan struct{}, 1), done: make(chan struct{}), ended: make(chan struct{}),
	}
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		nl.Close()
		return nil, err
	}
	go p.refreshLoop()
	return p, nil
}

// defaultTTL is the namespace's net.ipv4.ip_default_ttl, which the raw
// socket's packets carry; 64 if it cannot be read.
func defaultTTL() uint8 {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_default_ttl")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 && n < 256 {
			return uint8(n)
		}
	}
	return 64
}

// close stops the lookups and closes the packet socket; later calls do
// nothing.
func (p *packetPath) close() {
	p.closing.Do(func() {
		close(p.done)
		<-p.ended
		p.file.Close()
		p.nl.Close()
	})
}

// hopTo returns the peer's hop, looked up at once the first time.
func (p *packetPath) hopTo(peer netip.Addr) *hop {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hops[peer]
	if h == nil {
		h = &hop{peer: peer}
		h.cur.Store(p.lookup(peer))
		p.hops[peer] = h
	}
	return h
}

// retry asks for the next hops to be looked up again soon.
func (p *packetPath) retry() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *packetPath) refreshLoop() {
	defer close(p.ended)
	t := time.NewTimer(hopRefresh)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		case <-p.kick:
			time.Sleep(hopRetry) // let the raw socket's packets start the resolution
		}
		missing := false
		p.mu.Lock()
		for peer, h := range p.hops {
			nh := p.lookup(peer)
			if old := h.cur.Load(); nh == nil || old == nil || *nh != *old {
				h.cur.Store(nh)
			}
			missing = missing || nh == nil
		}
		p.mu.Unlock()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		if missing {
			t.Reset(hopRetry)
		} else {
			t.Reset(hopRefresh)
		}
	}
}

// usableNeigh are the neighbour states whose address the kernel itself
// would send to without asking again. STALE is left to the raw socket,
// whose next packet makes the kernel confirm the address.
const usableNeigh = netlink.NUD_REACHABLE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP

// lookup finds the next hop to peer, or nil when the packet path cannot
// be used: no unicast route from our address, a link that is not
// Ethernet or is down, or a neighbour that is not resolved.
func (p *packetPath) lookup(peer netip.Addr) *nextHop {
	// The route the raw socket's packets take: from our address.
	routes, err := p.nl.RouteGetWithOptions(peer.AsSlice(), &netlink.RouteGetOptions{SrcAddr: p.local.AsSlice()})
	if err != nil || len(routes) == 0 {
		return nil
	}
	r := routes[0]
	if r.Type != unix.RTN_UNICAST || r.LinkIndex <= 0 {
		return nil
	}
	link, err := p.nl.LinkByIndex(r.LinkIndex)
	if err != nil {
		return nil
	}
	a := link.Attrs()
	if a.EncapType != "ether" || len(a.HardwareAddr) != 6 || a.Flags&net.FlagUp == 0 || a.MTU < 68 {
		return nil
	}
	via := peer
	if gw, ok := netip.AddrFromSlice(r.Gw); ok && r.Gw != nil {
		via = gw.Unmap()
	}
	neighs, err := p.nl.NeighList(r.LinkIndex, unix.AF_INET)
	if err != nil {
		return nil
	}
	var mac net.HardwareAddr
	for _, n := range neighs {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == via && n.State&usableNeigh != 0 && len(n.HardwareAddr) == 6 {
			mac = n.HardwareAddr
			break
		}
	}
	if mac == nil {
		return nil
	}
	nh := &nextHop{ifindex: r.LinkIndex, mtu: a.MTU}
	if r.MTU > 0 && r.MTU < nh.mtu {
		nh.mtu = r.MTU
	}
	ttl := p.ttl
	if r.Hoplimit > 0 && r.Hoplimit < 256 {
		ttl = uint8(r.Hoplimit)
	}
	buildHeader(&nh.hdr, mac, a.HardwareAddr, ttl, p.local, peer)
	nh.sum = sum16(nh.hdr[ethHdrLen:])
	return nh
}

// buildHeader writes the Ethernet header and the IPv4 header with length,
// identification and checksum zero: version 4, no options, TOS 0, DF
// clear (as the raw socket sends, which never sets it), protocol 115.
func buildHeader(h *[pktHdrLen]byte, dst, src net.HardwareAddr, ttl uint8, local, peer netip.Addr) {
	copy(h[0:6], dst)
	copy(h[6:12], src)
	binary.BigEndian.PutUint16(h[12:], unix.ETH_P_IP)
	ip := h[ethHdrLen:]
	ip[0] = 0x45
	ip[8] = ttl
	ip[9] = IPProtoL2TP
	s, d := local.As4(), peer.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
}

// sum16 is the one's complement sum of b's 16-bit words, not folded.
func sum16(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	return s
}

// PacketSender sends a tunnel's packets through the packet path while the
// peer's next hop is known, through a raw socket Sender otherwise. Like
// Sender, each send loop has its own, and it allocates nothing per packet.
type PacketSender struct {
	p      *packetPath
	h      *hop
	raw    *Sender
	hdrs   [][pktHdrLen]byte
	iovs   []unix.Iovec
	msgs   []mmsghdr
	sll    unix.RawSockaddrLinklayer
	pkts   [][]byte // the packets of the messages built
	n      int
	from   int
	sent   int
	errno  syscall.Errno
	fn     func(fd uintptr) bool
	id     uint16
	viaPkt uint64 // packets sent through the packet path
	viaRaw uint64 // packets handed to the raw socket
}

// PacketPath reports whether s was opened with the packet path.
func (s *Socket) PacketPath() bool { return s.pkt != nil }

// NewPacketSender returns a sender to peer through the packet path, with
// a raw socket Sender (NewSender's arguments) for what the path cannot
// send. s must have been opened with Config.PacketPath.
func (s *Socket) NewPacketSender(peer netip.AddrPort, maxPkts int, fail func(pkt []byte, err syscall.Errno), noGSO func(err syscall.Errno)) *PacketSender {
	q := &PacketSender{
		p:    s.pkt,
		h:    s.pkt.hopTo(peer.Addr()),
		raw:  s.NewSender(peer, maxPkts, fail, noGSO),
		hdrs: make([][pktHdrLen]byte, maxPkts),
		iovs: make([]unix.Iovec, 2*maxPkts),
		msgs: make([]mmsghdr, maxPkts),
		pkts: make([][]byte, 0, maxPkts),
	}
	var r [2]byte
	rand.Read(r[:])
	q.id = binary.BigEndian.Uint16(r[:])
	q.sll.Family = unix.AF_PACKET
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&q.sll.Protocol))[:], unix.ETH_P_IP)
	q.fn = q.send
	return q
}

// Counts returns how many packets went through the packet path and how
// many through the raw socket.
func (q *PacketSender) Counts() (packet, raw uint64) { return q.viaPkt, q.viaRaw }

func (q *PacketSender) send(fd uintptr) bool {
	n, e := sendmmsg(fd, q.msgs[q.from:q.n])
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	q.sent, q.errno = n, e
	return true
}

// Send sends pkts (as Sender.Send): through the packet path those that
// fit the link's MTU while the next hop is known, the others through the
// raw socket, handed to each in their order. A packet the packet socket
// refuses makes the next hop be looked up again and goes, with the rest
// of the batch, through the raw socket.
func (q *PacketSender) Send(pkts [][]byte) error {
	nh := q.h.cur.Load()
	if nh == nil {
		q.viaRaw += uint64(len(pkts))
		return q.raw.Send(pkts)
	}
	q.pkts = q.pkts[:0]
	q.sll.Ifindex = int32(nh.ifindex)
	for i := 0; i < len(pkts); {
		// A run of packets that fit, then a run of those that do not.
		j := i
		for j < len(pkts) && ipv4HdrLen+len(pkts[j]) <= nh.mtu {
			q.add(nh, pkts[j])
			j++
		}
		if ok, err := q.flush(nh); err != nil {
			return err
		} else if !ok {
			return q.toRaw(pkts[j:])
		}
		i = j
		for j < len(pkts) && ipv4HdrLen+len(pkts[j]) > nh.mtu {
			j++
		}
		if j > i {
			if err := q.toRaw(pkts[i:j]); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// add builds the message of pkt behind its headers.
func (q *PacketSender) add(nh *nextHop, pkt []byte) {
	k := len(q.pkts)
	h := &q.hdrs[k]
	*h = nh.hdr
	tot := uint16(ipv4HdrLen + len(pkt))
	q.id++
	ip := h[ethHdrLen:]
	binary.BigEndian.PutUint16(ip[2:], tot)
	binary.BigEndian.PutUint16(ip[4:], q.id)
	s := nh.sum + uint32(tot) + uint32(q.id)
	s = s>>16 + s&0xffff
	s += s >> 16
	binary.BigEndian.PutUint16(ip[10:], ^uint16(s))
	q.iovs[2*k] = unix.Iovec{Base: &h[0]}
	q.iovs[2*k].SetLen(pktHdrLen)
	q.iovs[2*k+1] = unix.Iovec{Base: &pkt[0]}
	q.iovs[2*k+1].SetLen(len(pkt))
	m := &q.msgs[k].hdr
	*m = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&q.sll)), Namelen: unix.SizeofSockaddrLinklayer, Iov: &q.iovs[2*k]}
	m.SetIovlen(2)
	q.pkts = append(q.pkts, pkt)
}

// flush sends the messages built. If the packet socket refuses one, the
// next hop is dropped until looked up again, the rest goes through the raw
// socket, and flush reports false.
func (q *PacketSender) flush(nh *nextHop) (bool, error) {
	defer func() { q.pkts = q.pkts[:0] }()
	q.n = len(q.pkts)
	for q.from = 0; q.from < q.n; {
		q.sent, q.errno = 0, 0
		if err := q.p.rc.Write(q.fn); err != nil {
			return false, os.ErrClosed
		}
		q.from += q.sent
		q.viaPkt += uint64(q.sent)
		if q.errno != 0 {
			// The interface went away or down, or refuses the frame.
			q.h.cur.CompareAndSwap(nh, nil)
			q.p.retry()
			return false, q.toRaw(q.pkts[q.from:])
		}
	}
	return true, nil
}

func (q *PacketSender) toRaw(pkts [][]byte) error {
	if len(pkts) == 0 {
		return nil
	}
	q.viaRaw += uint64(len(pkts))
	return q.raw.Send(pkts)
}
