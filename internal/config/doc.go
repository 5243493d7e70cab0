// Package config turns l2tap's command line, or a TOML configuration file
// whose keys are the flag names, into a checked Config: the process-wide
// settings, and the tunnels (each one underlay socket's two ends, its
// keepalive or dynamic control connection) with their sessions (the L2TPv3
// header, the TAP or VM socket, capture, MSS clamping). It owns the flags
// and their value types, each option's level (process, tunnel, session),
// the file's tables and keys, and every check of an option and of the
// options against each other; a file and a command line go through the
// same checks, so they cannot disagree on what a setting means. Every
// refusal is a UsageError in one line naming the flag, or FILE:LINE: KEY,
// the value and the fix.
//
// Checking reads what a check needs to read: the user and group
// databases (-user, -owner, -group), the machine ID (-mac), a secret file,
// and the resolver (host names of -src and -dst). It never opens a socket,
// touches a device or changes anything on the host: the daemon acts on the
// Config it returns.
package config
