// Package offload owns the packet work that stands in for hardware
// offloads on the Ethernet frames a TAP carries: the Internet checksum,
// the virtio-net header that accompanies offloaded frames, splitting a TCP
// or UDP superframe into MTU-sized frames (software GSO), merging frames of
// one flow into a superframe (software GRO), the flow hash that keeps
// both directions of a flow on one TAP queue, and the clamping of TCP's MSS
// to what fits the path. The last four find their headers with one parser,
// Parse, and add their own conditions to it. It
// does no I/O and allocates nothing per frame.
package offload

const (
	// MaxFrame is the largest frame handled: nothing larger exists on a TAP
	// or in one IP datagram.
	MaxFrame = 65535
	// MaxSegments is the most datagrams one UDP superframe may carry, the
	// kernel's UDP_MAX_SEGMENTS.
	MaxSegments = 64
)
