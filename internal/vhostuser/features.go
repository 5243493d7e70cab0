package vhostuser

// Virtio feature bits (the virtio specification, 5.1.3 and 6).
const (
	FeatNetCsum        = 1 << 0  // VIRTIO_NET_F_CSUM: the device takes partial checksums
	FeatNetGuestCsum   = 1 << 1  // VIRTIO_NET_F_GUEST_CSUM: the driver takes partial checksums
	FeatNetMTU         = 1 << 3  // VIRTIO_NET_F_MTU: the device advises the driver's MTU
	FeatNetGuestTSO4   = 1 << 7  // VIRTIO_NET_F_GUEST_TSO4
	FeatNetGuestTSO6   = 1 << 8  // VIRTIO_NET_F_GUEST_TSO6
	FeatNetHostTSO4    = 1 << 11 // VIRTIO_NET_F_HOST_TSO4
	FeatNetHostTSO6    = 1 << 12 // VIRTIO_NET_F_HOST_TSO6
	FeatNetMrgRxbuf    = 1 << 15 // VIRTIO_NET_F_MRG_RXBUF: one frame over several receive buffers
	FeatRingIndirect   = 1 << 28 // VIRTIO_RING_F_INDIRECT_DESC
	FeatRingEventIdx   = 1 << 29 // VIRTIO_RING_F_EVENT_IDX
	FeatProtocolFeats  = 1 << 30 // VHOST_USER_F_PROTOCOL_FEATURES
	FeatVersion1       = 1 << 32 // VIRTIO_F_VERSION_1
	ProtoFeatMQ        = 1 << 0  // VHOST_USER_PROTOCOL_F_MQ (not offered)
	ProtoFeatReplyAck  = 1 << 3  // VHOST_USER_PROTOCOL_F_REPLY_ACK
	ProtoFeatNetMTU    = 1 << 4  // VHOST_USER_PROTOCOL_F_NET_MTU: NET_SET_MTU
	offeredProtocolSet = ProtoFeatReplyAck | ProtoFeatNetMTU
)

// Offered is the feature set the backend offers in GET_FEATURES. With
// MTU, QEMU shows the guest the MTU of its virtio-net-pci device's
// host_mtu property, and tells the backend with NET_SET_MTU.
const Offered uint64 = FeatVersion1 | FeatNetCsum | FeatNetGuestCsum | FeatNetMTU |
	FeatNetGuestTSO4 | FeatNetGuestTSO6 | FeatNetHostTSO4 | FeatNetHostTSO6 |
	FeatNetMrgRxbuf | FeatRingIndirect | FeatRingEventIdx | FeatProtocolFeats

// OfferedProtocol is the protocol feature set offered in
// GET_PROTOCOL_FEATURES: REPLY_ACK and NET_MTU.
const OfferedProtocol uint64 = offeredProtocolSet

var featureNames = []struct {
	bit  uint64
	name string
}{
	{FeatNetCsum, "CSUM"}, {FeatNetGuestCsum, "GUEST_CSUM"}, {FeatNetMTU, "MTU"},
	{FeatNetGuestTSO4, "GUEST_TSO4"}, {FeatNetGuestTSO6, "GUEST_TSO6"},
	{FeatNetHostTSO4, "HOST_TSO4"}, {FeatNetHostTSO6, "HOST_TSO6"},
	{FeatNetMrgRxbuf, "MRG_RXBUF"}, {FeatRingIndirect, "INDIRECT_DESC"},
	{FeatRingEventIdx, "EVENT_IDX"}, {FeatProtocolFeats, "PROTOCOL_FEATURES"},
	{FeatVersion1, "VERSION_1"},
}

// FeatureNames names the bits of a virtio feature set this backend knows,
// in bit order, for logs and status.
func FeatureNames(f uint64) []string {
	var names []string
	for _, n := range featureNames {
		if f&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	return names
}
