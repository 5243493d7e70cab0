//go:build linux

package sandbox

import (
	"golang.org/x/sys/unix"
)

// x32Bit marks x32 calls on amd64 (numbers with bit 30 set): refused.
const x32Bit = 0x40000000

// baseRules are the calls any l2tap process makes once set up on
// linux/amd64: the data path's, the Go runtime's and, in cgo builds,
// glibc's thread creation, the most frequent first; pid is the process
// signals may go to.
func baseRules(pid int) []scRule {
	const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	rules := allow(
		// Data path and output.
		unix.SYS_RECVMMSG, unix.SYS_SENDMMSG, unix.SYS_READ, unix.SYS_WRITE, unix.SYS_WRITEV,
		unix.SYS_READV, unix.SYS_RECVMSG, unix.SYS_SENDMSG, unix.SYS_RECVFROM, unix.SYS_SENDTO,
		unix.SYS_PREAD64, unix.SYS_GETSOCKOPT, unix.SYS_SETSOCKOPT,
		// Go runtime: scheduler, netpoller, timers, memory, signals.
		unix.SYS_FUTEX, unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_WAIT, unix.SYS_EPOLL_PWAIT2,
		unix.SYS_EPOLL_CTL, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_CLOCK_GETTIME,
		unix.SYS_GETTIMEOFDAY, unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY, unix.SYS_GETPID,
		unix.SYS_GETTID, unix.SYS_MUNMAP, unix.SYS_MADVISE, unix.SYS_MREMAP, unix.SYS_BRK,
		unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
		unix.SYS_RESTART_SYSCALL, unix.SYS_GETRANDOM, unix.SYS_FCNTL, unix.SYS_FSTAT, unix.SYS_LSEEK,
		unix.SYS_CLOSE, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
		// Threads: Go's own clone path sets the TLS with arch_prctl;
		// glibc's registers rseq and the robust futex list.
		unix.SYS_ARCH_PRCTL, unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ, unix.SYS_CAPGET,
		// CPU profiling: per-thread timers, or setitimer.
		unix.SYS_TIMER_CREATE, unix.SYS_TIMER_SETTIME, unix.SYS_TIMER_DELETE, unix.SYS_SETITIMER,
	)
	return append(rules,
		// New threads only: the flags must say CLONE_THREAD and no
		// namespace. clone3 takes its flags in memory the filter cannot
		// read, so it fails with ENOSYS, on which glibc falls back to clone.
		scRule{nr: unix.SYS_CLONE, conds: []scCond{argHas(0, unix.CLONE_THREAD, nsFlags)}},
		scRule{nr: unix.SYS_CLONE3, errno: unix.ENOSYS},
		// Memory is never made executable (as MemoryDenyWriteExecute).
		scRule{nr: unix.SYS_MMAP, conds: []scCond{argClear(2, unix.PROT_EXEC)}},
		scRule{nr: unix.SYS_MPROTECT, conds: []scCond{argClear(2, unix.PROT_EXEC)}},
		// Signals to this process only: preemption, crashes, raise.
		scRule{nr: unix.SYS_TGKILL, conds: []scCond{argIs(0, uint32(pid))}},
		scRule{nr: unix.SYS_KILL, conds: []scCond{argIs(0, uint32(pid))}},
		// The Go runtime names its anonymous mappings.
		scRule{nr: unix.SYS_PRCTL, conds: []scCond{argIs(0, unix.PR_SET_VMA)}},
	)
}

// dataPathFilter returns the data path's filter for linux/amd64: the base
// calls and what o asks for. It never allows capset, fchownat or
// fchmodat, creating a TAP, or a socket other than a unix one; opens with
// O_CREAT and renames only for captures (their next file, or one a
// reload adds), and read-only opens only for the CPU profile.
func dataPathFilter(o Options) ([]unix.SockFilter, error) {
	rules := baseRules(o.PID)
	// Handing an attached TAP its offloads and header byte order back;
	// a TAP's carrier following the control channel's peer.
	rules = append(rules, scRule{nr: unix.SYS_IOCTL, conds: []scCond{argIn(1, unix.TUNSETOFFLOAD, unix.TUNSETVNETLE, unix.TUNSETCARRIER)}})
	if o.Reload {
		// Descriptors from the helper: the runtime asks a listener's
		// address and type; a VM's datagram socket takes a probe socket.
		rules = append(rules, scRule{nr: unix.SYS_SOCKET, conds: []scCond{argIs(0, unix.AF_UNIX)}})
		rules = append(rules, allow(unix.SYS_GETSOCKNAME, unix.SYS_GETPEERNAME)...)
	}
	if o.Packet {
		rules = append(rules, allow(unix.SYS_GETSOCKNAME)...)
	}
	// Opens after setup: read-only for the profile; for a capture's next
	// file, write-only, a new file (O_EXCL), no link followed; for a
	// capture a reload adds, its directory (a path, no link followed) and
	// its file (created or taken over, never truncated by the open, no
	// link followed: see internal/pcap). One rule for the call, whose
	// condition lists what each needs.
	capture := o.Rotate || o.Reload
	if o.Profile || o.Libc || capture {
		const mask = unix.O_ACCMODE | unix.O_CREAT | unix.O_TRUNC | unix.O_APPEND | unix.O_EXCL | unix.O_NOFOLLOW
		var ok []uint32
		if o.Profile || o.Libc {
			ok = append(ok, 0)
			rules = append(rules, scRule{nr: unix.SYS_NEWFSTATAT})
		}
		if capture {
			ok = append(ok, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
			// The new file's mode set through its descriptor when the
			// umask took bits off 0600.
			rules = append(rules, allow(unix.SYS_FCHMOD)...)
		}
		if o.Reload {
			ok = append(ok, unix.O_NOFOLLOW, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW)
			// A file taken over is emptied, and given its owner, through
			// its descriptor.
			rules = append(rules, allow(unix.SYS_FTRUNCATE, unix.SYS_FCHOWN)...)
		}
		rules = append(rules, scRule{nr: unix.SYS_OPENAT, conds: []scCond{{arg: 2, mask: mask, want: ok[0], or: ok[1:]}}})
	}
	if capture {
		rules = append(rules, allow(unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2)...)
	}
	if o.HeapProfile {
		rules = append(rules, allow(unix.SYS_FTRUNCATE)...)
	}
	if o.Serve {
		// accept4 on listeners made during setup; the runtime asks an
		// accepted socket its address; HTTP half-closes connections.
		rules = append(rules, allow(unix.SYS_ACCEPT4, unix.SYS_GETSOCKNAME, unix.SYS_SHUTDOWN)...)
	}
	if o.VMSocket {
		rules = append(rules, allow(unix.SYS_ACCEPT4, unix.SYS_GETSOCKNAME, unix.SYS_CONNECT)...)
	}
	if o.VhostUser && !o.Reload {
		// A client's connection to the frontend, made again each time it
		// goes (connect and getsockname come with VMSocket, which every
		// vhost-user session sets).
		rules = append(rules, scRule{nr: unix.SYS_SOCKET, conds: []scCond{argIs(0, unix.AF_UNIX)}})
		rules = append(rules, allow(unix.SYS_GETPEERNAME)...)
	}
	if o.VMSocket || o.Unlink {
		// A socket file (not a directory) removed at exit.
		rules = append(rules, scRule{nr: unix.SYS_UNLINKAT, conds: []scCond{argIs(2, 0)}})
	}
	return compile(unix.AUDIT_ARCH_X86_64, x32Bit, rules)
}

// helperFilter returns the privileged helper's filter for linux/amd64:
// the base calls, and what opening a session's TAP, underlay socket or
// VM socket takes (see HelperCaps). Opens never create or truncate; no
// exec, no capset: the helper cannot widen what it holds. The one
// rename is a VM socket's, out of the private directory it was made in
// (see internal/sockfile), which is also the one directory it makes and
// removes.
func helperFilter(pid int) ([]unix.SockFilter, error) {
	rules := append(baseRules(pid),
		scRule{nr: unix.SYS_IOCTL, conds: []scCond{argIn(1, unix.TUNSETOFFLOAD, unix.TUNSETVNETLE, unix.TUNSETCARRIER,
			unix.TUNSETIFF, unix.TUNSETOWNER, unix.TUNSETGROUP, unix.TUNSETVNETHDRSZ)}},
		scRule{nr: unix.SYS_SOCKET, conds: []scCond{argIn(0, unix.AF_NETLINK, unix.AF_INET, unix.AF_INET6, unix.AF_UNIX, unix.AF_PACKET)}},
		scRule{nr: unix.SYS_OPENAT, conds: []scCond{argClear(2, unix.O_CREAT|unix.O_TRUNC)}},
		scRule{nr: unix.SYS_UNLINKAT, conds: []scCond{argIn(2, 0, unix.AT_REMOVEDIR)}},
	)
	rules = append(rules, allow(unix.SYS_BIND, unix.SYS_LISTEN, unix.SYS_CONNECT, unix.SYS_GETSOCKNAME, unix.SYS_GETPEERNAME,
		unix.SYS_UMASK, unix.SYS_FCHMODAT, unix.SYS_FCHOWNAT, unix.SYS_NEWFSTATAT, unix.SYS_UNAME, unix.SYS_GETDENTS64,
		unix.SYS_MKDIRAT, unix.SYS_RENAMEAT, unix.SYS_GETEUID)...)
	return compile(unix.AUDIT_ARCH_X86_64, x32Bit, rules)
}
