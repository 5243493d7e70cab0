package tap

import "net"

// This file is what other systems build of the package: the
// configuration the command line fills. The Device is Linux's.

// Config says which TAP to use and how to set it up.
type Config struct {
	Name   string // interface name; may hold a %d pattern
	Attach bool   // the TAP must already exist
	MTU    int    // 0 leaves the MTU as it is
	Owner  int    // -1 for none
	Group  int    // -1 for none
	Master string // bridge to enslave the TAP to, or ""
	// Offload asks for virtio-net headers and checksum and segmentation
	// offloads: the TAP then hands over superframes of up to 64 KiB and
	// takes coalesced ones. Open falls back silently where refused.
	Offload bool
	// Queues is the number of TAP queues (IFF_MULTI_QUEUE) to open, each
	// read by its own loop; 0 and 1 mean one queue.
	Queues int
	// CoalesceUDP merges equal-size UDP datagrams into one write too, where
	// the TAP takes USO (with Offload; TCP segments are always merged).
	CoalesceUDP bool
	// MAC chooses the Ethernet address of a TAP l2tap creates (see
	// MACPolicy); MACAddr is the address of MACFixed, and MachineID the
	// key of MACPersistent (nil: no machine ID, the kernel's address
	// stays). A TAP that existed keeps its address.
	MAC       MACPolicy
	MACAddr   net.HardwareAddr
	MachineID MachineID
}

// MachineID is the key of MACPersistent: the machine's ID, which
// machine-id(5) asks to be kept private. It prints as a placeholder, so
// that a configuration printed in full does not show it.
type MachineID []byte

func (MachineID) String() string { return "<machine ID>" }

// MaxQueues bounds -queues, as the kernel's MAX_TAP_QUEUES does.
const MaxQueues = 256
