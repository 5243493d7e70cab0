// Package pcap captures what a session carries into a file in the classic
// pcap format (the one tcpdump writes and tshark reads): the Ethernet
// frames each way (LINKTYPE_ETHERNET), or the encapsulated packets with an
// outer IPv4 or IPv6 header and, for UDP encapsulation, a UDP header
// (LINKTYPE_RAW), so that tshark's L2TPv3 dissector decodes them.
//
// Capturing never blocks the data path. The loops that call Packet copy
// each packet into a ring of bytes allocated once (no allocation per
// packet); a writer goroutine drains the ring into the file. A packet that
// finds the ring full is not captured and counted (Dropped). The sockets
// do not hand over the outer IP header of a UDP packet, so the outer
// headers are built from the tunnel's addresses and ports: version,
// lengths, protocol, addresses, ports and checksums are right; the
// identification, TTL (64) and traffic class are not the ones on the wire.
//
// With a size limit, a file about to grow past it is renamed FILE.1 (FILE.1
// to FILE.2, and so on up to Keep old files; the oldest is overwritten by
// the rename) and a new FILE is started.
//
// The directory may be writable by another account: on Linux no link is
// followed there, the files are checked and given their owner through
// their descriptors, and a rotation never writes into a file it did not
// create (see file_linux.go).
package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/l2tap/l2tap/internal/offload"
)

// Link types of the file header (https://www.tcpdump.org/linktypes.html).
const (
	LinkTypeEthernet = 1   // LINKTYPE_ETHERNET (DLT_EN10MB): the Ethernet frames
	LinkTypeRaw      = 101 // LINKTYPE_RAW: packets starting with an IPv4 or IPv6 header
)

const (
	// magic is the classic pcap magic number, microsecond timestamps; the
	// file is written little-endian, which readers detect from it.
	magic = 0xa1b2c3d4
	// FileHeaderLen is the size of the file header.
	FileHeaderLen = 24
	// RecordHeaderLen is the size of each packet record's header.
	RecordHeaderLen = 16
	// SnapLen is the snapshot length in the file header: no packet is cut.
	SnapLen = 262144
	// DefaultRingSize is the bytes of packets held for the writer.
	DefaultRingSize = 4 << 20
	// protoL2TP is the IP protocol number of L2TPv3 over IP.
	protoL2TP = 115
	protoUDP  = 17
)

// Config says where and what to capture.
type Config struct {
	Path string
	// Outer captures the L2TPv3 packets with outer IP (and UDP) headers
	// built from Local and Remote; otherwise the Ethernet frames.
	Outer bool
	// UDP encapsulation: a UDP header with Local's and Remote's ports
	// follows the IP header; otherwise the IP protocol is 115.
	UDP           bool
	Local, Remote netip.AddrPort
	// MaxSize is the size a file may reach before it is renamed and a new
	// one started; 0 is no limit.
	MaxSize int64
	// Keep is the number of old files kept (FILE.1 … FILE.Keep) when
	// MaxSize is set; at least 1.
	Keep int
	// RingSize is the bytes held for the writer (DefaultRingSize if 0).
	RingSize int
	// UID and GID, when not -1, own the files: the first is made over
	// to them (through its descriptor), later ones are created by the
	// process as it runs then, and made over to them if not theirs.
	UID, GID int
	// Logf reports the writer's errors (nil: not reported).
	Logf func(format string, args ...any)
}

// Writer captures packets to a file. Packet may be called from any number
// of goroutines; Close once they are done.
type Writer struct {
	c      Config
	link   uint32
	outer  [2][]byte // outer header templates, sent and received
	ring   ring
	wake   chan struct{}
	done   chan struct{}
	closed atomic.Bool

	// Owned by the writer goroutine.
	dir      *dir   // the file's directory, held open
	name     string // the file's name in dir
	f        *os.File
	bw       *bufio.Writer
	size     int64
	failed   bool
	closeErr error
	// Rotations counts the files started after the first.
	Rotations atomic.Uint64
}

// Open creates (or truncates) the file, writes the file header and starts
// the writer. The file is created mode 0600: it holds the traffic. An
// existing file is taken over only if it is a regular file with one link
// (on Linux; a symbolic link is refused, never followed).
func Open(c Config) (*Writer, error) {
	if c.RingSize == 0 {
		c.RingSize = DefaultRingSize
	}
	if c.Keep < 1 {
		c.Keep = 1
	}
	w := &Writer{c: c, link: LinkTypeEthernet, wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.ring.buf = make([]byte, c.RingSize&^3)
	if c.Outer {
		if !c.Local.Addr().IsValid() || c.Local.Addr().Is6() != c.Remote.Addr().Is6() {
			return nil, fmt.Errorf("pcap: outer headers need two addresses of one family, have %v and %v", c.Local, c.Remote)
		}
		w.link = LinkTypeRaw
		w.outer[0] = c.header(c.Local, c.Remote)
		w.outer[1] = c.header(c.Remote, c.Local)
	}
	d, err := openDir(c.Path)
	if err != nil {
		return nil, err
	}
	w.dir, w.name = d, filepath.Base(c.Path)
	if err := w.create(false); err != nil {
		if w.f != nil {
			w.f.Close()
		}
		d.close()
		return nil, err
	}
	go w.run()
	return w, nil
}

// create opens the file (a new one when fresh: see dir.create) and writes
// the file header.
func (w *Writer) create(fresh bool) error {
	f, err := w.dir.create(w.name, fresh, w.c.UID, w.c.GID)
	if err != nil {
		return err
	}
	w.f = f
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 64<<10)
	} else {
		w.bw.Reset(f)
	}
	w.bw.Write(FileHeader(w.link))
	w.size = FileHeaderLen
	return w.bw.Flush()
}

// FileHeader returns the file header for link type link.
func FileHeader(link uint32) []byte {
	b := make([]byte, FileHeaderLen)
	le := binary.LittleEndian
	le.PutUint32(b[0:], magic)
	le.PutUint16(b[4:], 2) // version 2.4
	le.PutUint16(b[6:], 4)
	// thiszone and sigfigs stay 0.
	le.PutUint32(b[16:], SnapLen)
	le.PutUint32(b[20:], link)
	return b
}

// header returns an outer header from src to dst with zero lengths and
// checksums, which the writer fills in.
func (c *Config) header(src, dst netip.AddrPort) []byte {
	proto := byte(protoL2TP)
	if c.UDP {
		proto = protoUDP
	}
	var h []byte
	if src.Addr().Is4() {
		h = make([]byte, 20)
		h[0] = 0x45
		h[6] = 0x40 // don't fragment
		h[8] = 64   // TTL
		h[9] = proto
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
	} else {
		h = make([]byte, 40)
		h[0] = 0x60
		h[6] = proto
		h[7] = 64 // hop limit
		s, d := src.Addr().As16(), dst.Addr().As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
	}
	if c.UDP {
		u := make([]byte, 8)
		binary.BigEndian.PutUint16(u[0:], src.Port())
		binary.BigEndian.PutUint16(u[2:], dst.Port())
		h = append(h, u...)
	}
	return h
}

// Packet captures one L2TPv3 packet (the UDP payload, or the IP payload
// after the IP header), sent or received, whose Ethernet frame starts at
// pkt[frameAt:]: the whole packet with outer headers in front for an
// outer capture, the frame otherwise. It copies what it keeps and
// allocates nothing; when the ring is full it counts the packet as
// dropped instead.
func (w *Writer) Packet(received bool, pkt []byte, frameAt int) {
	data := pkt[frameAt:]
	var pre []byte
	if w.link == LinkTypeRaw {
		data = pkt
		pre = w.outer[0]
		if received {
			pre = w.outer[1]
		}
	}
	n := len(pre) + len(data)
	now := time.Now()
	r := &w.ring
	r.mu.Lock()
	b := r.reserve(RecordHeaderLen + n)
	if b == nil {
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(now.Unix()))
	le.PutUint32(b[4:], uint32(now.Nanosecond()/1000))
	le.PutUint32(b[8:], uint32(n))
	le.PutUint32(b[12:], uint32(n))
	copy(b[RecordHeaderLen:], pre)
	copy(b[RecordHeaderLen+len(pre):], data)
	wake := r.sleeping
	r.sleeping = false
	r.mu.Unlock()
	if wake {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Dropped returns the packets not captured: the ring was full, or the
// file could not be written.
func (w *Writer) Dropped() uint64 { return w.ring.dropped.Load() }

// Close writes what the ring holds, closes the file and returns the first
// error the writer met. No Packet call may follow or run alongside.
func (w *Writer) Close() error {
	if w.closed.Swap(true) {
		<-w.done
		return nil
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	return w.closeErr
}

// run drains the ring into the file until Close.
func (w *Writer) run() {
	defer close(w.done)
	r := &w.ring
	for {
		n := r.drain(w.record)
		if n == 0 {
			if w.f != nil {
				if err := w.bw.Flush(); err != nil {
					w.fail(err)
				}
			}
			r.mu.Lock()
			empty := r.w == r.r
			if empty {
				r.sleeping = true
			}
			r.mu.Unlock()
			if !empty {
				continue
			}
			if w.closed.Load() {
				break
			}
			<-w.wake
		}
	}
	if w.f != nil {
		if err := w.bw.Flush(); err != nil && w.closeErr == nil {
			w.closeErr = err
		}
		if err := w.f.Close(); err != nil && w.closeErr == nil {
			w.closeErr = err
		}
	}
	w.dir.close()
}

// record writes one record from the ring, rotating the file first when it
// would grow past the limit.
func (w *Writer) record(rec []byte) {
	if w.failed {
		w.ring.dropped.Add(1)
		return
	}
	if w.link == LinkTypeRaw {
		w.checksum(rec[RecordHeaderLen:])
	}
	if w.c.MaxSize > 0 && w.size > FileHeaderLen && w.size+int64(len(rec)) > w.c.MaxSize {
		if err := w.rotate(); err != nil {
			w.fail(err)
			w.ring.dropped.Add(1)
			return
		}
		w.Rotations.Add(1)
	}
	w.bw.Write(rec)
	w.size += int64(len(rec))
}

// rotate renames the file to FILE.1 (older ones one up, the oldest
// overwritten) and starts a new one.
func (w *Writer) rotate() error {
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	p := w.name
	for i := w.c.Keep - 1; i >= 1; i-- {
		if err := w.dir.rename(fmt.Sprintf("%s.%d", p, i), fmt.Sprintf("%s.%d", p, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := w.dir.rename(p, p+".1"); err != nil {
		return err
	}
	return w.create(true)
}

// fail stops writing after an error: what follows is counted as dropped.
func (w *Writer) fail(err error) {
	if w.failed {
		return
	}
	w.failed = true
	if w.closeErr == nil {
		w.closeErr = err
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.c.Logf != nil {
		w.c.Logf("capture to %s stopped: %v; packets from now on count as pcap_dropped", w.c.Path, err)
	}
}

// checksum fills in the lengths and checksums of an outer packet's headers.
func (w *Writer) checksum(p []byte) {
	be := binary.BigEndian
	var l4 []byte
	var src, dst []byte
	if p[0]>>4 == 4 {
		be.PutUint16(p[2:], uint16(len(p)))
		clear(p[10:12])
		offload.PutCsum(p[10:], offload.CsumAdd(0, p[:20]))
		src, dst, l4 = p[12:16], p[16:20], p[20:]
	} else {
		be.PutUint16(p[4:], uint16(len(p)-40))
		src, dst, l4 = p[8:24], p[24:40], p[40:]
	}
	if !w.c.UDP {
		return
	}
	be.PutUint16(l4[4:], uint16(len(l4)))
	clear(l4[6:8])
	acc := offload.PseudoHeaderSum(src, dst, protoUDP, len(l4))
	offload.PutCsum(l4[6:], offload.CsumAdd(acc, l4))
	if l4[6] == 0 && l4[7] == 0 {
		l4[6], l4[7] = 0xff, 0xff // 0 means no checksum
	}
}
