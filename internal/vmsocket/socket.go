//go:build linux

package vmsocket

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/l2tap/l2tap/internal/sockfile"
	"golang.org/x/sys/unix"
)

// Config says where to listen and who may connect.
type Config struct {
	Path string
	Type Type
	// UID and GID own the socket file; -1 leaves the owner or group as
	// created (l2tap's).
	UID, GID int
	// Mode is the socket file's permission bits; 0 means 0600, or 0660
	// when GID is set.
	Mode os.FileMode
}

// ErrNoClient is Write's error while no VM is connected (stream) or none
// has sent a datagram yet (dgram): the frames are refused. It wraps
// os.ErrClosed, as the way to the VM is closed: the engine counts the
// frames without a log line each time (a VM that is off is no fault;
// connections and disconnections are logged once each).
var ErrNoClient = fmt.Errorf("no VM connected to the socket: %w", os.ErrClosed)

// ErrBusy is Write's error when the VM did not take frames within
// writeWait: they are refused, as a full TAP queue drops them, so that
// one stalled VM does not hold up the other sessions.
var ErrBusy = errors.New("the VM is not reading its socket")

// writeWait is how long Write waits for a full socket to take frames.
const writeWait = 20 * time.Millisecond

// Socket is a session's endpoint on a unix socket (see the package doc).
// It implements engine.Endpoint.
type Socket struct {
	path string
	typ  Type
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	// Stream: the listener, the client handed to ReadLoop, the client
	// being served (nil while none), and a token when it ends.
	ln      *net.UnixListener
	clients chan *client
	cur     atomic.Pointer[client]
	freed   chan struct{}
	sr      *streamReader
	sw      *streamWriter

	// Dgram: the bound socket, the VM's address once learned, and a
	// socket connected to it only to learn whether it still lives.
	pc    *net.UnixConn
	prc   syscall.RawConn
	peer  atomic.Pointer[peerAddr]
	probe int
	dr    *dgramReader
	dw    *dgramWriter
}

// Listen makes the socket file at c.Path and listens (Stream) or binds
// (Dgram) there. A socket file nothing answers on is replaced; one that
// answers, or a file that is not a socket, is an error. On error nothing
// is left behind.
func Listen(c Config) (*Socket, error) {
	s, err := bind(c)
	if err != nil {
		return nil, err
	}
	if err := s.serve(); err != nil {
		s.closeFiles()
		unix.Unlink(c.Path)
		return nil, err
	}
	return s, nil
}

// Bind makes the socket file as Listen does, and returns its descriptor
// (listening or bound) without serving it: for another process to serve,
// through FromFile. On error nothing is left behind.
func Bind(c Config) (*os.File, error) {
	s, err := bind(c)
	if err != nil {
		return nil, err
	}
	var f *os.File
	if s.ln != nil {
		s.ln.SetUnlinkOnClose(false)
		f, err = s.ln.File()
	} else {
		f, err = s.pc.File()
	}
	s.closeFiles()
	if err != nil {
		unix.Unlink(c.Path)
		return nil, err
	}
	return f, nil
}

// bind makes the socket file at c.Path, listening or bound, with its
// owner and mode (see Listen).
func bind(c Config) (_ *Socket, err error) {
	if err := clearStale(c.Path); err != nil {
		return nil, err
	}
	s := &Socket{path: c.Path, typ: c.Type, done: make(chan struct{}), probe: -1}
	mode := c.Mode
	if mode == 0 {
		mode = 0o600
		if c.GID >= 0 {
			mode = 0o660
		}
	}
	// The socket is made mode 0600, where only l2tap may reach it until
	// its owner and mode are set (see internal/sockfile): no moment exists
	// in which others may connect, or make l2tap change another file.
	err = sockfile.Place(c.Path, c.UID, c.GID, mode, func(name string) error {
		var err error
		if c.Type == Stream {
			if s.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"}); err == nil {
				s.ln.SetUnlinkOnClose(false) // its bound name is not where the file ends up
			}
		} else {
			s.pc, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		}
		return err
	})
	if err != nil {
		s.closeFiles()
		return nil, err
	}
	defer func() {
		if err != nil {
			s.closeFiles()
			unix.Unlink(c.Path)
		}
	}()
	return s, nil
}

// serve starts what a socket made or adopted needs: the stream's accept
// loop, or the datagram socket's probe and buffers.
func (s *Socket) serve() (err error) {
	if s.typ == Stream {
		s.clients = make(chan *client, 1)
		s.freed = make(chan struct{}, 1)
		s.sr = newStreamReader()
		s.sw = newStreamWriter()
		s.wg.Add(1)
		go s.acceptLoop()
		return nil
	}
	if s.prc, err = s.pc.SyscallConn(); err != nil {
		return err
	}
	if s.probe, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return fmt.Errorf("probe socket: %w", err)
	}
	s.dr = newDgramReader(s)
	s.dw = newDgramWriter()
	return nil
}

// FromFile makes a Socket of f, a socket made for c by Bind in another
// process, listening (Stream) or bound (Dgram) at c.Path;
// Close removes the file as Listen's would. f is closed in any case.
func FromFile(c Config, f *os.File) (_ *Socket, err error) {
	defer f.Close()
	s := &Socket{path: c.Path, typ: c.Type, done: make(chan struct{}), probe: -1}
	if c.Type == Stream {
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, err
		}
		ul, ok := ln.(*net.UnixListener)
		if !ok {
			ln.Close()
			return nil, fmt.Errorf("%s: not a unix stream socket", c.Path)
		}
		ul.SetUnlinkOnClose(false)
		s.ln = ul
	} else {
		pc, err := net.FilePacketConn(f)
		if err != nil {
			return nil, err
		}
		uc, ok := pc.(*net.UnixConn)
		if !ok {
			pc.Close()
			return nil, fmt.Errorf("%s: not a unix datagram socket", c.Path)
		}
		s.pc = uc
	}
	if err := s.serve(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// clearStale removes a socket file at path that nothing answers on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return errors.New("exists and is not a socket: remove it or choose another path")
	}
	stale := false
	for _, network := range []string{"unix", "unixgram"} {
		c, err := net.DialTimeout(network, path, time.Second)
		if err == nil {
			c.Close()
			return errors.New("in use: something listens there (another l2tap?)")
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			stale = true
		}
	}
	if !stale {
		return errors.New("a socket file is there and it cannot be told whether something listens")
	}
	// Unlink, not os.Remove: its rmdir after a refused unlink is not in
	// the seccomp filter a reload runs under.
	if err := unix.Unlink(path); err != nil {
		return fmt.Errorf("remove the stale socket file: %w", err)
	}
	return nil
}

// Name returns the socket's path.
func (s *Socket) Name() string { return s.path }

// Type returns the socket's kind.
func (s *Socket) Type() Type { return s.typ }

// Queues is 1: one VM, one queue.
func (s *Socket) Queues() int { return 1 }

// ReadStats returns zeros: a socket carries no offloaded superframes.
func (s *Socket) ReadStats() (superframes, offloadErrors uint64) { return 0, 0 }

// QEMUOption returns the QEMU option that plugs a NIC (netdev id id) into
// this socket. For Dgram, QEMU binds a socket of its own: vmPath.
func (s *Socket) QEMUOption(id, vmPath string) string {
	if s.typ == Dgram {
		return fmt.Sprintf("-netdev dgram,id=%s,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s", id, vmPath, s.path)
	}
	return fmt.Sprintf("-netdev stream,id=%s,server=off,addr.type=unix,addr.path=%s", id, s.path)
}

// Close ends ReadLoop and Write, disconnects the VM and removes the
// socket file.
func (s *Socket) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.closeFiles()
		if c := s.cur.Load(); c != nil {
			c.conn.Close()
		}
		s.wg.Wait()
		// Unlink, not os.Remove, which tries rmdir too: the seccomp
		// filter allows removing files only.
		if rerr := unix.Unlink(s.path); rerr != nil && rerr != unix.ENOENT && err == nil {
			err = fmt.Errorf("remove %s: %w", s.path, rerr)
		}
	})
	return err
}

func (s *Socket) closeFiles() error {
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	if s.pc != nil {
		err = s.pc.Close()
	}
	if s.probe >= 0 {
		unix.Close(s.probe)
	}
	return err
}

// closed reports whether Close was called.
func (s *Socket) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// ReadLoop reads frames from the VM until the socket is closed (it then
// returns nil), and hands them to send in batches, each frame copied into
// arena behind headroom bytes (see engine.Endpoint). A stream client that
// disconnects, or sends a malformed length, is closed and the next one
// waited for. It returns send's error if send fails.
func (s *Socket) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	if s.typ == Dgram {
		return s.dgramLoop(arena, headroom, pkts, send, dropped)
	}
	return s.streamLoop(arena, headroom, pkts, send, dropped)
}

// Write delivers frames to the VM in order and returns the frames and
// bytes taken; the rest are refused with the first error: ErrNoClient,
// ErrBusy, or the socket's. It returns os.ErrClosed once closed. One
// goroutine writes at a time.
func (s *Socket) Write(frames [][]byte) (written, merged, bytes int, err error) {
	if s.closed() {
		return 0, 0, 0, os.ErrClosed
	}
	if s.typ == Dgram {
		written, bytes, err = s.dgramWrite(frames)
	} else {
		written, bytes, err = s.streamWrite(frames)
	}
	return written, 0, bytes, err
}

// logAttrs names the socket in log lines.
func (s *Socket) logAttrs() []any {
	return []any{slog.String("socket", s.path), slog.String("type", s.typ.String())}
}
