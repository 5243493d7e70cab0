// Package control is the L2TPv3 control channel of a tunnel: the reliable
// transport of RFC 3931 §4.2 (Transport: sequence numbers Ns and Nr, a
// sliding window of the peer's Receive Window Size, retransmission with
// exponential backoff and a retry limit, in-order delivery, duplicate
// detection, acknowledgements by ZLB or explicit ACK message) and, on top
// of it, the keepalive of a static tunnel (Keepalive: a HELLO when the
// channel has been quiet for an interval, a peer that acknowledges
// nothing within the retry limit declared down, the first acknowledgement
// bringing it up again).
//
// The wire format is internal/l2tpv3's. Nothing here touches a socket:
// messages leave through a send function and arrive through Input, and
// time comes from a Clock, so that tests run the protocol over lossy
// in-memory links without sleeping.
package control
