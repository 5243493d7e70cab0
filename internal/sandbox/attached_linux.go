//go:build linux

package sandbox

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// AttachedTAPs is the helper's record of the TAPs l2tap attached to (TAPs
// it did not create): the MTU and up state each had before l2tap changed
// them, and the interface they belong to, so that the state goes back to
// that interface alone, never to another that took its name since. The
// zero value is not usable: make one with NewAttachedTAPs.
type AttachedTAPs struct {
	taps map[string]attachedTAP
}

// attachedTAP is the state of an attached TAP before l2tap changed it.
type attachedTAP struct {
	index, mtu int
	up         bool
}

// NewAttachedTAPs returns an empty record.
func NewAttachedTAPs() *AttachedTAPs { return &AttachedTAPs{taps: map[string]attachedTAP{}} }

// Record notes the MTU and up state of TAP name, unless already noted; a
// TAP that does not exist yet has nothing to record (opening it fails).
func (a *AttachedTAPs) Record(name string) {
	if _, ok := a.taps[name]; ok {
		return
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return
	}
	at := link.Attrs()
	a.taps[name] = attachedTAP{index: at.Index, mtu: at.MTU, up: at.Flags&net.FlagUp != 0}
}

// Has reports whether TAP name's state is recorded.
func (a *AttachedTAPs) Has(name string) bool {
	_, ok := a.taps[name]
	return ok
}

// Restore gives TAP name the state recorded, if it is still the same
// interface, and forgets it.
func (a *AttachedTAPs) Restore(name string) error {
	t, ok := a.taps[name]
	if !ok {
		return fmt.Errorf("TAP %s: not one l2tap attached to", name)
	}
	delete(a.taps, name)
	link, err := netlink.LinkByIndex(t.index)
	if err != nil || link.Attrs().Name != name {
		return fmt.Errorf("TAP %s: gone", name)
	}
	netlink.LinkSetMTU(link, t.mtu)
	if !t.up {
		netlink.LinkSetDown(link)
	}
	return nil
}

// RestoreAll restores every TAP recorded and not yet restored.
func (a *AttachedTAPs) RestoreAll() {
	for name := range a.taps {
		a.Restore(name)
	}
}
