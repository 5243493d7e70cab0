//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// After setup l2tap makes a small, fixed set of system calls: the data
// path's reads, writes, recvmmsg and sendmmsg, the Go runtime's (threads,
// memory, futexes, timers, signals), printing counters, and a clean exit
// with, for an attached TAP, its offloads and state handed back. The
// seccomp filter installed by installSeccomp allows exactly those, on
// every thread (SECCOMP_FILTER_FLAG_TSYNC; threads created later inherit
// it), and answers any other with SECCOMP_RET_TRAP: the kernel sends
// SIGSYS, on which the Go runtime stops l2tap with "SIGSYS: bad system
// call" and a trace whose first frames name the call (syscall.openat,
// for example); on amd64 the register dump's rax holds its number too.
//
// The list is per architecture (seccomp_<arch>.go), since system call
// numbers and even the calls the runtime makes differ; the filter first
// checks that the call comes in through that architecture's entry (a
// 32-bit or x32 call on amd64 is refused). Where no list exists,
// seccompFilter returns nil and l2tap logs once that it runs without one.

// seccompOptions are the parts of the allow list that depend on the
// configuration.
type seccompOptions struct {
	pid int // kill and tgkill may only signal this process
	// netlink allows what the restore of an attached TAP needs at exit:
	// a netlink socket and raising CAP_NET_ADMIN (see raiseNetAdmin).
	netlink bool
	// packet allows what the packet path's lookups of routes and
	// neighbours need (-ip-path packet): getsockname on its netlink socket.
	packet bool
	// reload allows what a reload's setup needs (see raiseSetup): opening
	// /dev/net/tun and the TUN ioctls, IP and netlink sockets, bind,
	// connect (a host name to resolve), reading the configuration file,
	// and raising the kept capabilities.
	reload bool
	// profile allows read-only opens: the CPU profile's writer reads
	// /proc/self/maps from a goroutine that may run after setup.
	profile bool
	// heapProfile allows ftruncate: the -memprofile file, opened during
	// setup, is rewritten in place on SIGUSR2 and at exit.
	heapProfile bool
	// serve allows accepting and answering connections: the control
	// socket and the metrics endpoint (see observe.go).
	serve bool
	// unlink allows removing a file (not a directory): the control
	// socket's, at exit.
	unlink bool
	// rotate allows what a -pcap-size rotation does: renaming the
	// capture file and creating a new one (openat write-only, create,
	// exclusive, no link followed; fchmod on it). The old file is
	// overwritten by the rename: nothing is unlinked.
	rotate bool
	// vmsocket allows what a VM's socket does after setup (see
	// internal/vmsocket): accepting a stream client (the runtime asks its
	// address), probing a datagram peer with connect, and removing the
	// socket file at exit; with reload, also the private directory a new
	// socket is made in (see internal/sockfile).
	vmsocket bool
}

// scRule allows system call nr when every condition holds; a call that
// matches nr but fails a condition is refused. A nonzero errno makes the
// call fail with it instead of running.
type scRule struct {
	nr    uintptr
	conds []scCond
	errno unix.Errno
}

// scCond holds when the low 32 bits of argument arg, masked, equal want
// or one of or. The calls filtered by argument take int or unsigned int
// arguments, so the kernel ignores the high bits too.
type scCond struct {
	arg        int
	mask, want uint32
	or         []uint32
}

func allow(nrs ...uintptr) []scRule {
	rules := make([]scRule, len(nrs))
	for i, nr := range nrs {
		rules[i] = scRule{nr: nr}
	}
	return rules
}

// argIs, argClear and argHas build conditions: argument equal to v, with
// none of the bits in m, with every bit in has and none in hasNot.
func argIs(arg int, v uint32) scCond            { return scCond{arg, 0xffffffff, v, nil} }
func argClear(arg int, m uint32) scCond         { return scCond{arg, m, 0, nil} }
func argHas(arg int, has, hasNot uint32) scCond { return scCond{arg, has | hasNot, has, nil} }

// argIn is argIs for any of the values vs.
func argIn(arg int, v uint32, vs ...uint32) scCond { return scCond{arg, 0xffffffff, v, vs} }

// Offsets in struct seccomp_data.
const (
	scNr   = 0
	scArch = 4
	scArgs = 16
)

// argLow is the offset of the low 32 bits of argument i.
func argLow(i int) uint32 {
	off := uint32(scArgs + 8*i)
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 { // big-endian
		off += 4
	}
	return off
}

// compile turns rules into a classic BPF program for architecture arch:
// calls from another architecture, and those at or above nrLimit when it
// is not zero (x32 on amd64), are refused; every rule is tried in order;
// anything else is refused. Refusal is SECCOMP_RET_TRAP.
func compile(arch uint32, nrLimit uint32, rules []scRule) ([]unix.SockFilter, error) {
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		and = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	deny := stmt(ret, unix.SECCOMP_RET_TRAP)
	p := []unix.SockFilter{
		stmt(ld, scArch),
		jump(jeq, arch, 1, 0),
		stmt(ret, unix.SECCOMP_RET_KILL_PROCESS),
		stmt(ld, scNr),
	}
	if nrLimit != 0 {
		p = append(p, jump(jge, nrLimit, 0, 1), deny)
	}
	for _, r := range rules {
		var body []unix.SockFilter
		for _, c := range r.conds {
			body = append(body, stmt(ld, argLow(c.arg)))
			if c.mask != 0xffffffff {
				body = append(body, stmt(and, c.mask))
			}
			// Each value that matches jumps over the values left and the deny.
			values := append([]uint32{c.want}, c.or...)
			for i, v := range values {
				body = append(body, jump(jeq, v, uint8(len(values)-i), 0))
			}
			body = append(body, deny)
		}
		action := uint32(unix.SECCOMP_RET_ALLOW)
		if r.errno != 0 {
			action = unix.SECCOMP_RET_ERRNO | uint32(r.errno)
		}
		body = append(body, stmt(ret, action))
		if len(body) > 255 {
			return nil, fmt.Errorf("seccomp rule for call %d is too long", r.nr)
		}
		p = append(p, jump(jeq, uint32(r.nr), 0, uint8(len(body))))
		p = append(p, body...)
	}
	p = append(p, deny)
	if len(p) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp filter has %d instructions, more than %d", len(p), unix.BPF_MAXINSNS)
	}
	return p, nil
}

// installSeccomp installs the filter on every thread of the process.
// no_new_privs must be set (dropPrivileges does). On an architecture
// without a list it logs so and installs nothing.
func installSeccomp(o seccompOptions) error {
	prog, err := seccompFilter(o)
	if err != nil {
		return err
	}
	if prog == nil {
		slog.Warn(fmt.Sprintf("-seccomp: no system call list for %s; running without a filter", runtime.GOARCH))
		return nil
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("-seccomp: install filter: %w (use -seccomp=off on kernels without seccomp)", e)
	}
	if r != 0 {
		return fmt.Errorf("-seccomp: install filter: thread %d cannot take it", r)
	}
	return nil
}

// testForbiddenSyscall is a test hook, read once at startup: when the
// environment has L2TAP_TEST_FORBIDDEN_SYSCALL=1, l2tap opens "/" right
// after setup, a call the filter forbids, so that tests can see the
// filter kill it (and, with -seccomp=off, not).
var testForbiddenSyscall = os.Getenv("L2TAP_TEST_FORBIDDEN_SYSCALL") == "1"

// forbiddenCall is what the test hook does: an openat that l2tap never
// makes once set up.
func forbiddenCall() {
	f, err := os.Open("/")
	if err == nil {
		f.Close()
	}
	slog.Info(fmt.Sprintf("test hook L2TAP_TEST_FORBIDDEN_SYSCALL: openat after setup: %v", errString(err)))
}

func errString(err error) string {
	if err == nil {
		return "allowed"
	}
	return err.Error()
}
