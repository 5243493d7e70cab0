package tap

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// MACPolicy says which Ethernet address a TAP l2tap creates gets. A TAP
// l2tap attaches to keeps its own whatever the policy.
type MACPolicy uint8

const (
	// MACPersistent derives the address from the machine ID and the TAP's
	// name (PersistentMAC), so it is the same after every restart, as
	// systemd's MACAddressPolicy=persistent does for other interfaces.
	// Without a machine ID (Config.MachineID nil) the kernel's random
	// address stays.
	MACPersistent MACPolicy = iota
	// MACRandom keeps the random address the kernel gives a new TAP.
	MACRandom
	// MACFixed sets Config.MACAddr.
	MACFixed
)

// MachineIDFile holds the machine ID: 32 hexadecimal digits and a newline
// (machine-id(5)).
const MachineIDFile = "/etc/machine-id"

// macDomain separates the TAP addresses derived from the machine ID from
// any other use of it as a key.
const macDomain = "l2tap persistent TAP MAC\x00"

// PersistentMAC returns the Ethernet address of the TAP called name on the
// machine whose ID is machineID (the 16 bytes of MachineIDFile): the first
// 6 bytes of HMAC-SHA256 keyed with the machine ID over a fixed label and
// the name, with the locally administered bit set and the multicast bit
// clear. The same machine and name always give the same address; the
// machine ID cannot be read back from it (machine-id(5) asks that it not
// be exposed).
func PersistentMAC(machineID MachineID, name string) net.HardwareAddr {
	m := hmac.New(sha256.New, machineID)
	m.Write([]byte(macDomain))
	m.Write([]byte(name))
	sum := m.Sum(nil)
	mac := net.HardwareAddr(sum[:6:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// ErrNoMachineID marks a machine ID file that is missing, empty or not a
// machine ID.
var ErrNoMachineID = errors.New("no machine ID")

// ReadMachineID reads a machine ID file such as MachineIDFile: 32
// hexadecimal digits, a newline allowed after them, not all zero (systemd
// writes "uninitialized" or leaves the file empty before first boot). The
// errors wrap ErrNoMachineID.
func ReadMachineID(path string) (MachineID, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoMachineID, err)
	}
	return ParseMachineID(path, b)
}

// ParseMachineID checks the contents b of the machine ID file at path (see
// ReadMachineID) and returns its 16 bytes.
func ParseMachineID(path string, b []byte) (MachineID, error) {
	s := strings.TrimSuffix(string(b), "\n")
	id, err := hex.DecodeString(s)
	if err != nil || len(id) != 16 {
		return nil, fmt.Errorf("%w: %s does not hold 32 hexadecimal digits", ErrNoMachineID, path)
	}
	for _, c := range id {
		if c != 0 {
			return id, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is all zeros", ErrNoMachineID, path)
}

// ParseMAC reads an Ethernet address a TAP may be given: 6 bytes as
// net.ParseMAC spells them (00:11:22:33:44:55, 00-11-..., 0011.2233.4455),
// unicast and not all zeros.
func ParseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, errors.New("not a 6-byte Ethernet address such as 02:00:5e:10:00:01")
	}
	if mac[0]&0x01 != 0 {
		return nil, errors.New("a multicast address (the low bit of the first byte is set): a TAP needs a unicast one")
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return nil, errors.New("the all-zero address is no interface's")
	}
	return mac, nil
}

// MACFor is the address c gives a TAP l2tap created and the kernel named
// name, or nil to keep the kernel's random one.
func (c *Config) MACFor(name string) net.HardwareAddr {
	switch c.MAC {
	case MACFixed:
		return c.MACAddr
	case MACPersistent:
		if c.MachineID != nil {
			return PersistentMAC(c.MachineID, name)
		}
	}
	return nil
}
