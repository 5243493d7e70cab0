package underlay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// connBuf is the socket buffer size Conn asks for: without batching or
// offloads a burst waits in the buffer while the loop reads it a datagram
// at a time. The system may grant less.
const connBuf = 4 << 20

// maxDatagram is the largest UDP payload Conn receives.
const maxDatagram = 65535

// ErrNoIPEncap is returned by OpenConn for IP encapsulation: Conn is a UDP
// socket, and raw IP sockets are not portable (Windows forbids sending on
// them; elsewhere they need root and deliver different headers).
var ErrNoIPEncap = errors.New("the portable socket carries UDP encapsulation only")

// Conn is a UDP socket carrying L2TPv3 packets through Go's net package,
// on every system Go supports: one datagram per system call each way
// (ReadFromUDPAddrPort, WriteToUDPAddrPort), no batching, no offloads. It
// is bound, never connected, like Socket. One goroutine may Receive at a
// time; any number may send, each through a ConnSender of its own. Neither
// direction allocates per packet.
type Conn struct {
	c   *net.UDPConn
	buf []byte // the one receive buffer; Message.Buf aliases it
}

// OpenConn binds a UDP socket to c.Local and c.Port. c.UDP must be set
// (see ErrNoIPEncap); c.Offload is ignored. Errors wrap the system's
// error, so that callers can explain an address in use and the like.
func OpenConn(c Config) (*Conn, error) {
	if !c.UDP {
		return nil, ErrNoIPEncap
	}
	network := "udp4"
	if c.Local.Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: connControl}
	addr := netip.AddrPortFrom(c.Local, c.Port)
	pc, err := lc.ListenPacket(context.Background(), network, addr.String())
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	uc := pc.(*net.UDPConn)
	// Errors only mean a smaller buffer.
	uc.SetReadBuffer(connBuf)
	uc.SetWriteBuffer(connBuf)
	return &Conn{c: uc, buf: make([]byte, maxDatagram)}, nil
}

// UDP reports that the socket carries UDP encapsulation: always.
func (c *Conn) UDP() bool { return true }

// BatchSize is the most messages one Receive fills: one.
func (c *Conn) BatchSize() int { return 1 }

// LocalAddr is the address and port the socket is bound to.
func (c *Conn) LocalAddr() netip.AddrPort {
	return c.c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Receive waits for one datagram and fills msgs[0] with it; its Buf
// aliases the receive buffer until the next Receive. It returns os.ErrClosed
// once the socket is closed; other errors (an ICMP error some systems report
// on the socket) are not fatal.
func (c *Conn) Receive(msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	n, src, err := c.c.ReadFromUDPAddrPort(c.buf)
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return 0, os.ErrClosed
		}
		return 0, err
	}
	m := &msgs[0]
	m.Buf, m.Seg, m.Drop = c.buf[:n], 0, l2tpv3.DropNone
	m.Src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	return 1, nil
}

// Close stops the socket; a blocked Receive and every Send return
// os.ErrClosed.
func (c *Conn) Close() error { return c.c.Close() }

// ConnSender sends packets to one peer through a Conn, one system call
// each.
type ConnSender struct {
	c    *Conn
	peer netip.AddrPort
	fail func(pkt []byte, err syscall.Errno)
}

// NewSender returns a ConnSender to peer; fail, which may be nil, is
// called for each packet the system refuses.
func (c *Conn) NewSender(peer netip.AddrPort, fail func(pkt []byte, err syscall.Errno)) *ConnSender {
	if fail == nil {
		fail = func([]byte, syscall.Errno) {}
	}
	return &ConnSender{c: c, peer: peer, fail: fail}
}

// Send sends each packet as one datagram, waiting while the socket's buffer
// is full. A packet the system refuses is reported to fail, with its errno
// (EIO when the error carries none). Send returns an error only when the
// socket is closed.
func (q *ConnSender) Send(pkts [][]byte) error {
	for _, p := range pkts {
		_, err := q.c.c.WriteToUDPAddrPort(p, q.peer)
		if err == nil {
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return os.ErrClosed
		}
		var e syscall.Errno
		if !errors.As(err, &e) {
			e = syscall.EIO
		}
		q.fail(p, e)
	}
	return nil
}
