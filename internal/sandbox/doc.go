// Package sandbox owns what l2tap gives up once set up, and the one
// process that keeps a little of it. It owns:
//
//   - the data path's drop (Drop): the switch to an unprivileged account
//     (its uid and primary group, no supplementary groups), every
//     capability set emptied, the bounding set too, and no_new_privs, on
//     every thread of the process at once (libcap's psx);
//   - the seccomp allow lists per architecture, compiled to classic BPF
//     and installed on every thread (Install for the data path, with
//     Options saying which optional calls its configuration makes;
//     InstallHelper for the helper); an architecture without a list
//     (seccomp_other.go) runs without a filter and says so;
//   - the privileged helper's process and wire: StartHelper re-executes
//     /proc/self/exe with HelperEnv and one end of a SOCK_SEQPACKET
//     socketpair and waits for it to say Ready; Confine leaves the helper
//     HelperCaps and nothing else; Client.Call and Serve carry one
//     Request and one Reply per datagram, descriptors as SCM_RIGHTS,
//     parsed by ParseRequest and ParseReply (the only parsers, fuzzed);
//     RunHelper the helper's life from confinement to exit, NewReply and
//     CloseFiles the replies' shape and the descriptors not kept;
//   - the helper's record of attached TAPs (AttachedTAPs): the MTU and up
//     state each had before l2tap changed it, given back to that same
//     interface alone, at the data path's request or when the helper ends;
//   - whether the process may switch accounts at all (MaySwitchUser).
//
// It never decides what is opened: it opens no TAP, socket or file, reads
// no configuration, and has no policy of its own beyond the wire's shape.
// The helper's Handler (internal/daemon's privsep.go) checks each request
// against the configuration the helper read itself and does the opening;
// the sandbox only guarantees that what reaches the Handler is a
// well-formed request of known shape, that a request carrying descriptors
// or bytes beyond its bounds never does, and that what the Handler sends
// back is closed on the helper's side once sent.
package sandbox

// Account is a user to switch to: its uid and its primary group.
type Account struct {
	Name     string // as given to -user, or the default account's name
	UID, GID int
}
