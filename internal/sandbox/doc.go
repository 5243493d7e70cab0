// Package sandbox owns what l2tap gives up once set up, and what it keeps
// apart: the switch to an unprivileged account, the capabilities (every
// set emptied on every thread), no_new_privs, and the seccomp allow lists
// per architecture.
package sandbox

// Account is a user to switch to: its uid and its primary group.
type Account struct {
	Name     string // as given to -user
	UID, GID int
}
