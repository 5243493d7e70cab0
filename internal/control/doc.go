// Package control is the L2TPv3 control plane of a tunnel, in three layers:
//
//   - Transport: the reliable delivery of RFC 3931 §4.2 (sequence numbers
//     Ns and Nr, a sliding window of the peer's Receive Window Size,
//     retransmission with exponential backoff and a retry limit, in-order
//     delivery, duplicate detection, acknowledgements by ZLB or explicit
//     ACK message).
//   - Keepalive: on a Transport, the keepalive of a static tunnel
//     (-rxtunnel/-txtunnel/-hello): a HELLO when the channel has been quiet
//     for an interval, a peer that acknowledges nothing within the retry
//     limit declared down, the first acknowledgement bringing it up again.
//   - Conn and Dynamic: the dynamic control connection with one configured
//     peer (PeerConfig) and the sessions of its circuits (-circuit). Conn is
//     the state machines of RFC 3931 §7.2 and §7.3 as pure logic (SCCRQ,
//     SCCRP, SCCCN and StopCCN; ICRQ, ICRP, ICCN and CDN; SLI), with message
//     authentication by digest and nonces (§4.3, §5.4.1); Dynamic runs it
//     over a Transport: the SCCRQ rate limit, a restarted peer's second
//     handshake, the previous connection lingering to deliver its StopCCN.
//     What it decides (connection and sessions up and down, a session's
//     data-plane parameters, DataConfig) is told to Events.
//
// The wire format is internal/l2tpv3's. Nothing here touches a socket or
// the data plane: messages leave through a send function and arrive
// through Input, decisions leave through Events and callbacks, and time
// comes from a Clock, so that tests run the protocol over lossy in-memory
// links without sleeping.
package control
