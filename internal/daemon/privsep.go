//go:build linux

package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/sandbox"
	"github.com/l2tap/l2tap/internal/tap"
)

// Privilege separation. Two things need privilege after setup: a reload
// (-config, SIGHUP) makes TAPs, underlay sockets and VM sockets; and an
// attached TAP (-attach) gets its MTU and up/down state back at exit,
// through rtnetlink. For those, and only then, Run starts a helper before
// setup: this binary again (sandbox.StartHelper), as root, holding one end
// of a socketpair. The data-path process then drops everything (no
// capability in any set, the default account, its seccomp filter), and
// asks the helper over the socketpair, which answers with descriptors.
//
// The helper trusts nothing it is told but a choice among what it read
// itself: it parses the command line and configuration file as the data
// path did, reads the file again on a reload request (never a path, an
// address or a setting from the other side), opens the session or socket
// a request numbers in that reading, and restores only TAPs whose state it
// recorded before anyone changed them (at its start, for the attached TAPs
// of the configuration, and before it attaches one on a reload). It keeps
// only sandbox.HelperCaps, under its own seccomp filter (no exec, no
// creating opens, no capset), ignores the signals meant for l2tap, and
// exits when the data path's end of the socketpair closes, restoring first
// what is left to restore, however the data path ended.

// HelperOpener is an Opener that also takes in what the helper opened, sent
// as descriptors, and makes a VM socket's file without serving it (for the
// data path to serve): what the helper and the data path open with.
type HelperOpener interface {
	Opener
	// AdoptSocket makes the underlay socket of a tunnel whose ends are e
	// from f, a socket the helper opened.
	AdoptSocket(e config.TunnelEnds, offload bool, f *os.File) (engine.Underlay, error)
	// AdoptTAP makes a session's TAP, configured as c, from its queues
	// and what the helper learnt of it; restore, when not nil, gives an
	// attached TAP its state back.
	AdoptTAP(c config.TAPConfig, facts tap.Facts, files []*os.File, restore func()) (Device, error)
	// AdoptVMSocket makes session sc's VM socket from f, the socket the
	// helper bound; mtu is the MTU the VM should give its NIC.
	AdoptVMSocket(sc *config.SessionConfig, mtu int, f *os.File) (Device, error)
	// BindVMSocket makes session sc's VM socket file, bound and
	// listening, owned as the session says, and returns its descriptor.
	BindVMSocket(sc *config.SessionConfig) (*os.File, error)
	// AdoptVhostUser makes session sc's vhost-user backend from f, the
	// listening socket the helper bound (nil for a client, which connects
	// by itself); mtu is the MTU the guest should give its NIC.
	AdoptVhostUser(sc *config.SessionConfig, mtu int, f *os.File) (Device, error)
	// BindVhostUser makes session sc's vhost-user socket file, bound and
	// listening, owned as the session says, and returns its descriptor.
	BindVhostUser(sc *config.SessionConfig) (*os.File, error)
}

// fileSocket is an underlay socket whose descriptor can be sent.
type fileSocket interface {
	File() *os.File
}

// tapFiles is a TAP whose queues can be sent, with what the data path
// needs to know of it.
type tapFiles interface {
	Facts() tap.Facts
	Files() []*os.File
}

// privHelper is the data path's handle on the helper.
type privHelper struct {
	c    *sandbox.Client
	open HelperOpener
	base *config.Config // the configuration at start: process settings for reloads
}

// asHelperOpener returns open as a HelperOpener, or why not.
func asHelperOpener(open Opener) (HelperOpener, error) {
	po, ok := open.(HelperOpener)
	if !ok {
		return nil, errors.New("privileged helper: this system's opener cannot take descriptors")
	}
	return po, nil
}

// needsHelper reports whether cfg needs the helper after setup: a
// configuration file to reload, or an attached TAP to restore.
func needsHelper(cfg *config.Config) bool {
	if cfg.Reload != nil {
		return true
	}
	for _, tc := range cfg.Tunnels {
		for _, sc := range tc.Sessions {
			if sc.TAP.Attach && sc.Socket.Path == "" {
				return true
			}
		}
	}
	return false
}

// startPrivHelper starts the helper when cfg needs one, and points cfg's
// reload at it; open takes in what the helper opens.
func startPrivHelper(cfg *config.Config, open Opener) (helper, error) {
	if !needsHelper(cfg) {
		return nil, nil
	}
	po, err := asHelperOpener(open)
	if err != nil {
		return nil, err
	}
	c, err := sandbox.StartHelper()
	if err != nil {
		return nil, err
	}
	h := &privHelper{c: c, open: po, base: cfg}
	if cfg.Reload != nil {
		cfg.Reload = h.reload
	}
	return h, nil
}

func (h *privHelper) close() { h.c.Close() }

// wireTunnel is a tunnel as a reload reply carries it: a dynamic tunnel's
// settings (its secret among them) stay in the helper.
type wireTunnel struct {
	Tunnel  config.TunnelConfig `json:"tunnel"`
	Dynamic bool                `json:"dynamic,omitempty"`
}

// reload asks the helper to read the configuration file again, and returns
// its tunnels and sessions with the process settings of the start.
func (h *privHelper) reload() (*config.Config, error) {
	r, files, err := h.c.Call(sandbox.Request{Op: sandbox.OpReload})
	sandbox.CloseFiles(files)
	if err != nil {
		return nil, err
	}
	var tunnels []wireTunnel
	if err := json.Unmarshal(r.Data, &tunnels); err != nil {
		return nil, fmt.Errorf("privileged helper: reload reply: %w", err)
	}
	cfg := *h.base
	cfg.Tunnels = make([]config.TunnelConfig, len(tunnels))
	for i, t := range tunnels {
		cfg.Tunnels[i] = t.Tunnel
		if t.Dynamic {
			cfg.Tunnels[i].Dynamic = &config.DynamicConfig{}
		}
	}
	cfg.Gen = r.Gen
	return &cfg, nil
}

// socketReply and endpointReply are the Data of replies to OpSocket and
// OpOpen.
type socketReply struct {
	Offload bool `json:"offload"`
}

type endpointReply struct {
	Auto     int        `json:"auto"` // the MTU that fits the path
	MTU      int        `json:"mtu"`  // a VM socket's
	TAP      *tap.Facts `json:"tap,omitempty"`
	Attached bool       `json:"attached,omitempty"` // the helper restores it
}

// socket asks the helper for the underlay socket of tunnel ti of cfg (a
// reload's).
func (h *privHelper) socket(cfg *config.Config, ti int) (engine.Underlay, error) {
	r, files, err := h.c.Call(sandbox.Request{Op: sandbox.OpSocket, Gen: cfg.Gen, Tunnel: ti})
	if err != nil {
		return nil, err
	}
	var d socketReply
	if err := json.Unmarshal(r.Data, &d); err != nil || len(files) != 1 {
		sandbox.CloseFiles(files)
		return nil, fmt.Errorf("privileged helper: socket reply with %d descriptors: %v", len(files), err)
	}
	return h.open.AdoptSocket(cfg.Tunnels[ti].Ends, d.Offload, files[0])
}

// endpoint asks the helper for the TAP or VM socket of session si of
// tunnel ti of cfg (a reload's).
func (h *privHelper) endpoint(cfg *config.Config, ti, si int) (Device, int, error) {
	r, files, err := h.c.Call(sandbox.Request{Op: sandbox.OpOpen, Gen: cfg.Gen, Tunnel: ti, Session: si})
	if err != nil {
		return nil, 0, err
	}
	var d endpointReply
	sc := &cfg.Tunnels[ti].Sessions[si]
	if sc.VhostUser.Client {
		// The helper only sized it: a client connects by itself, again
		// each time its frontend goes.
		sandbox.CloseFiles(files)
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return nil, 0, fmt.Errorf("privileged helper: open reply: %v", err)
		}
		dev, err := h.open.AdoptVhostUser(sc, d.MTU, nil)
		return dev, d.Auto, err
	}
	if err := json.Unmarshal(r.Data, &d); err != nil || len(files) == 0 {
		sandbox.CloseFiles(files)
		return nil, 0, fmt.Errorf("privileged helper: open reply with %d descriptors: %v", len(files), err)
	}
	if d.TAP == nil {
		if len(files) != 1 {
			sandbox.CloseFiles(files)
			return nil, 0, errors.New("privileged helper: a VM socket with more than one descriptor")
		}
		adopt := h.open.AdoptVMSocket
		if sc.VhostUser.Path != "" {
			adopt = h.open.AdoptVhostUser
		}
		dev, err := adopt(sc, d.MTU, files[0])
		if err != nil {
			return nil, 0, err
		}
		return dev, d.Auto, nil
	}
	tcfg := sc.TAP
	tcfg.CoalesceUDP = sc.CoalesceUDP
	var restore func()
	if d.Attached {
		restore = h.restorer(d.TAP.Name)
	}
	dev, err := h.open.AdoptTAP(tcfg, *d.TAP, files, restore)
	if err != nil {
		return nil, 0, err
	}
	return dev, d.Auto, nil
}

// restorer returns the function that has the helper give attached TAP
// name its state back.
func (h *privHelper) restorer(name string) func() {
	return func() {
		if _, files, err := h.c.Call(sandbox.Request{Op: sandbox.OpRestore, Name: name}); err != nil {
			slog.Warn("attached TAP not restored", "tap", name, "err", err)
		} else {
			sandbox.CloseFiles(files)
		}
	}
}

// wrapRestores hands the restore of the attached TAPs of devs to the
// helper, and reports whether any is left to l2tap itself (none with a
// helper).
func (h *privHelper) wrapRestores(devs []Device) {
	for _, d := range devs {
		if t, ok := d.(restorable); ok {
			t.WrapRestore(func(func()) func() { return h.restorer(d.Name()) })
		}
	}
}

// HelperMode runs l2tap as the privileged helper when started as one
// (see sandbox.StartHelper), opening with open, and then reports true.
func HelperMode(cfg *config.Config, open Opener) (bool, error) {
	fd, ok := sandbox.HelperFD()
	if !ok {
		return false, nil
	}
	po, err := asHelperOpener(open)
	if err != nil {
		return true, err
	}
	return true, runHelper(fd, cfg, po)
}

// helperState is what the helper holds: the configuration as last read,
// numbered by gen, and the attached TAPs it recorded, by name.
type helperState struct {
	open     HelperOpener
	read     func() (*config.Config, error) // the file read again; nil without -config
	cfg      *config.Config
	gen      uint64
	attached *sandbox.AttachedTAPs
}

// runHelper is the helper's life: the attached TAPs of cfg recorded
// before anything changes them, then sandbox.RunHelper with the requests
// answered from cfg and what the helper reads again.
func runHelper(fd int, cfg *config.Config, open HelperOpener) error {
	st := &helperState{open: open, read: cfg.Reload, cfg: cfg, attached: sandbox.NewAttachedTAPs()}
	for _, tc := range cfg.Tunnels {
		for _, sc := range tc.Sessions {
			if sc.TAP.Attach && sc.Socket.Path == "" {
				st.attached.Record(sc.TAP.Name)
			}
		}
	}
	// l2tap's signals are the data path's business.
	return sandbox.RunHelper(fd, cfg.Seccomp, st.attached, st.handle, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, sigCounters)
}

// handle answers one request (see sandbox.Handler).
func (st *helperState) handle(req sandbox.Request) (sandbox.Reply, []*os.File) {
	r, files, err := st.answer(req)
	if err != nil {
		slog.Warn("privileged helper: request refused", "op", string(req.Op), "err", err)
		return sandbox.Reply{Err: err.Error()}, nil
	}
	return r, files
}

func (st *helperState) answer(req sandbox.Request) (sandbox.Reply, []*os.File, error) {
	switch req.Op {
	case sandbox.OpReload:
		if st.read == nil {
			return sandbox.Reply{}, nil, errors.New("no -config file to read again")
		}
		cfg, err := st.read()
		if err != nil {
			return sandbox.Reply{}, nil, err
		}
		st.cfg, st.gen = cfg, st.gen+1
		wire := make([]wireTunnel, len(cfg.Tunnels))
		for i, tc := range cfg.Tunnels {
			wire[i] = wireTunnel{Tunnel: tc, Dynamic: tc.Dynamic != nil}
			if tc.Dynamic != nil {
				wire[i].Tunnel.Sessions = nil
			}
		}
		return sandbox.NewReply(st.gen, wire, nil)
	case sandbox.OpRestore:
		return sandbox.Reply{}, nil, st.attached.Restore(req.Name)
	}
	tc, sc, err := st.configured(req)
	if err != nil {
		return sandbox.Reply{}, nil, err
	}
	if req.Op == sandbox.OpSocket {
		e := tc.Ends
		if st.cfg.PacketPath && !e.UDP && e.Local.Is4() {
			return sandbox.Reply{}, nil, errors.New("-ip-path packet: a reload cannot add a socket on the packet path; restart l2tap")
		}
		offload := socketOffload(st.cfg, socketKeyOf(e))
		u, err := st.open.Socket(e, offload, false)
		if err != nil {
			return sandbox.Reply{}, nil, err
		}
		s, ok := u.(fileSocket)
		if !ok {
			u.Close()
			return sandbox.Reply{}, nil, errors.New("this system's socket cannot be sent")
		}
		// Serve closes the descriptor once sent: the socket is the data path's.
		return sandbox.NewReply(st.gen, socketReply{Offload: offload}, []*os.File{s.File()})
	}
	tcfg, auto, err := sessionTAP(st.open, tc, sc)
	if err != nil {
		return sandbox.Reply{}, nil, err
	}
	if sc.Socket.Path != "" {
		// Made, not served: the data path serves it.
		f, err := st.open.BindVMSocket(sc)
		if err != nil {
			return sandbox.Reply{}, nil, err
		}
		return sandbox.NewReply(st.gen, endpointReply{Auto: auto, MTU: tcfg.MTU}, []*os.File{f})
	}
	if sc.VhostUser.Path != "" {
		if sc.VhostUser.Client {
			// Sized only: the data path connects to the frontend.
			return sandbox.NewReply(st.gen, endpointReply{Auto: auto, MTU: tcfg.MTU}, nil)
		}
		f, err := st.open.BindVhostUser(sc)
		if err != nil {
			return sandbox.Reply{}, nil, err
		}
		return sandbox.NewReply(st.gen, endpointReply{Auto: auto, MTU: tcfg.MTU}, []*os.File{f})
	}
	if sc.TAPDriver == config.DriverWater {
		return sandbox.Reply{}, nil, errors.New("-tap-driver water: a reload cannot add such a session; restart l2tap")
	}
	if tcfg.Attach {
		st.attached.Record(tcfg.Name)
	}
	d, err := st.open.TAP(sc, tcfg)
	if err != nil {
		return sandbox.Reply{}, nil, err
	}
	dev, ok := d.(tapFiles)
	if !ok {
		d.Close()
		return sandbox.Reply{}, nil, errors.New("this system's TAP cannot be sent")
	}
	// Serve sends the queues, then closes them here: the TAP is the data
	// path's (one l2tap created goes when the data path closes it).
	facts := dev.Facts()
	attached := st.attached.Has(facts.Name)
	return sandbox.NewReply(st.gen, endpointReply{Auto: auto, TAP: &facts, Attached: attached && !facts.Created}, dev.Files())
}

// configured returns the session (or, for OpSocket, the tunnel) a request
// numbers in the configuration the helper read last: nothing else.
func (st *helperState) configured(req sandbox.Request) (*config.TunnelConfig, *config.SessionConfig, error) {
	if st.gen == 0 || req.Gen != st.gen {
		return nil, nil, fmt.Errorf("generation %d is not the configuration read last (%d)", req.Gen, st.gen)
	}
	if req.Tunnel >= len(st.cfg.Tunnels) {
		return nil, nil, fmt.Errorf("no tunnel %d in the configuration", req.Tunnel)
	}
	tc := &st.cfg.Tunnels[req.Tunnel]
	if tc.Dynamic != nil {
		return nil, nil, fmt.Errorf("tunnel %d is dynamic: a reload leaves it as it started", req.Tunnel)
	}
	if req.Op == sandbox.OpSocket {
		return tc, nil, nil
	}
	if req.Session >= len(tc.Sessions) {
		return nil, nil, fmt.Errorf("no session %d in tunnel %d", req.Session, req.Tunnel)
	}
	return tc, &tc.Sessions[req.Session], nil
}
