//go:build linux

package kernelpeer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// NetnsPrefix starts the name of every namespace this package creates.
// Names are NetnsPrefix + the creating process's PID.
const NetnsPrefix = "kp-"

// Netns is a network namespace created by CreateNetns.
type Netns struct {
	Name string
}

// CreateNetns creates the namespace kp-<our pid> with loopback up and IPv6
// duplicate address detection off. It first deletes namespaces of that
// naming scheme whose creating process no longer exists.
func CreateNetns(ctx context.Context) (*Netns, error) {
	return createNetns(ctx, "")
}

// createNetns is CreateNetns for the namespace kp-<role>-<our pid>, or
// kp-<our pid> when role is "": a test that needs a namespace of its own
// beside the shared one names its role.
func createNetns(ctx context.Context, role string) (*Netns, error) {
	ReapStaleNetns(ctx)
	n := &Netns{Name: fmt.Sprintf("%s%d", NetnsPrefix, os.Getpid())}
	if role != "" {
		n.Name = fmt.Sprintf("%s%s-%d", NetnsPrefix, role, os.Getpid())
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"},
		{"sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"},
	} {
		if _, err := n.Output(ctx, args...); err != nil {
			_ = n.Delete()
			return nil, err
		}
	}
	return n, nil
}

// Command returns an unstarted command that runs args inside the namespace.
// `ip netns exec` executes the program in place, so the command's PID is
// the program's own. The program is killed if the test process dies.
func (n *Netns) Command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", n.Name}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Output runs args inside the namespace and returns the combined output;
// a non-zero exit becomes an error that includes the output.
func (n *Netns) Output(ctx context.Context, args ...string) (string, error) {
	out, err := n.Command(ctx, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in netns %s: %s: %w: %s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Delete removes the namespace and with it every interface inside it.
func (n *Netns) Delete() error {
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
	}
	return nil
}

var staleName = regexp.MustCompile(`^` + NetnsPrefix + `(?:[a-z]+-)?([0-9]+)$`)

// ReapStaleNetns deletes namespaces named kp-<pid> (or kp-<role>-<pid>) whose process is gone,
// left behind by a run that was killed before it could clean up. Errors
// are ignored: reaping is best effort.
func ReapStaleNetns(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		m := staleName.FindStringSubmatch(fields[0])
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue
		}
		_ = (&Netns{Name: fields[0]}).Delete()
	}
}
