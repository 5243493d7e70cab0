package l2tpv3

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"hash"
)

// DigestType is the algorithm of a Message Digest AVP (RFC 3931 §5.4.1).
type DigestType uint8

const (
	DigestMD5  DigestType = 0 // HMAC-MD5, 16 bytes
	DigestSHA1 DigestType = 1 // HMAC-SHA-1, 20 bytes
)

// Size returns the digest length of t, 0 for an unknown type.
func (t DigestType) Size() int {
	switch t {
	case DigestMD5:
		return md5.Size
	case DigestSHA1:
		return sha1.Size
	}
	return 0
}

func (t DigestType) String() string {
	switch t {
	case DigestMD5:
		return "hmac-md5"
	case DigestSHA1:
		return "hmac-sha1"
	}
	return "invalid"
}

func (t DigestType) newHash() func() hash.Hash {
	if t == DigestSHA1 {
		return sha1.New
	}
	return md5.New
}

func parseDigest(v []byte) (Digest, bool) {
	if len(v) < 1 {
		return Digest{}, false
	}
	t := DigestType(v[0])
	if n := t.Size(); n == 0 || len(v) != 1+n {
		return Digest{}, false
	}
	return Digest{Type: t, Value: v[1:]}, true
}

// SharedKey derives the control message authentication key from the
// shared secret: HMAC-MD5(secret, 0x02) (RFC 3931 §5.4.1).
func SharedKey(secret []byte) []byte {
	m := hmac.New(md5.New, secret)
	m.Write([]byte{2})
	return m.Sum(nil)
}

// AppendDigestAVP appends a Message Digest AVP of type t with a zero
// digest, to be filled by SignMessage. It must directly follow the Message
// Type AVP (BeginMessage).
func AppendDigestAVP(b []byte, t DigestType) []byte {
	b = appendAVPHeader(b, true, false, 0, AttrMessageDigest, 1+t.Size())
	b = append(b, byte(t))
	for i := 0; i < t.Size(); i++ {
		b = append(b, 0)
	}
	return b
}

// digestOffset is where the first Message Digest value starts in a
// message: after the header, the Message Type AVP, the AVP header and the
// Digest Type octet.
const digestOffset = ControlHeaderLen + messageTypeAVPLen + AVPHeaderLen + 1

// computeDigest returns HMAC(key, nonce1 + nonce2 + msg) with the digest
// values at the given offsets taken as zeros.
func computeDigest(t DigestType, key, nonce1, nonce2, msg []byte, zero []Digest) []byte {
	return digestWith(hmac.New(t.newHash(), key), nil, nonce1, nonce2, msg, zero)
}

// zeros stand in for digest values in the hashed message (a package
// variable: a local one would escape through the hash's Write).
var zeros [sha1.Size]byte

// digestWith is computeDigest with the HMAC m (reset first), its sum
// appended to out.
func digestWith(m hash.Hash, out, nonce1, nonce2, msg []byte, zero []Digest) []byte {
	m.Reset()
	m.Write(nonce1)
	m.Write(nonce2)
	pos := 0
	for _, d := range zero {
		m.Write(msg[pos:d.Offset])
		m.Write(zeros[:len(d.Value)])
		pos = d.Offset + len(d.Value)
	}
	m.Write(msg[pos:])
	return m.Sum(out)
}

// Verifier checks Message Digests with one key, as VerifyMessageType
// does, without allocating: a receiver that verifies every message an
// attacker sends keeps its HMACs. It is for one goroutine.
type Verifier struct {
	key  []byte
	macs [2]hash.Hash // by DigestType, made when first needed
	sum  [sha1.Size]byte
}

// NewVerifier returns a Verifier for key (from SharedKey).
func NewVerifier(key []byte) *Verifier { return &Verifier{key: key} }

// Verify is VerifyMessageType(m, a, t, key, peerNonce, localNonce).
func (v *Verifier) Verify(m *Message, a *Attrs, t DigestType, peerNonce, localNonce []byte) bool {
	if t.Size() == 0 {
		return false
	}
	if v.macs[t] == nil {
		v.macs[t] = hmac.New(t.newHash(), v.key)
	}
	zero := a.Digests[:a.NumDigests]
	ok := false
	for _, d := range zero {
		if d.Type != t {
			continue
		}
		if hmac.Equal(digestWith(v.macs[t], v.sum[:0], peerNonce, localNonce, m.Raw, zero), d.Value) {
			ok = true
		}
	}
	return ok
}

// SignMessage fills the Message Digest of msg, a complete message (Length
// set) built with AppendDigestAVP right after the Message Type AVP:
// HMAC(key, localNonce + remoteNonce + msg) with the digest zeroed, key
// from SharedKey. For an SCCRQ both nonces are nil (RFC 3931 §5.4.1).
func SignMessage(msg []byte, key, localNonce, remoteNonce []byte) error {
	if len(msg) < digestOffset || binary.BigEndian.Uint16(msg[digestOffset-5:]) != 0 ||
		binary.BigEndian.Uint16(msg[digestOffset-3:]) != AttrMessageDigest {
		return ErrNoDigest
	}
	t := DigestType(msg[digestOffset-1])
	n := t.Size()
	if n == 0 || len(msg) < digestOffset+n {
		return ErrAVPLength
	}
	d := Digest{Type: t, Value: msg[digestOffset : digestOffset+n], Offset: digestOffset}
	sum := computeDigest(t, key, localNonce, remoteNonce, msg, []Digest{d})
	copy(msg[digestOffset:], sum)
	return nil
}

// VerifyMessage checks the Message Digest AVPs of m (decoded into a) with
// the nonces in the sender's order: the peer's nonce first, then ours (nil
// both for an SCCRQ). One valid digest is enough, as RFC 3931 §5.4.1 asks
// when two are present. A message without a digest fails.
func VerifyMessage(m *Message, a *Attrs, key, peerNonce, localNonce []byte) bool {
	return verify(m, a, false, 0, key, peerNonce, localNonce)
}

// VerifyMessageType is VerifyMessage requiring the algorithm: only a
// Message Digest of type t counts, so that a peer configured for HMAC-SHA-1
// cannot be spoken to with HMAC-MD5 (the weaker one) instead.
func VerifyMessageType(m *Message, a *Attrs, t DigestType, key, peerNonce, localNonce []byte) bool {
	return verify(m, a, true, t, key, peerNonce, localNonce)
}

func verify(m *Message, a *Attrs, pinned bool, t DigestType, key, peerNonce, localNonce []byte) bool {
	zero := a.Digests[:a.NumDigests]
	ok := false
	for _, d := range zero {
		if pinned && d.Type != t {
			continue
		}
		sum := computeDigest(d.Type, key, peerNonce, localNonce, m.Raw, zero)
		if hmac.Equal(sum, d.Value) {
			ok = true
		}
	}
	return ok
}
