//go:build linux && cgo

package daemon

// cgoBuild is true in a build that links the C library (CGO_ENABLED=1, go
// build's default where a C compiler is found): the seccomp filter then
// allows what glibc does behind the data path's back (see
// sandbox.Options.Libc). make build and the package build without cgo.
const cgoBuild = true
