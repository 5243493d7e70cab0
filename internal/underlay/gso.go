//go:build linux

package underlay

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// udpMaxSegments is the most datagrams one UDP_SEGMENT send may carry
	// (UDP_MAX_SEGMENTS in older kernels; newer ones allow more).
	udpMaxSegments = 64
	// udpMaxGSOPayload bounds the UDP payload of one UDP_SEGMENT send: the
	// whole run must fit one IPv4 datagram before it is cut.
	udpMaxGSOPayload = 65535 - 20 - 8
	// cmsgSegmentSpace is the control space of one UDP_SEGMENT or UDP_GRO
	// message, whose data is at most an int.
	cmsgSegmentSpace = unix.SizeofCmsghdr + 8
)

// putSegmentCmsg writes a UDP_SEGMENT control message for segments of size
// bytes into b, which has cmsgSegmentSpace bytes, and returns its length.
func putSegmentCmsg(b []byte, size uint16) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.SizeofCmsghdr:], size)
	return unix.CmsgSpace(2)
}

// GROSegmentSize returns the datagram size a UDP_GRO control message in b
// reports, or 0 if b holds none. It never panics, whatever b holds.
func GROSegmentSize(b []byte) int {
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(b) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.SizeofCmsghdr+4 {
			return int(binary.NativeEndian.Uint32(b[unix.SizeofCmsghdr:]))
		}
		b = b[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(b)):]
	}
	return 0
}
