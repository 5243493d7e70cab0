package offload

import (
	"encoding/binary"
	"fmt"
)

// virtio_net_hdr flags and GSO types (include/uapi/linux/virtio_net.h).
const (
	VnetFlagNeedsCsum = 1 // csum_start/csum_offset describe a checksum to complete
	VnetFlagDataValid = 2 // the checksums of the frame are known to be good

	VnetGSONone  = 0
	VnetGSOTCPv4 = 1
	VnetGSOUDP   = 3 // UFO: IP fragmentation, never offered
	VnetGSOTCPv6 = 4
	VnetGSOUDPL4 = 5 // USO: UDP segmentation
	VnetGSOECN   = 0x80

	// VnetHdrLen is the size of struct virtio_net_hdr, which l2tap sets with
	// TUNSETVNETHDRSZ.
	VnetHdrLen = 10
)

// TUNSETOFFLOAD flags (include/uapi/linux/if_tun.h).
const (
	TunCsum = 0x01
	TunTSO4 = 0x02
	TunTSO6 = 0x04
	TunUSO4 = 0x20
	TunUSO6 = 0x40
)

// VnetHdr is struct virtio_net_hdr, as a TAP with IFF_VNET_HDR puts it before
// every frame. Its 16-bit fields are little-endian on every host: by default
// the kernel uses the legacy virtio byte order, the host's own
// (tun_vnet_is_little_endian in drivers/net/tun_vnet.h), so setOffloads asks
// for little-endian with TUNSETVNETLE, as virtio 1.0 defines it. One fixed
// order is right on a big-endian host too, whatever an earlier user of a
// persistent TAP left set.
type VnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16 // bytes of headers up to and including L4; a hint
	gsoSize    uint16 // payload bytes per segment
	csumStart  uint16 // offset of the L4 header from the frame start
	csumOffset uint16 // offset of the checksum field from csumStart
}

// Decode reads a header from the first VnetHdrLen bytes of b.
func (h *VnetHdr) Decode(b []byte) error {
	if len(b) < VnetHdrLen {
		return fmt.Errorf("virtio-net header: %d bytes, want %d", len(b), VnetHdrLen)
	}
	h.flags = b[0]
	h.gsoType = b[1]
	h.hdrLen = binary.LittleEndian.Uint16(b[2:])
	h.gsoSize = binary.LittleEndian.Uint16(b[4:])
	h.csumStart = binary.LittleEndian.Uint16(b[6:])
	h.csumOffset = binary.LittleEndian.Uint16(b[8:])
	return nil
}

// Encode writes the header into the first VnetHdrLen bytes of b.
func (h *VnetHdr) Encode(b []byte) {
	_ = b[VnetHdrLen-1]
	b[0] = h.flags
	b[1] = h.gsoType
	binary.LittleEndian.PutUint16(b[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:], h.csumOffset)
}

// IsGSO reports whether the frame behind the header is a superframe to be
// cut into segments.
func (h *VnetHdr) IsGSO() bool { return h.gsoType != VnetGSONone }

// NeedsCsum reports whether the frame's L4 checksum is left partial, to be
// completed (see CompleteCsum).
func (h *VnetHdr) NeedsCsum() bool { return h.flags&VnetFlagNeedsCsum != 0 }
