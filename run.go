package main

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"

	"github.com/l2tap/l2tap/internal/status"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Run opens the pseudowire described by cfg and moves frames until SIGINT or
// SIGTERM, then prints the counters to stdout and removes what it created.
func Run(cfg *Config) error {
	tc := &cfg.Tunnels[0]
	sc := &tc.Sessions[0]
	tun, err := OpenTunnel(tc.Endpoint)
	if err != nil {
		return explainTunnelError(tc.Endpoint, err)
	}
	defer tun.Close()

	auto, err := AutoMTU(tc.Endpoint, &sc.Header)
	if err != nil {
		return err
	}
	tcfg := sc.TAP
	if tcfg.MTU == 0 {
		tcfg.MTU = auto
	} else if tcfg.MTU > auto {
		log.Printf("-mtu %d exceeds the %d that fits the path to %s: larger frames are fragmented on the underlay", tcfg.MTU, auto, tc.Endpoint.Remote)
	}
	tap, err := OpenTAP(tcfg)
	if err != nil {
		return explainTAPError(err)
	}
	defer tap.Close()

	stats := &Stats{}
	p := &Pump{Header: sc.Header, Tunnel: tun, TAP: tap, SeqCheck: sc.SeqCheck, Stats: stats,
		Offload: sc.Offload, CoalesceUDP: sc.CoalesceUDP}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	if cfg.Batch {
		if err := setBatchPolicy(); err != nil {
			log.Printf("%v: staying with the default scheduling policy", err)
		}
	}
	stopGov := make(chan struct{})
	defer close(stopGov)
	if g := newProcGovernor(stats, len(tap.Queues())); g != nil {
		go g.run(stopGov)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	// `l2tap show` and -metrics: snapshots of the pump, taken when asked.
	stopObservers, err := startObservers(cfg, func() status.Snapshot { return pumpSnapshot(tc, p) })
	if err != nil {
		return err
	}
	defer stopObservers()

	if err := lockDown(cfg, tap); err != nil { // setup ends here
		return err
	}

	done := make(chan error, 2)
	var wg sync.WaitGroup
	for _, loop := range []func() error{p.TAPToTunnel, p.TunnelToTAP} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done <- loop()
		}()
	}
	log.Printf("ready tap=%s mtu=%d %s", tap.Name, tap.MTU, describe(tc, sc))

	var runErr error
wait:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				stats.Write(os.Stdout)
				// On stderr, so that nothing parsing the counters takes it for one.
				log.Printf("goroutines %d", runtime.NumGoroutine())
				continue
			}
			break wait
		case runErr = <-done:
			break wait
		}
	}
	tun.Close()
	tap.Close() // closing the descriptors stops the loops
	wg.Wait()
	stats.Write(os.Stdout)
	if errors.Is(runErr, unix.EBADFD) {
		// main exits 1 on this error, which lets a supervisor (systemd's
		// Restart=on-failure) start l2tap again with a new TAP.
		return fmt.Errorf("TAP %s was deleted while in use (%v): stopping with exit status 1, counters on stdout", tap.Name, runErr)
	}
	return runErr
}

// describe summarises a session and its tunnel for the ready line.
func describe(tc *TunnelConfig, c *SessionConfig) string {
	e, h := tc.Endpoint, c.Header
	enc := "ip"
	if e.UDP {
		enc = "udp"
	}
	off := "off"
	switch {
	case c.CoalesceUDP:
		off = "full"
	case c.Offload:
		off = "auto"
	}
	return fmt.Sprintf("encap=%s local=%s remote=%s session=%d/%d cookie=%dB sublayer=%v offset=%d offload=%s queues=%d",
		enc, addrPort(e.Local, e.LocalPort, e.UDP), addrPort(e.Remote, e.RemotePort, e.UDP),
		h.TxSession, h.RxSession, h.CookieLen, h.Sublayer, h.Offset, off, c.TAP.Queues)
}

// AutoMTU returns the TAP MTU that lets a full frame cross the path to the
// peer unfragmented: the path MTU minus outer IP, UDP, L2TP and Ethernet
// headers, as Linux's l2tp_eth computes it.
func AutoMTU(ep Endpoint, h *Header) (int, error) {
	pmtu, err := PathMTU(ep.Remote)
	if err != nil {
		return 0, err
	}
	mtu := pmtu - ep.IPOverhead() - h.Len() - ethHeaderLen
	if max := maxFrame - ep.IPOverhead() - h.Len() - ethHeaderLen; mtu > max {
		mtu = max
	}
	if mtu < 68 {
		return 0, fmt.Errorf("path MTU %d to %s leaves %d for the TAP, below 68: raise the underlay MTU", pmtu, ep.Remote, mtu)
	}
	return mtu, nil
}

// PathMTU returns the MTU of the route to dst: the route's own MTU if set,
// else the MTU of its outgoing interface.
func PathMTU(dst netip.Addr) (int, error) {
	routes, err := netlink.RouteGet(dst.AsSlice())
	if err != nil || len(routes) == 0 {
		return 0, usagef("-dst %s: no route to it (%v); check the underlay addresses and routes", dst, err)
	}
	r := routes[0]
	if r.MTU > 0 {
		return r.MTU, nil
	}
	link, err := netlink.LinkByIndex(r.LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("route to %s: interface %d: %w", dst, r.LinkIndex, err)
	}
	return link.Attrs().MTU, nil
}

// explainTunnelError turns socket errors into advice naming the flag to change.
func explainTunnelError(ep Endpoint, err error) error {
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return usagef("-srcport %d: %s is already in use by another program; pick another -srcport or stop that program",
			ep.LocalPort, addrPort(ep.Local, ep.LocalPort, true))
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return usagef("-src %s: no interface on this host has that address; give a local address", ep.Local)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if !ep.UDP {
			return usagef("IP encapsulation needs a raw socket: run as root or grant CAP_NET_RAW (or use -udp)")
		}
		return usagef("-srcport %d: ports below 1024 need CAP_NET_BIND_SERVICE; run as root or pick a port above 1023", ep.LocalPort)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		return usagef("-ipv6: this host has no IPv6; drop -ipv6 and use IPv4 addresses")
	}
	return fmt.Errorf("open tunnel socket: %w", err)
}

// explainTAPError adds the missing capability to permission errors.
func explainTAPError(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return usagef("%v: creating or configuring a TAP needs CAP_NET_ADMIN; run as root or grant it", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	return usageError{err}
}
