//go:build linux

package sandbox

import (
	"fmt"
	"log/slog"
	"slices"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Linux keeps credentials per thread, and the Go runtime runs goroutines
// on many threads, some of which exist before setup ends and some of which
// are started later from them. Every change below is therefore made on
// every thread at once, through libcap's psx package: with cgo it signals
// each thread to make the call itself, without cgo it uses the runtime's
// syscall.AllThreadsSyscall (which refuses to run in cgo binaries, hence
// psx). Threads created afterwards inherit the new credentials.

// HelperCaps are the capabilities the privileged helper keeps, effective,
// for what it opens on request (see Confine): creating and configuring
// TAPs and restoring attached ones (CAP_NET_ADMIN), raw IP sockets
// (CAP_NET_RAW), UDP ports below 1024 (CAP_NET_BIND_SERVICE), and a VM's
// socket file made in a directory the data path's account owns and given
// to the session's -owner (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER).
var HelperCaps = []cap.Value{cap.NET_ADMIN, cap.NET_RAW, cap.NET_BIND_SERVICE, cap.DAC_OVERRIDE, cap.CHOWN, cap.FOWNER}

// Drop ends setup for the data path: it switches to account first when it
// is not nil (its uid and primary group, no supplementary groups), then
// empties every capability set of every thread (the bounding set too,
// when CAP_SETPCAP allows), and sets no_new_privs. It fails only when
// switching user fails or the capabilities cannot be cleared; a bounding
// set that cannot be emptied for lack of CAP_SETPCAP is logged once and
// left, since with nothing permitted and no_new_privs set it grants
// nothing.
func Drop(account *Account) error {
	have := cap.GetProc()
	if account != nil {
		if err := cap.SetGroups(account.GID); err != nil {
			return fmt.Errorf("-user %s: switch to group %d: %w (needs CAP_SETGID)", account.Name, account.GID, err)
		}
		if err := cap.SetUID(account.UID); err != nil {
			return fmt.Errorf("-user %s: switch to uid %d: %w (needs CAP_SETUID)", account.Name, account.UID, err)
		}
	}
	return limit(have, nil, false)
}

// Confine is Drop for the privileged helper: it keeps its user (root) and,
// of keep, what it has permitted, in the bounding, permitted and
// effective sets; everything else goes, and no_new_privs is set.
func Confine(keep []cap.Value) error {
	return limit(cap.GetProc(), keep, true)
}

// limit leaves the capabilities of keep that have permits in the
// bounding set and the permitted set (and, with effective, the effective
// set), drops every other from every set, and sets no_new_privs.
func limit(have *cap.Set, keep []cap.Value, effective bool) error {
	var kept []cap.Value
	for _, v := range keep {
		if on, _ := have.GetFlag(cap.Permitted, v); on {
			kept = append(kept, v)
		}
	}
	if err := trimBoundingSet(have, kept); err != nil {
		return err
	}
	if err := cap.ResetAmbient(); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	final := cap.NewSet()
	if len(kept) > 0 {
		if err := final.SetFlag(cap.Permitted, true, kept...); err != nil {
			return err
		}
		if effective {
			if err := final.SetFlag(cap.Effective, true, kept...); err != nil {
				return err
			}
		}
	}
	if err := final.SetProc(); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// trimBoundingSet drops every capability but those of keep from the
// bounding set of every thread, raising CAP_SETPCAP for it when permitted.
func trimBoundingSet(have *cap.Set, keep []cap.Value) error {
	left := false
	for v := cap.Value(0); v < cap.MaxBits(); v++ {
		if on, err := cap.GetBound(v); err == nil && on && !slices.Contains(keep, v) {
			left = true
			break
		}
	}
	if !left {
		return nil
	}
	if ok, _ := have.GetFlag(cap.Permitted, cap.SETPCAP); !ok {
		slog.Info("bounding set left as it is: trimming it needs CAP_SETPCAP; with no_new_privs set it grants nothing beyond what is permitted")
		return nil
	}
	raised, err := have.Dup()
	if err != nil {
		return err
	}
	if err := raised.SetFlag(cap.Effective, true, cap.SETPCAP); err != nil {
		return err
	}
	if err := raised.SetProc(); err != nil {
		return fmt.Errorf("raise CAP_SETPCAP: %w", err)
	}
	for v := cap.Value(0); v < cap.MaxBits(); v++ {
		if slices.Contains(keep, v) {
			continue
		}
		if err := cap.DropBound(v); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", v, err)
		}
	}
	return nil
}

// MaySwitchUser reports whether this process may switch to another
// account once set up: CAP_SETUID and CAP_SETGID both permitted.
func MaySwitchUser() bool {
	have := cap.GetProc()
	setuid, _ := have.GetFlag(cap.Permitted, cap.SETUID)
	setgid, _ := have.GetFlag(cap.Permitted, cap.SETGID)
	return setuid && setgid
}
