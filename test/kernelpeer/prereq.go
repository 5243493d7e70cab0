//go:build linux

package kernelpeer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrMissingPrereq marks an error caused by something the host lacks
// (root, a tool, package downloads) rather than by the code under test.
var ErrMissingPrereq = errors.New("missing prerequisite")

// hostTools are the host programs the harness runs.
var hostTools = []string{"qemu-system-x86_64", "ip", "ping", "bash", "apt-get", "dpkg-deb", "go"}

// CheckHost returns an error wrapping ErrMissingPrereq if the host cannot
// run the kernel peer: it must be root and have every tool in hostTools.
func CheckHost() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: must run as root (namespaces, TAP devices)", ErrMissingPrereq)
	}
	var missing []string
	for _, tool := range hostTools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: tools not found in PATH: %s (apt-get install qemu-system-x86 iproute2 iputils-ping)",
			ErrMissingPrereq, strings.Join(missing, ", "))
	}
	return nil
}
