package config

import (
	"time"

	"github.com/l2tap/l2tap/internal/control"
)

// maxHello bounds -hello: an hour between HELLOs.
const maxHello = 3600

// maxHelloRetries bounds -hello-retries.
const maxHelloRetries = 255

// KeepaliveOptions are the flags of a static tunnel's keepalive (RFC 3931
// HELLOs over a control connection whose IDs are given), as given.
type KeepaliveOptions struct {
	RxTunnel, TxTunnel UintValue   // -rxtunnel, -txtunnel
	Hello              UintValue   // -hello SECONDS
	Required           SwitchValue // -hello-required
	Retries            UintValue   // -hello-retries N
}

// KeepaliveConfig is a tunnel's checked keepalive; Hello 0 means none.
type KeepaliveConfig struct {
	LocalID, PeerID uint32
	Hello           time.Duration
	// Retries is how many transmissions of a HELLO go unacknowledged
	// before the peer is down.
	Retries int
	// Required turns the carriers off while the peer is down; otherwise
	// the state is only logged and shown.
	Required bool
}

// config checks the keepalive flags of one tunnel.
func (o *KeepaliveOptions) config() (KeepaliveConfig, error) {
	c := KeepaliveConfig{Required: !o.Required.Given || o.Required.Val}
	if !o.Hello.Given || o.Hello.Val == 0 {
		for _, k := range []struct {
			name string
			set  bool
		}{{"rxtunnel", o.RxTunnel.Given}, {"txtunnel", o.TxTunnel.Given}, {"hello-required", o.Required.Given}, {"hello-retries", o.Retries.Given}} {
			if k.set {
				return c, missingf("hello", "-%s without -hello: add -hello SECONDS (the keepalive interval, e.g. -hello 10), or drop -%s", k.name, k.name)
			}
		}
		return KeepaliveConfig{}, nil
	}
	for _, k := range []struct {
		name, other string
		n           *UintValue
	}{{"rxtunnel", "txtunnel", &o.RxTunnel}, {"txtunnel", "rxtunnel", &o.TxTunnel}} {
		if !k.n.Given {
			return c, missingf(k.name, "-hello needs -%s: the control connection IDs of both ends (our -rxtunnel is the peer's -txtunnel), e.g. -rxtunnel 1 -txtunnel 2", k.name)
		}
		if k.n.Val == 0 {
			return c, badf(k.name, "-%s 0: control connection ID 0 means none; use 1 to 4294967295 (our -%s is the peer's -%s)", k.name, k.name, k.other)
		}
	}
	c.LocalID, c.PeerID = uint32(o.RxTunnel.Val), uint32(o.TxTunnel.Val)
	c.Hello = time.Duration(o.Hello.Val) * time.Second
	c.Retries = control.DefaultHelloRetries
	if o.Retries.Given {
		if o.Retries.Val == 0 {
			return c, badf("hello-retries", "-hello-retries 0: use 1 to %d, the unacknowledged HELLO transmissions that make the peer down (default %d)", maxHelloRetries, control.DefaultHelloRetries)
		}
		c.Retries = int(o.Retries.Val)
	}
	return c, nil
}
