//go:build linux && amd64

package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// atFDCWD is AT_FDCWD as the 64-bit argument register holds it.
const atFDCWD = uint64(1<<64 - 100)

// run interprets prog, as the kernel would, for system call nr with args
// on amd64, and returns the action (SECCOMP_RET_*, errno bits dropped).
// It knows the instructions compile emits, and fails the test on others.
func run(t *testing.T, prog []unix.SockFilter, nr uintptr, args ...uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.NativeEndian.PutUint32(data[scNr:], uint32(nr))
	binary.NativeEndian.PutUint32(data[scArch:], unix.AUDIT_ARCH_X86_64)
	for i, a := range args {
		binary.NativeEndian.PutUint64(data[scArgs+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			if acc >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K & unix.SECCOMP_RET_ACTION_FULL
		default:
			t.Fatalf("instruction %d: code %#x not interpreted", pc, in.Code)
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

// TestDataPathFilter: in no configuration does the data path's filter
// allow capset, fchownat, fchmodat, creating a TAP or a non-unix socket;
// opens that create, and renames, only where captures need them.
func TestDataPathFilter(t *testing.T) {
	// A rotation's next file: new, no link followed (see internal/pcap);
	// a capture file a reload adds: created or taken over, no link
	// followed, never truncated by the open.
	const create = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW
	const takeOver = unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW
	all := Options{PID: 42, Packet: true, Reload: true, Profile: true, Serve: true, Unlink: true, Rotate: true, VMSocket: true, VhostUser: true}
	for _, c := range []struct {
		name    string
		o       Options
		capture bool // opens that create and renames allowed
	}{
		{"static", Options{PID: 42, Serve: true, Unlink: true}, false},
		{"socket", Options{PID: 42, Serve: true, Unlink: true, VMSocket: true}, false},
		{"vhost-user-client", Options{PID: 42, Serve: true, Unlink: true, VMSocket: true, VhostUser: true}, false},
		{"profile", Options{PID: 42, Profile: true}, false},
		{"rotate", Options{PID: 42, Rotate: true}, true},
		{"config", Options{PID: 42, Reload: true, VMSocket: true, Serve: true, Unlink: true}, true},
		{"everything", all, true},
	} {
		prog, err := dataPathFilter(c.o)
		if err != nil {
			t.Fatal(err)
		}
		trap := func(what string, nr uintptr, args ...uint64) {
			t.Helper()
			if got := run(t, prog, nr, args...); got != unix.SECCOMP_RET_TRAP {
				t.Errorf("%s: %s: action %#x, want refused", c.name, what, got)
			}
		}
		allowed := func(what string, nr uintptr, args ...uint64) {
			t.Helper()
			if got := run(t, prog, nr, args...); got != unix.SECCOMP_RET_ALLOW {
				t.Errorf("%s: %s: action %#x, want allowed", c.name, what, got)
			}
		}
		trap("capset", unix.SYS_CAPSET)
		trap("fchownat", unix.SYS_FCHOWNAT)
		trap("fchmodat", unix.SYS_FCHMODAT)
		trap("execve", unix.SYS_EXECVE)
		trap("setuid", unix.SYS_SETUID)
		trap("TUNSETIFF", unix.SYS_IOCTL, 3, unix.TUNSETIFF)
		trap("TUNSETOWNER", unix.SYS_IOCTL, 3, unix.TUNSETOWNER)
		trap("socket AF_INET", unix.SYS_SOCKET, unix.AF_INET)
		trap("socket AF_NETLINK", unix.SYS_SOCKET, unix.AF_NETLINK)
		trap("socket AF_PACKET", unix.SYS_SOCKET, unix.AF_PACKET)
		trap("openat O_RDWR", unix.SYS_OPENAT, atFDCWD, 0, unix.O_RDWR)
		trap("openat O_CREAT|O_RDWR", unix.SYS_OPENAT, atFDCWD, 0, unix.O_CREAT|unix.O_RDWR)
		trap("openat O_WRONLY|O_CREAT|O_APPEND", unix.SYS_OPENAT, atFDCWD, 0, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND)
		trap("openat O_WRONLY|O_CREAT|O_TRUNC", unix.SYS_OPENAT, atFDCWD, 0, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
		trap("openat O_WRONLY|O_CREAT (a link followed)", unix.SYS_OPENAT, atFDCWD, 0, unix.O_WRONLY|unix.O_CREAT)
		trap("unlinkat AT_REMOVEDIR", unix.SYS_UNLINKAT, atFDCWD, 0, unix.AT_REMOVEDIR)
		trap("kill another process", unix.SYS_KILL, 1, 9)
		trap("clone a process", unix.SYS_CLONE, 0)
		allowed("sendmmsg", unix.SYS_SENDMMSG)
		allowed("TUNSETCARRIER", unix.SYS_IOCTL, 3, unix.TUNSETCARRIER)
		allowed("kill itself", unix.SYS_KILL, 42, 23)
		if c.capture {
			allowed("openat create", unix.SYS_OPENAT, atFDCWD, 0, create)
			allowed("renameat", unix.SYS_RENAMEAT)
		} else {
			trap("openat create", unix.SYS_OPENAT, atFDCWD, 0, create)
			trap("renameat", unix.SYS_RENAMEAT)
		}
		if c.o.VMSocket {
			allowed("accept4", unix.SYS_ACCEPT4)
			allowed("connect", unix.SYS_CONNECT)
		}
		if c.o.VhostUser || c.o.Reload {
			// A vhost-user client's connection: a unix socket only.
			allowed("getpeername", unix.SYS_GETPEERNAME)
		} else {
			trap("getpeername", unix.SYS_GETPEERNAME)
		}
		// A vhost-user frontend's memory: shared, never executable.
		allowed("mmap shared", unix.SYS_MMAP, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED, 5)
		trap("mmap executable", unix.SYS_MMAP, 0, 1<<20, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_SHARED, 5)
		if c.o.Reload || c.o.VhostUser {
			allowed("socket AF_UNIX", unix.SYS_SOCKET, unix.AF_UNIX)
		} else {
			trap("socket AF_UNIX", unix.SYS_SOCKET, unix.AF_UNIX)
		}
		if c.o.Reload {
			allowed("openat take over", unix.SYS_OPENAT, atFDCWD, 0, takeOver)
		} else {
			trap("openat take over", unix.SYS_OPENAT, atFDCWD, 0, takeOver)
		}
	}
}

// TestHelperFilter: the helper may open a TAP and sockets, and make a
// socket file in a private directory, give it its owner and rename it
// into place, but never exec, change its capabilities or credentials, or
// open a file that it creates or truncates.
func TestHelperFilter(t *testing.T) {
	prog, err := helperFilter(42)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		nr    uintptr
		args  []uint64
		allow bool
	}{
		{"TUNSETIFF", unix.SYS_IOCTL, []uint64{3, unix.TUNSETIFF}, true},
		{"socket AF_INET", unix.SYS_SOCKET, []uint64{unix.AF_INET}, true},
		{"openat /dev/net/tun", unix.SYS_OPENAT, []uint64{atFDCWD, 0, unix.O_RDWR | unix.O_CLOEXEC | unix.O_NONBLOCK}, true},
		{"fchownat", unix.SYS_FCHOWNAT, nil, true},
		{"openat O_CREAT", unix.SYS_OPENAT, []uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_CREAT}, false},
		{"openat O_TRUNC", unix.SYS_OPENAT, []uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_TRUNC}, false},
		{"execve", unix.SYS_EXECVE, nil, false},
		{"execveat", unix.SYS_EXECVEAT, nil, false},
		{"capset", unix.SYS_CAPSET, nil, false},
		{"setuid", unix.SYS_SETUID, nil, false},
		{"renameat", unix.SYS_RENAMEAT, nil, true},
		{"mkdirat", unix.SYS_MKDIRAT, nil, true},
		{"unlinkat AT_REMOVEDIR", unix.SYS_UNLINKAT, []uint64{atFDCWD, 0, unix.AT_REMOVEDIR}, true},
		{"renameat2", unix.SYS_RENAMEAT2, nil, false},
		{"linkat", unix.SYS_LINKAT, nil, false},
		{"symlinkat", unix.SYS_SYMLINKAT, nil, false},
		{"ptrace", unix.SYS_PTRACE, nil, false},
		{"mount", unix.SYS_MOUNT, nil, false},
		{"socket AF_BLUETOOTH", unix.SYS_SOCKET, []uint64{unix.AF_BLUETOOTH}, false},
		{"x32 call", x32Bit | unix.SYS_READ, nil, false},
	} {
		want := uint32(unix.SECCOMP_RET_TRAP)
		if c.allow {
			want = unix.SECCOMP_RET_ALLOW
		}
		if got := run(t, prog, c.nr, c.args...); got != want {
			t.Errorf("%s: action %#x, want %#x", c.what, got, want)
		}
	}
}
