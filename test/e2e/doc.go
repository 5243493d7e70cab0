// Package e2e holds l2tap's end-to-end tests: the binary, built once from
// the module's root (pure Go, as make build), run as root in network
// namespaces the tests create, against the kernel's TAP driver, QEMU's
// l2tpv3 netdev, tshark, Debian's ifupdown, systemd and the Debian
// package. The tests use only the binary and the module's exported or
// internal packages; they never reach into package main.
//
// The package has no code outside its tests. They run from the module's
// root (TestMain changes there). Under -short, or without root or a tool,
// they skip; under CI=true a missing prerequisite fails them. make test
// runs them; make soak runs TestSoak.
//
// Every namespace a test makes is named after the test, the process ID
// and a sequence number, so interfaces, addresses and ports inside it are
// the test's own. Tests that only wait on timers call t.Parallel, with a
// comment saying why their time bounds hold on a busy host; those that
// measure CPU, flood, bound a time closely or change the host run alone.
package e2e
