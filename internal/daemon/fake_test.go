package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/underlay"
)

// The process's fakes: an Opener that hands out in-memory endpoints and
// sockets and records what it opened, so that setup, reload, failures and
// stop run without root, TAPs or a network.

// errDeleted is the error a fakeEndpoint fails with to stand for a TAP
// deleted under l2tap (fakeOpener.Deleted reports it as such).
var errDeleted = errors.New("fake: TAP deleted")

// fakeOpener opens fakeEndpoints and fakeUnderlays. refuse names the
// TAPs whose opening fails.
type fakeOpener struct {
	mu        sync.Mutex
	pmtu      int
	refuse    map[string]bool
	endpoints []*fakeEndpoint // every endpoint opened, in order
	sockets   []*fakeUnderlay // every socket opened, in order
}

func newFakeOpener() *fakeOpener { return &fakeOpener{pmtu: 1500, refuse: map[string]bool{}} }

func (o *fakeOpener) Socket(e config.TunnelEnds, _, _ bool) (engine.Underlay, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := &fakeUnderlay{udp: e.UDP, closed: make(chan struct{})}
	o.sockets = append(o.sockets, u)
	return u, nil
}

func (o *fakeOpener) TAP(_ *config.SessionConfig, c config.TAPConfig) (Device, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.refuse[c.Name] {
		return nil, fmt.Errorf("fake: TAP %s refused", c.Name)
	}
	ep := &fakeEndpoint{name: c.Name, mtu: c.MTU, fail: make(chan error, 1), closed: make(chan struct{})}
	o.endpoints = append(o.endpoints, ep)
	return ep, nil
}

func (o *fakeOpener) VMSocket(sc *config.SessionConfig, mtu int) (Device, error) {
	return nil, errors.New("fake: no VM sockets")
}

func (o *fakeOpener) VhostUser(sc *config.SessionConfig, mtu int) (Device, error) {
	return nil, errors.New("fake: no vhost-user backends")
}

func (o *fakeOpener) CircuitTAP(config.TAPConfig) (CircuitTAP, error) {
	return nil, errors.New("fake: no dynamic circuits")
}

func (o *fakeOpener) PathMTU(netip.Addr) (int, error) { return o.pmtu, nil }

func (o *fakeOpener) Deleted(err error) bool { return errors.Is(err, errDeleted) }

// opened returns the endpoints opened for TAP name, in order.
func (o *fakeOpener) opened(name string) []*fakeEndpoint {
	o.mu.Lock()
	defer o.mu.Unlock()
	var eps []*fakeEndpoint
	for _, ep := range o.endpoints {
		if ep.name == name {
			eps = append(eps, ep)
		}
	}
	return eps
}

// fakeEndpoint is a TAP that reads nothing and takes every frame written,
// until closed or told to fail.
type fakeEndpoint struct {
	name   string
	mtu    int
	fail   chan error // ReadLoop returns the error sent here
	once   sync.Once
	closed chan struct{}
}

func (f *fakeEndpoint) Name() string                { return f.name }
func (f *fakeEndpoint) MTU() int                    { return f.mtu }
func (f *fakeEndpoint) Queues() int                 { return 1 }
func (f *fakeEndpoint) ReadStats() (uint64, uint64) { return 0, 0 }

func (f *fakeEndpoint) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeEndpoint) isClosed() bool {
	select {
	case <-f.closed:
		return true
	default:
		return false
	}
}

func (f *fakeEndpoint) ReadLoop(q int, arena []byte, headroom int, pkts [][]byte, send func([][]byte) error, dropped func(error)) error {
	select {
	case <-f.closed:
		return nil
	case err := <-f.fail:
		return err
	}
}

func (f *fakeEndpoint) Write(frames [][]byte) (written, merged, bytes int, err error) {
	if f.isClosed() {
		return 0, 0, 0, os.ErrClosed
	}
	for _, fr := range frames {
		bytes += len(fr)
	}
	return len(frames), 0, bytes, nil
}

// fakeUnderlay is a socket that receives nothing and sends nowhere.
type fakeUnderlay struct {
	udp    bool
	once   sync.Once
	closed chan struct{}
}

func (u *fakeUnderlay) UDP() bool      { return u.udp }
func (u *fakeUnderlay) BatchSize() int { return 8 }

func (u *fakeUnderlay) Receive([]underlay.Message) (int, error) {
	<-u.closed
	return 0, os.ErrClosed
}

func (u *fakeUnderlay) NewSender(netip.AddrPort, int, func([]byte, syscall.Errno), func(syscall.Errno)) engine.Sender {
	return fakeSender{u}
}

func (u *fakeUnderlay) Close() error {
	u.once.Do(func() { close(u.closed) })
	return nil
}

func (u *fakeUnderlay) isClosed() bool {
	select {
	case <-u.closed:
		return true
	default:
		return false
	}
}

type fakeSender struct{ u *fakeUnderlay }

func (s fakeSender) Send([][]byte) error {
	if s.u.isClosed() {
		return os.ErrClosed
	}
	return nil
}
