package l2tpv3

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The expected values below were computed with Python's hmac module, an
// implementation independent of this package, from the RFC 3931 §5.4.1
// formulas: key = HMAC-MD5(secret, 0x02), digest = HMAC(key, nonces + msg).
const (
	knownKey       = "21dc457145ad58f4b1497ae27d2a87b4"
	knownSCCRQMD5  = "6e73af5b8ca8d59478a598f101343b7a"
	knownHELLOSHA1 = "2e4dc5449ac94eb01040ba8e41b447712653aca4"
)

func goldenByName(t *testing.T, name string) []byte {
	for _, g := range goldenMessages {
		if g.name == name {
			return unhex(t, g.hex)
		}
	}
	t.Fatalf("no golden %s", name)
	return nil
}

// parsed parses message b and its attributes, failing the test on an error.
func parsed(t *testing.T, b []byte) (Message, Attrs) {
	t.Helper()
	m, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	var a Attrs
	if err := ParseAttrs(&m, &a); err != nil {
		t.Fatal(err)
	}
	return m, a
}

func TestSharedKey(t *testing.T) {
	if got := hex.EncodeToString(SharedKey([]byte("secret"))); got != knownKey {
		t.Fatalf("SharedKey = %s, want %s", got, knownKey)
	}
}

func TestSignSCCRQ(t *testing.T) {
	key := SharedKey([]byte("secret"))
	msg := goldenByName(t, "SCCRQ-auth")
	if err := SignMessage(msg, key, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(msg[27:43]); got != knownSCCRQMD5 {
		t.Fatalf("SCCRQ digest %s, want %s", got, knownSCCRQMD5)
	}
	m, a := parsed(t, msg)
	if !VerifyMessage(&m, &a, key, nil, nil) {
		t.Fatal("signed SCCRQ does not verify")
	}
	if VerifyMessage(&m, &a, SharedKey([]byte("other")), nil, nil) {
		t.Fatal("SCCRQ verifies with another secret")
	}
	msg[len(msg)-1] ^= 1 // tamper with the nonce
	m, a = parsed(t, msg)
	if VerifyMessage(&m, &a, key, nil, nil) {
		t.Fatal("tampered SCCRQ verifies")
	}
}

func TestSignWithNonces(t *testing.T) {
	key := SharedKey([]byte("secret"))
	ours, theirs := bytes.Repeat([]byte("A"), 16), bytes.Repeat([]byte("B"), 16)
	msg := BeginMessage(nil, ControlHeader{0x55667788, 3, 2}, MsgHELLO)
	msg = AppendDigestAVP(msg, DigestSHA1)
	if err := SetControlLength(msg); err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(msg, key, ours, theirs); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(msg[27:]); got != knownHELLOSHA1 {
		t.Fatalf("HELLO digest %s, want %s", got, knownHELLOSHA1)
	}
	m, a := parsed(t, msg)
	// The receiver puts the sender's nonce first.
	if !VerifyMessage(&m, &a, key, ours, theirs) {
		t.Fatal("does not verify with the sender's nonce first")
	}
	if VerifyMessage(&m, &a, key, theirs, ours) {
		t.Fatal("verifies with the nonces swapped")
	}
}

func TestVerifyTwoDigests(t *testing.T) {
	oldKey, newKey := SharedKey([]byte("old")), SharedKey([]byte("new"))
	msg := BeginMessage(nil, ControlHeader{ConnID: 1}, MsgHELLO)
	msg = AppendDigestAVP(msg, DigestMD5)
	msg = AppendDigestAVP(msg, DigestSHA1)
	if err := SetControlLength(msg); err != nil {
		t.Fatal(err)
	}
	// Sign the second digest by hand: both values zero in the hash.
	m, a := parsed(t, msg)
	if a.NumDigests != 2 || a.Digests[1].Offset != 27+16+7 {
		t.Fatalf("digests %+v", a.Digests)
	}
	sum := computeDigest(DigestSHA1, newKey, nil, nil, m.Raw, a.Digests[:2])
	copy(msg[a.Digests[1].Offset:], sum)
	m, a = parsed(t, msg)
	if !VerifyMessage(&m, &a, newKey, nil, nil) {
		t.Fatal("second digest not accepted")
	}
	if VerifyMessage(&m, &a, oldKey, nil, nil) {
		t.Fatal("zero first digest accepted")
	}
}

func TestVerifyWithoutDigest(t *testing.T) {
	m, a := parsed(t, goldenByName(t, "HELLO"))
	if VerifyMessage(&m, &a, SharedKey([]byte("secret")), nil, nil) {
		t.Fatal("message without digest verifies")
	}
}

func TestSignErrors(t *testing.T) {
	if err := SignMessage(goldenByName(t, "HELLO"), nil, nil, nil); err != ErrNoDigest {
		t.Fatalf("short message: %v", err)
	}
	icrq := goldenByName(t, "ICRQ")
	orig := append([]byte(nil), icrq...)
	if err := SignMessage(icrq, nil, nil, nil); err != ErrNoDigest || !bytes.Equal(icrq, orig) {
		t.Fatalf("message without a digest AVP: %v", err)
	}
}

// TestVerifyMessageType: a digest of the other algorithm does not count,
// alone or next to a wrong one of the required algorithm.
func TestVerifyMessageType(t *testing.T) {
	key := SharedKey([]byte("secret"))
	for _, tc := range []struct {
		name     string
		types    []DigestType // the Message Digest AVPs, in order
		signed   int          // the index of the one signed correctly
		want     DigestType
		verifies bool
	}{
		{"md5 wanted md5", []DigestType{DigestMD5}, 0, DigestMD5, true},
		{"sha1 wanted sha1", []DigestType{DigestSHA1}, 0, DigestSHA1, true},
		{"md5 wanted sha1", []DigestType{DigestMD5}, 0, DigestSHA1, false},
		{"sha1 wanted md5", []DigestType{DigestSHA1}, 0, DigestMD5, false},
		{"good md5 beside bad sha1, sha1 wanted", []DigestType{DigestMD5, DigestSHA1}, 0, DigestSHA1, false},
		{"bad md5 beside good sha1, sha1 wanted", []DigestType{DigestMD5, DigestSHA1}, 1, DigestSHA1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := BeginMessage(nil, ControlHeader{ConnID: 1}, MsgHELLO)
			for _, dt := range tc.types {
				msg = AppendDigestAVP(msg, dt)
			}
			if err := SetControlLength(msg); err != nil {
				t.Fatal(err)
			}
			m, a := parsed(t, msg)
			d := a.Digests[tc.signed]
			copy(msg[d.Offset:], computeDigest(d.Type, key, nil, nil, m.Raw, a.Digests[:a.NumDigests]))
			m, a = parsed(t, msg)
			if !VerifyMessage(&m, &a, key, nil, nil) {
				t.Fatal("the signed digest does not verify at all")
			}
			if got := VerifyMessageType(&m, &a, tc.want, key, nil, nil); got != tc.verifies {
				t.Fatalf("VerifyMessageType(%v) = %v, want %v", tc.want, got, tc.verifies)
			}
		})
	}
}

// TestVerifier: the Verifier agrees with VerifyMessageType, message after
// message with one HMAC, and allocates nothing.
func TestVerifier(t *testing.T) {
	key := SharedKey([]byte("secret"))
	ours, theirs := bytes.Repeat([]byte("A"), 16), bytes.Repeat([]byte("B"), 16)
	v := NewVerifier(key)
	var msgs [][]byte
	for _, dt := range []DigestType{DigestMD5, DigestSHA1} {
		msg := BeginMessage(nil, ControlHeader{ConnID: 5, Ns: 1}, MsgHELLO)
		msg = AppendDigestAVP(msg, dt)
		if err := SetControlLength(msg); err != nil {
			t.Fatal(err)
		}
		if err := SignMessage(msg, key, ours, theirs); err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), msg...)
		bad[len(bad)-1] ^= 1
		msgs = append(msgs, msg, bad)
	}
	for round := range 3 {
		for i, msg := range msgs {
			m, a := parsed(t, msg)
			for _, dt := range []DigestType{DigestMD5, DigestSHA1} {
				for _, nonces := range [][2][]byte{{ours, theirs}, {theirs, ours}} {
					want := VerifyMessageType(&m, &a, dt, key, nonces[0], nonces[1])
					if got := v.Verify(&m, &a, dt, nonces[0], nonces[1]); got != want {
						t.Fatalf("round %d message %d %v: Verify %v, VerifyMessageType %v", round, i, dt, got, want)
					}
				}
			}
		}
	}
	m, a := parsed(t, msgs[2])
	if n := testing.AllocsPerRun(100, func() { v.Verify(&m, &a, DigestSHA1, ours, theirs) }); n != 0 {
		t.Fatalf("%v allocations per Verify", n)
	}
	if !v.Verify(&m, &a, DigestSHA1, ours, theirs) {
		t.Fatal("a signed HMAC-SHA-1 message does not verify")
	}
}
