package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/watertap"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// openDevice opens a session's TAP with its driver.
func openDevice(sc *config.SessionConfig, c config.TAPConfig) (daemon.Device, error) {
	if sc.TAPDriver == config.DriverWater {
		return openWater(c)
	}
	dev, err := openTAP(c)
	if err != nil {
		return nil, err
	}
	return tapEndpoint{dev}, nil
}

// openWater creates a TAP through water, and gives it its MTU, MAC, bridge
// and up state with netlink, as internal/tap does. water would attach to a
// TAP that exists under a fixed name; that is refused, as without -attach.
func openWater(c config.TAPConfig) (daemon.Device, error) {
	if !strings.Contains(c.Name, "%") {
		if _, err := net.InterfaceByName(c.Name); err == nil {
			return nil, config.Usagef("-ifname %s: an interface of that name exists; the water driver only creates TAPs: pick another name, or use -tap-driver kernel -attach", c.Name)
		}
	}
	d, err := watertap.Open(watertap.Config{Name: c.Name})
	if err != nil {
		return nil, explainTAPError(err)
	}
	fail := func(what string, err error) (daemon.Device, error) {
		d.Close()
		return nil, explainTAPError(fmt.Errorf("TAP %s: %s: %w", d.Name(), what, err))
	}
	link, err := netlink.LinkByName(d.Name())
	if err != nil {
		return fail("look up", err)
	}
	if c.MTU > 0 {
		if err := netlink.LinkSetMTU(link, c.MTU); err != nil {
			return fail(fmt.Sprintf("set MTU %d", c.MTU), err)
		}
	}
	if mac := c.MACFor(d.Name()); mac != nil {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return fail("set MAC "+mac.String(), err)
		}
	}
	if c.Master != "" {
		br, err := netlink.LinkByName(c.Master)
		if err != nil {
			return fail("-master "+c.Master, err)
		}
		if err := netlink.LinkSetMaster(link, br); err != nil {
			return fail("-master "+c.Master, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fail("set up", err)
	}
	warnRandomMAC(&c, d.Name())
	return waterEndpoint{d, c.MTU}, nil
}

// endpointDeleted reports the error of a TAP deleted under l2tap.
func endpointDeleted(err error) bool { return errors.Is(err, unix.EBADFD) }

// openCircuitTAP creates a dynamic circuit's TAP (Linux's driver: its
// carrier follows the negotiated session).
func openCircuitTAP(c config.TAPConfig) (daemon.CircuitTAP, error) {
	dev, err := openTAP(c)
	if err != nil {
		return nil, err
	}
	return tapEndpoint{dev}, nil
}
