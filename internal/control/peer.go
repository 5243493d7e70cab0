package control

import (
	"errors"
	"fmt"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// PeerConfig describes the one peer a Conn sets up dynamic sessions with
// (RFC 3931 §3.3, §3.4): who we are, who it must be, the secret we share
// and the circuits (pseudowires) to bring up with it.
type PeerConfig struct {
	// HostName and RouterID identify us in SCCRQ and SCCRP.
	HostName string
	RouterID uint32
	// PeerName is the Host Name the peer must announce; an SCCRQ or
	// SCCRP with another creates no state ("" accepts any name).
	PeerName string
	// Secret enables control message authentication (RFC 3931 §4.3):
	// every message carries a Message Digest of type Digest, and messages
	// whose digest does not check are dropped. Empty: no authentication,
	// and a peer that asks for it is refused.
	Secret []byte
	Digest l2tpv3.DigestType
	// Initiator sends the SCCRQ; otherwise we wait for the peer's. Both
	// ends may be initiators: a tie is broken as RFC 3931 §5.4.3 says.
	Initiator bool
	// Window is the Receive Window Size we announce (0: 4).
	Window uint16
	// Circuits are the sessions of this peer, by remote end ID.
	Circuits []Circuit
}

// Circuit is one pseudowire with the peer, named by its Remote End ID
// (e.g. "vm1"), which both ends configure.
type Circuit struct {
	EndID string
	// PWType is the pseudowire type (l2tpv3.PWEthernet, the default, or
	// l2tpv3.PWEthernetVLAN); a peer asking for another is refused with
	// CDN result 14.
	PWType uint16
	// Sublayer is the L2-Specific Sublayer we require on received data
	// (l2tpv3.L2SublayerNone or l2tpv3.L2SublayerDefault).
	Sublayer uint16
	// CookieLen is the length of the random cookie we assign: 0, 4 or 8
	// (-1 for none; 0 means the default, 8).
	CookieLen int
	// Initiate sends the ICRQ once the control connection is up;
	// otherwise we wait for the peer's. Both may: ties are broken.
	Initiate bool
}

// Check validates c and fills in defaults.
func (c *PeerConfig) Check() error {
	if c.HostName == "" {
		return errors.New("host name is empty")
	}
	if c.Digest.Size() == 0 {
		return fmt.Errorf("digest type %d is not HMAC-MD5 (0) or HMAC-SHA-1 (1)", c.Digest)
	}
	if c.Window == 0 {
		c.Window = 4
	}
	seen := map[string]bool{}
	for i := range c.Circuits {
		ci := &c.Circuits[i]
		if ci.EndID == "" || len(ci.EndID) > l2tpv3.MaxAVPValue {
			return fmt.Errorf("circuit %d: remote end ID %q must hold 1 to %d bytes", i, ci.EndID, l2tpv3.MaxAVPValue)
		}
		if seen[ci.EndID] {
			return fmt.Errorf("circuit %q configured twice", ci.EndID)
		}
		seen[ci.EndID] = true
		if ci.PWType == 0 {
			ci.PWType = l2tpv3.PWEthernet
		}
		if ci.PWType != l2tpv3.PWEthernet && ci.PWType != l2tpv3.PWEthernetVLAN {
			return fmt.Errorf("circuit %q: pseudowire type %d is not Ethernet (5) or Ethernet VLAN (4)", ci.EndID, ci.PWType)
		}
		switch ci.CookieLen {
		case 0:
			ci.CookieLen = 8
		case -1:
			ci.CookieLen = 0
		case 4, 8:
		default:
			return fmt.Errorf("circuit %q: cookie length %d is not 0, 4 or 8", ci.EndID, ci.CookieLen)
		}
		if ci.Sublayer > l2tpv3.L2SublayerDefault {
			return fmt.Errorf("circuit %q: sublayer %d is not none (0) or default (1)", ci.EndID, ci.Sublayer)
		}
	}
	return nil
}

// DataConfig is what a session negotiated: everything the data plane
// needs to carry the circuit's frames.
type DataConfig struct {
	EndID string
	// RxSession is the session ID we assigned (the peer sends with it);
	// TxSession the peer's (we send with it).
	RxSession, TxSession uint32
	// RxCookie is the cookie we assigned, TxCookie the peer's; each
	// length is 0, 4 or 8.
	RxCookie, TxCookie       uint64
	RxCookieLen, TxCookieLen int
	// RxSublayer is the sublayer we required; TxSublayer the one the
	// peer required of us.
	RxSublayer, TxSublayer uint16
	PWType                 uint16
}

// Events is told what the control plane decides. Calls come from the
// goroutine that drives the Conn.
type Events interface {
	// ConnUp: the control connection with the peer is established.
	ConnUp(peerName string)
	// ConnDown: the control connection ended (every session went down
	// first, with SessionDown).
	ConnDown(reason string)
	// SessionUp: a session is established; the data plane may carry it.
	SessionUp(d DataConfig)
	// SessionDown: the session of the circuit ended.
	SessionDown(endID string, reason string)
	// CircuitStatus: the peer says the circuit is active or not (SLI).
	CircuitStatus(endID string, active bool)
}

// Wire is the reliable transport of one control connection, as the state
// machines need it. Messages come back through Conn.Accept then
// Conn.Handle.
type Wire interface {
	// Open starts a fresh transport for a control connection whose ID on
	// our side is local, the peer's not yet known (0).
	Open(local uint32)
	// SetPeer records the peer's control connection ID once known; the
	// peer's nonce is known by then too.
	SetPeer(peer uint32)
	// Send queues a message for reliable, in-order delivery; the
	// transport encodes it with Conn.AppendMessage.
	Send(typ l2tpv3.MessageType, avps []l2tpv3.AVP) error
	// Close ends the transport once what was queued is delivered or
	// given up.
	Close()
}
