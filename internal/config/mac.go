package config

import "github.com/l2tap/l2tap/internal/tap"

// MachineIDFile is where -mac persistent reads the machine ID; a variable
// so that tests can point it at a file of their own.
var MachineIDFile = tap.MachineIDFile

// macConfig checks -mac into c, the session's TAP: persistent (the
// default: derived from the machine ID and the TAP's name, see
// tap.PersistentMAC), random (the kernel's, new on every start) or an
// address. A TAP l2tap does not create (-attach, or a VM's -socket) keeps
// its address, so -mac there is refused. Without a machine ID the default
// falls back to the kernel's random address (the TAP's opening warns);
// -mac persistent given outright is then an error.
func (o *Options) macConfig(c *TAPConfig) error {
	v := o.MAC.Val
	if o.MAC.Given {
		switch {
		case o.Attach.Val:
			return badf("mac", "-mac %s with -attach: an attached TAP keeps its own MAC; drop -mac (or -attach, to have l2tap create the TAP)", v)
		case o.Socket.Given:
			return badf("mac", "-mac %s with -socket: the VM's NIC has its own MAC (QEMU's mac=); drop -mac", v)
		case o.VhostUser.Given:
			return badf("mac", "-mac %s with -vhost-user: the VM's NIC has its own MAC (QEMU's mac=); drop -mac", v)
		}
	}
	switch v {
	case "", "persistent":
		c.MAC = tap.MACPersistent
		if o.Attach.Val || o.Socket.Given || o.VhostUser.Given {
			return nil
		}
		id, err := tap.ReadMachineID(MachineIDFile)
		if err != nil {
			if o.MAC.Given {
				return badf("mac", "-mac persistent: %v; create it (systemd-machine-id-setup), or use -mac random or -mac ADDR", err)
			}
			return nil // the kernel's address, with a warning when the TAP opens
		}
		c.MachineID = id
	case "random":
		c.MAC = tap.MACRandom
	default:
		mac, err := tap.ParseMAC(v)
		if err != nil {
			return badf("mac", "-mac %q: %v; or use -mac persistent (the default: the same on every start) or -mac random", v, err)
		}
		c.MAC, c.MACAddr = tap.MACFixed, mac
	}
	return nil
}

// PersistentMACMissing reports whether a TAP l2tap creates under c keeps
// the kernel's random MAC because there is no machine ID to derive one
// from (-mac persistent by default).
func PersistentMACMissing(c *TAPConfig) bool {
	return c.MAC == tap.MACPersistent && c.MachineID == nil
}

// fixedMAC is the address -mac ADDR gives c, in one spelling, or "".
func fixedMAC(c *TAPConfig) string {
	if c.MAC != tap.MACFixed {
		return ""
	}
	return c.MACAddr.String()
}
