// Package l2tpv3 owns the L2TPv3 data plane's wire format for Ethernet
// pseudowires (RFC 3931 §4, RFC 4719): the data header with its session ID,
// cookie, default L2-Specific Sublayer and offset padding; the reasons a
// received packet is dropped, with the counter each raises; and the
// tracking of a peer's sequence numbers. It does no I/O and allocates
// nothing per packet.
package l2tpv3
