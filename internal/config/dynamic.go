package config

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// DynamicOptions are the flags of a dynamic tunnel (RFC 3931 control
// connection with the peer) and of its sessions, as given.
type DynamicOptions struct {
	Circuit    StringValue // -circuit: per session, the Remote End ID both ends name
	HostName   StringValue // -hostname: ours (default: the machine's)
	PeerName   StringValue // -peer-hostname: the Host Name the peer must announce
	SecretFile StringValue // -secret-file: the shared secret, read from a file
	Secret     StringValue // secret: the configuration file only (ps would show a flag)
	Digest     StringValue // -digest md5|sha1
	Role       StringValue // -role initiator|responder|both
	RouterID   StringValue // -router-id: an IPv4 address or a UintValue
}

// DynamicConfig is a checked dynamic tunnel: its control connection with
// the peer, which negotiates the sessions of its circuits.
type DynamicConfig struct {
	HostName, PeerName string
	Secret             []byte
	Digest             l2tpv3.DigestType
	// Initiator sends the SCCRQ and the ICRQs; otherwise the peer's are
	// awaited. Both ends may (role both): ties are broken as RFC 3931 says.
	Initiator bool
	// Hello is the keepalive interval on the established connection.
	Hello time.Duration
	// RouterID is the Router ID we announce (RFC 3931 §5.4.3, unique per
	// LCCE); 0: the tunnel's local address (see AnnouncedRouterID).
	RouterID uint32
}

// AnnouncedRouterID returns the Router ID announced on a tunnel from local: the
// configured one, else the local IPv4 address, else (IPv6) the last four
// bytes of the local address.
func (dc *DynamicConfig) AnnouncedRouterID(local netip.Addr) uint32 {
	if dc.RouterID != 0 {
		return dc.RouterID
	}
	b := local.As16()
	return binary.BigEndian.Uint32(b[12:])
}

// parseRouterID reads -router-id: an IPv4 address (the RFC's
// recommendation) or a number from 1 to 0xffffffff, decimal or 0x-hex.
func parseRouterID(s string) (uint32, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Is4() || a.IsUnspecified() {
			return 0, false
		}
		b := a.As4()
		return binary.BigEndian.Uint32(b[:]), true
	}
	base := 10
	if t, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = t, 16
	}
	n, err := strconv.ParseUint(s, base, 32)
	return uint32(n), err == nil && n != 0
}

// defaultDynamicHello is the HELLO interval of a dynamic tunnel without
// -hello (RFC 3931 §6.5 suggests 60 s).
const defaultDynamicHello = 60 * time.Second

// circuitSession checks a session named by -circuit: its IDs and cookies
// are negotiated, so the flags that type them are refused. The header
// gets the largest cookies the negotiation can pick (8 bytes each way), for
// the MTU.
func (o *Options) circuitSession(h *l2tpv3.Header) error {
	name := o.Dynamic.Circuit.Val
	if name == "" || len(name) > l2tpv3.MaxAVPValue {
		return badf("circuit", "-circuit %q: a circuit name (the Remote End ID, e.g. vm1) has 1 to %d bytes", name, l2tpv3.MaxAVPValue)
	}
	for _, k := range []struct {
		name string
		set  bool
	}{{"txsession", o.TxSession.Given}, {"rxsession", o.RxSession.Given}, {"txcookie", o.TxCookie.Given},
		{"rxcookie", o.RxCookie.Given}, {"cookie64", o.Cookie64.Given}, {"txcookie64", o.TxCookie64.Given},
		{"rxcookie64", o.RxCookie64.Given}} {
		if k.set {
			return badf(k.name, "-circuit with -%s: a circuit's session IDs and cookies are negotiated with the peer; drop -%s (or -circuit, for a static session)", k.name, k.name)
		}
	}
	h.TxCookieLen, h.RxCookieLen = 8, 8
	return nil
}

// tunnelControl checks a tunnel's control channel options: the keepalive
// of a static tunnel, or with dynamic (its sessions have -circuit) the
// dynamic control connection.
func (o *Options) tunnelControl(dynamic bool) (KeepaliveConfig, *DynamicConfig, error) {
	d := &o.Dynamic
	if !dynamic {
		for _, k := range []struct {
			name string
			set  bool
		}{{"hostname", d.HostName.Given}, {"peer-hostname", d.PeerName.Given}, {"secret-file", d.SecretFile.Given},
			{"secret", d.Secret.Given}, {"digest", d.Digest.Given}, {"role", d.Role.Given}, {"router-id", d.RouterID.Given}} {
			if k.set {
				return KeepaliveConfig{}, nil, badf(k.name, "-%s is for dynamic sessions: add -circuit NAME (the circuit both ends name), or drop -%s", k.name, k.name)
			}
		}
		c, err := o.Keepalive.config()
		return c, nil, err
	}
	for _, k := range []struct {
		name string
		set  bool
	}{{"rxtunnel", o.Keepalive.RxTunnel.Given}, {"txtunnel", o.Keepalive.TxTunnel.Given}, {"hello-required", o.Keepalive.Required.Given}} {
		if k.set {
			return KeepaliveConfig{}, nil, badf(k.name, "-%s with -circuit: a dynamic tunnel negotiates its control connection, and its sessions go down with the peer; drop -%s", k.name, k.name)
		}
	}
	dc := &DynamicConfig{HostName: d.HostName.Val, PeerName: d.PeerName.Val, Initiator: true, Hello: defaultDynamicHello}
	if o.Keepalive.Hello.Given {
		if o.Keepalive.Hello.Val == 0 {
			return KeepaliveConfig{}, nil, badf("hello", "-hello 0 with -circuit: a dynamic connection needs its keepalive; give 1 to %d seconds, or leave -hello out for 60", maxHello)
		}
		dc.Hello = time.Duration(o.Keepalive.Hello.Val) * time.Second
	}
	if !d.HostName.Given {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return KeepaliveConfig{}, nil, missingf("hostname", "-circuit needs our host name, and the machine's is unknown (%v): add -hostname NAME", err)
		}
		dc.HostName = h
	}
	for _, k := range []struct {
		name string
		t    StringValue
	}{{"hostname", d.HostName}, {"peer-hostname", d.PeerName}} {
		if k.t.Given && (k.t.Val == "" || len(k.t.Val) > l2tpv3.MaxAVPValue) {
			return KeepaliveConfig{}, nil, badf(k.name, "-%s %q: a host name has 1 to %d bytes", k.name, k.t.Val, l2tpv3.MaxAVPValue)
		}
	}
	switch d.Role.Val {
	case "", "both", "initiator":
	case "responder":
		dc.Initiator = false
	default:
		return KeepaliveConfig{}, nil, badf("role", "-role %q: want initiator (we request the connection and sessions), responder (we wait for the peer's requests) or both (default: either end may, ties broken as RFC 3931 says)", d.Role.Val)
	}
	if d.RouterID.Given {
		id, ok := parseRouterID(d.RouterID.Val)
		if !ok {
			return KeepaliveConfig{}, nil, badf("router-id", "-router-id %q: want an IPv4 address (such as this end's, 192.0.2.1) or a number from 1 to 0xffffffff, unique among the peer's peers", d.RouterID.Val)
		}
		dc.RouterID = id
	}
	var err error
	if dc.Secret, err = d.secret(); err != nil {
		return KeepaliveConfig{}, nil, err
	}
	switch d.Digest.Val {
	case "", "md5":
	case "sha1":
		dc.Digest = l2tpv3.DigestSHA1
	default:
		return KeepaliveConfig{}, nil, badf("digest", "-digest %q: want md5 (HMAC-MD5, the default) or sha1 (HMAC-SHA-1); both ends must agree", d.Digest.Val)
	}
	if d.Digest.Given && dc.Secret == nil {
		return KeepaliveConfig{}, nil, missingf("secret-file", "-digest without a secret: add -secret-file FILE, the shared secret that signs the control messages")
	}
	return KeepaliveConfig{}, dc, nil
}

// secret returns the shared secret: the contents of -secret-file, or the
// file's secret key, without a trailing newline; nil for none.
func (d *DynamicOptions) secret() ([]byte, error) {
	if d.SecretFile.Given && d.Secret.Given {
		return nil, badf("secret", "secret and secret-file both given: keep one (secret-file, whose mode can be 0600)")
	}
	if d.Secret.Given {
		if d.Secret.Val == "" {
			return nil, badf("secret", "secret \"\": give the shared secret, or leave secret out for no authentication")
		}
		return []byte(d.Secret.Val), nil
	}
	if !d.SecretFile.Given {
		return nil, nil
	}
	name := d.SecretFile.Val
	b, err := os.ReadFile(name)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, badf("secret-file", "-secret-file %s: %v: give a readable file holding the shared secret", name, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, badf("secret-file", "-secret-file %s is empty: write the shared secret into it", name)
	}
	warnMode(name, "-secret-file "+name)
	return b, nil
}

// warnMode warns when the file name, which holds a secret, can be read by
// other users than its owner.
func warnMode(name, what string) {
	if fi, err := os.Stat(name); err == nil && fi.Mode().Perm()&0o077 != 0 {
		slog.Warn(fmt.Sprintf("%s: a file holding a secret has mode %04o, so other users may read it: chmod 600 %s", what, fi.Mode().Perm(), name))
	}
}
