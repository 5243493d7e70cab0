//go:build !linux

package daemon

import "github.com/l2tap/l2tap/internal/config"

// lockDown has nothing to do: privileges, capabilities and seccomp are
// Linux's (and their options are refused by checkSystem).
func lockDown(*config.Config, []Device, helper) error { return nil }

// startPrivHelper starts no helper: nothing is dropped that a reload or an
// attached TAP's restore would need.
func startPrivHelper(*config.Config, Opener) (helper, error) { return nil, nil }

// HelperMode is never on here.
func HelperMode(*config.Config, Opener) (bool, error) { return false, nil }

// chooseUser has nothing to choose: -user is refused here (checkSystem).
func chooseUser(*config.Config) {}
