// Package vhostuser owns a vhost-user backend for one virtio-net device, as
// QEMU's docs/interop/vhost-user.rst defines the protocol: the messages on
// the unix socket (one parser, ParseMessage, with descriptors passed by
// SCM_RIGHTS), feature negotiation, the memory table (the frontend's
// memory mapped from the descriptors it passes, guest-physical and
// frontend-virtual addresses translated into slices of those mappings),
// the split virtqueues of the virtio specification (descriptor chains,
// direct and indirect, the available and used rings, EVENT_IDX, kicks and
// calls through eventfds, batched), and the mapping of the virtio-net
// header onto the offloads package: a guest's TCP superframe is cut into
// frames as a TAP's is, and frames handed in are coalesced into one guest
// superframe with its header when the guest took TSO and checksum offload.
//
// Backend serves one frontend at a time, on a listening socket (Listen; a
// second frontend connecting meanwhile is disconnected at once) or on
// connections handed to Serve, and is an engine endpoint: ReadLoop reads
// the guest's transmit queue in batches, Write fills its receive queue.
//
// It never trusts the frontend: every message, descriptor, address, length
// and index is checked before use, and a bad one ends that frontend's
// connection with an error (counted in Stats.FrontendErrors), never a panic
// or an access outside the mapped regions; the mappings are undone when the
// table changes and when the frontend goes. It never allocates per frame.
// Live migration (dirty logging) and multiple queue pairs are not offered.
package vhostuser
