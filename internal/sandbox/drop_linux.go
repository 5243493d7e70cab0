//go:build linux

package sandbox

import (
	"fmt"
	"log/slog"
	"runtime"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// ReloadCaps are the capabilities a reload may need: see RaiseSetup.
var ReloadCaps = []cap.Value{cap.NET_ADMIN, cap.NET_RAW, cap.NET_BIND_SERVICE}

// Drop drops every capability on every thread of the process,
// keeping those of keep that l2tap has permitted (not effective); switches
// to account first when it is not nil; and sets
// no_new_privs. It fails only when switching user fails or the
// capabilities cannot be cleared; a bounding set that cannot be emptied
// for lack of CAP_SETPCAP is logged once and left, since with nothing
// permitted and no_new_privs set it can grant nothing.
func Drop(account *Account, keep []cap.Value) error {
	have := cap.GetProc()
	if account != nil {
		if err := cap.SetGroups(account.GID); err != nil {
			return fmt.Errorf("-user %s: switch to group %d: %w (needs CAP_SETGID)", account.Name, account.GID, err)
		}
		if err := cap.SetUID(account.UID); err != nil {
			return fmt.Errorf("-user %s: switch to uid %d: %w (needs CAP_SETUID)", account.Name, account.UID, err)
		}
	}
	var kept []cap.Value
	for _, v := range keep {
		if on, _ := have.GetFlag(cap.Permitted, v); on {
			kept = append(kept, v)
		}
	}

	if err := emptyBoundingSet(have); err != nil {
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
	}
	if err := final.SetProc(); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// emptyBoundingSet drops every capability from the bounding set of every
// thread, raising CAP_SETPCAP for it when permitted.
func emptyBoundingSet(have *cap.Set) error {
	left := false
	for v := cap.Value(0); v < cap.MaxBits(); v++ {
		if on, err := cap.GetBound(v); err == nil && on {
			left = true
			break
		}
	}
	if !left {
		return nil
	}
	if ok, _ := have.GetFlag(cap.Permitted, cap.SETPCAP); !ok {
		slog.Info("bounding set left as it is: emptying it needs CAP_SETPCAP; with no capability permitted and no_new_privs set it grants nothing")
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
		if err := cap.DropBound(v); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", v, err)
		}
	}
	return nil
}

// RaiseNetAdmin returns f wrapped so that it runs with CAP_NET_ADMIN
// effective on the one thread that runs it, and nowhere else: the calling
// goroutine is locked to its thread, the capability raised there from the
// permitted set (where Drop kept it), f run, and the capability
// lowered again before the thread is released. f must do its work on the
// calling goroutine, as the netlink calls of TAP.restore do. Where
// CAP_NET_ADMIN is not permitted f runs as it is (and fails as it would).
func RaiseNetAdmin(f func()) func() {
	return func() { raise(1<<unix.CAP_NET_ADMIN, f) }
}

// RaiseSetup runs f with the capabilities of a reload's setup (ReloadCaps)
// effective on the one thread that runs it, as RaiseNetAdmin does. f must
// not start goroutines: a thread created from this one would inherit the
// raised capabilities.
func RaiseSetup(f func()) {
	raise(1<<unix.CAP_NET_ADMIN|1<<unix.CAP_NET_RAW|1<<unix.CAP_NET_BIND_SERVICE, f)
}

// raise runs f with the capabilities in mask (bits of the first capability
// word) raised from the permitted set on the calling goroutine's thread,
// locked to it meanwhile, and lowered afterwards.
func raise(mask uint32, f func()) {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		runtime.UnlockOSThread()
		f()
		return
	}
	saved := data
	data[0].Effective |= data[0].Permitted & mask
	raised := data != saved && unix.Capset(&hdr, &data[0]) == nil
	f()
	if raised && unix.Capset(&hdr, &saved[0]) != nil {
		return // the thread stays locked, and so out of use, rather than privileged
	}
	runtime.UnlockOSThread()
}
