//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// After setup the data path makes a small, fixed set of system calls: the
// data path's reads, writes, recvmmsg and sendmmsg, the Go runtime's
// (threads, memory, futexes, timers, signals), printing counters, asking
// the helper over its socketpair, and a clean exit. The seccomp filter
// installed by Install allows exactly those, on every thread
// (SECCOMP_FILTER_FLAG_TSYNC; threads created later inherit it), and
// answers any other with SECCOMP_RET_TRAP: the kernel sends SIGSYS, on
// which the Go runtime stops l2tap with "SIGSYS: bad system call" and a
// trace whose first frames name the call (syscall.openat, for example);
// on amd64 the register dump's rax holds its number too. The helper's
// filter (InstallHelper) is the same base with what opening a session
// takes.
//
// The list is per architecture (seccomp_<arch>.go), since system call
// numbers and even the calls the runtime makes differ; the filter first
// checks that the call comes in through that architecture's entry (a
// 32-bit or x32 call on amd64 is refused). Where no list exists, the
// filter is nil and Install logs that l2tap runs without one.

// Options are the parts of the allow list that depend on the
// configuration.
type Options struct {
	PID int // kill and tgkill may only signal this process
	// Packet allows what the packet path's lookups of routes and
	// neighbours need (-ip-path packet): getsockname on its netlink socket.
	Packet bool
	// Reload allows what taking a reload's descriptors from the helper
	// needs (the runtime asks a listener's address; a VM's datagram
	// socket makes its probe socket), and creating the capture files a
	// reload may add (as Rotate).
	Reload bool
	// Profile allows read-only opens: the CPU profile's writer reads
	// /proc/self/maps from a goroutine that may run after setup.
	Profile bool
	// Libc allows read-only opens too: in a cgo build, glibc reads
	// /sys/devices/system/cpu/online the first time a new thread
	// allocates (its malloc sizing its arenas), which may happen at any
	// time, exit included. Pure Go builds (CGO_ENABLED=0, as make build
	// and the package make them) need no such open.
	Libc bool
	// Serve allows accepting and answering connections: the control
	// socket and the metrics endpoint (see observe.go).
	Serve bool
	// Unlink allows removing a file (not a directory): the control
	// socket's, at exit.
	Unlink bool
	// HeapProfile allows ftruncate: the -memprofile file, opened during
	// setup, is rewritten in place on SIGUSR2 and at exit.
	HeapProfile bool
	// Rotate allows what a -pcap-size rotation does: renaming the
	// capture file and creating a new one (openat write-only, create,
	// exclusive, no link followed; fchmod on it). The old file is
	// overwritten by the rename: nothing is unlinked.
	Rotate bool
	// VMSocket allows what a VM's socket does after setup (see
	// internal/vmsocket): accepting a stream client (the runtime asks its
	// address), probing a datagram peer with connect, and removing the
	// socket file at exit.
	VMSocket bool
	// VhostUser allows what a vhost-user backend does after setup (see
	// internal/vhostuser), beyond the base calls (recvmsg with SCM_RIGHTS,
	// mmap of a passed memfd without PROT_EXEC, munmap, eventfd reads and
	// writes, fstat): accepting a frontend (VMSocket's), and a client's
	// connection to the frontend's socket, made again each time it goes
	// (socket for AF_UNIX only, connect; the runtime asks its addresses).
	// It comes with VMSocket, whose calls it adds to.
	VhostUser bool
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

// Install installs the data path's filter for o on every thread of the
// process. no_new_privs must be set (Drop does). On an architecture
// without a list it logs so and installs nothing.
func Install(o Options) error {
	prog, err := dataPathFilter(o)
	if err != nil {
		return err
	}
	return install(prog)
}

// InstallHelper installs the privileged helper's filter (see helperFilter)
// on every thread; no_new_privs must be set (Confine does).
func InstallHelper() error {
	prog, err := helperFilter(unix.Getpid())
	if err != nil {
		return err
	}
	return install(prog)
}

// install loads prog on every thread; a nil prog logs that there is no
// list for this architecture.
func install(prog []unix.SockFilter) error {
	if prog == nil {
		slog.Warn("-seccomp: no system call list for this architecture; running without a filter", "arch", runtime.GOARCH)
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
