// Package daemon runs a checked configuration (internal/config's Config):
// it owns everything between setup and exit of the l2tap process. That is
// the underlay sockets (one per local address and port, shared by the
// tunnels on it), the sessions' endpoints (TAPs, VM sockets, dynamic
// circuits' TAPs) with the MTU that fits each path, the engine that moves
// their frames, the tunnels' keepalives and dynamic control connections,
// the privileged helper's policy (what a reload may open once privileges
// are dropped, and the restore of attached TAPs), the drop itself and the
// seccomp filter's options, the status socket and metrics endpoint
// (snapshots), systemd's notifications with the status line, SIGHUP
// reloads, SIGUSR1 counters and the profiles, a session's failure, and
// the clean stop that prints the counters.
//
// It never opens a device or a socket itself: main hands Run an Opener,
// which opens them for the system l2tap runs on (Linux's /dev/net/tun and
// raw or UDP sockets, or the portable water TAP and UDP socket), and the
// endpoints it returns say what more they can do through small optional
// interfaces (a VM socket's QEMU line, an attached TAP's restore). So
// setup, reload, failure and stop run as well against in-memory fakes,
// without root. It never reads a flag or a file: the configuration comes
// checked, and a reload's comes from the function Config.Reload holds. It
// moves no frame itself: that is internal/engine's.
package daemon
