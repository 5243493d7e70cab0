//go:build linux && !cgo

package daemon

// cgoBuild is false in a pure Go build (CGO_ENABLED=0), as make build and
// the package make l2tap: no C library runs beside the data path.
const cgoBuild = false
