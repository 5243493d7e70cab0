package tap

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// machineA and machineB are two machine IDs as /etc/machine-id holds them.
const (
	machineA = "4f1c2e0d9a8b47c6b5a4f3e2d1c0b9a8\n"
	machineB = "0123456789abcdef0123456789abcdef\n"
)

func mustID(t *testing.T, s string) []byte {
	t.Helper()
	id, err := ParseMachineID("machine-id", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPersistentMAC(t *testing.T) {
	a, b := mustID(t, machineA), mustID(t, machineB)
	seen := map[string]string{}
	for _, tc := range []struct {
		machine string
		id      []byte
		name    string
	}{
		{"a", a, "vm0"}, {"a", a, "vm1"}, {"a", a, "l2tap0"}, {"a", a, "kpl2tap0"},
		{"b", b, "vm0"}, {"b", b, "vm1"}, {"b", b, "l2tap0"}, {"a", a, "vm0 "}, {"a", a, "VM0"},
	} {
		mac := PersistentMAC(tc.id, tc.name)
		if len(mac) != 6 {
			t.Fatalf("%s/%q: %d bytes", tc.machine, tc.name, len(mac))
		}
		if mac[0]&0x02 == 0 {
			t.Errorf("%s/%q: %s is not locally administered", tc.machine, tc.name, mac)
		}
		if mac[0]&0x01 != 0 {
			t.Errorf("%s/%q: %s is multicast", tc.machine, tc.name, mac)
		}
		// Stable: the same inputs, computed again, give the same bytes,
		// and the result does not alias anything the next call changes.
		again := PersistentMAC(append([]byte(nil), tc.id...), strings.Clone(tc.name))
		if !bytes.Equal(mac, again) {
			t.Errorf("%s/%q: %s then %s", tc.machine, tc.name, mac, again)
		}
		key := tc.machine + "/" + tc.name
		if other, dup := seen[mac.String()]; dup {
			t.Errorf("%s and %s both get %s", other, key, mac)
		}
		seen[mac.String()] = key
	}
}

// TestPersistentMACValue pins the derivation: HMAC-SHA256 keyed with the
// 16 bytes of the machine ID over "l2tap persistent TAP MAC\x00" and the
// name, first 6 bytes, then bit 1 set and bit 0 cleared in the first. The
// expected values come from Python's hmac module:
//
//	hmac.new(bytes.fromhex(id), b"l2tap persistent TAP MAC\0" + name, "sha256").digest()[:6]
//
// A change here changes every TAP's MAC on upgrade: it must not happen by
// accident.
func TestPersistentMACValue(t *testing.T) {
	for _, tc := range []struct {
		id, name, want string
	}{
		{machineA, "vm0", "5e:56:88:af:d4:50"},
		{machineB, "l2tap0", "b2:68:e6:65:b2:93"},
	} {
		if got := PersistentMAC(mustID(t, tc.id), tc.name).String(); got != tc.want {
			t.Errorf("PersistentMAC(%q, %q) = %s, want %s", strings.TrimSpace(tc.id), tc.name, got, tc.want)
		}
	}
}

func TestParseMachineID(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		ok         bool
	}{
		{"newline", machineA, true},
		{"no-newline", strings.TrimSpace(machineB), true},
		{"upper-case", strings.ToUpper(machineB), true},
		{"empty", "", false},
		{"uninitialized", "uninitialized\n", false},
		{"short", "0123456789abcdef\n", false},
		{"long", "0123456789abcdef0123456789abcdef00\n", false},
		{"zeros", strings.Repeat("0", 32) + "\n", false},
		{"two-newlines", machineA + "\n", false},
		{"uuid-dashes", "4f1c2e0d-9a8b-47c6-b5a4-f3e2d1c0b9a8\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ParseMachineID("machine-id", []byte(tc.file))
			if tc.ok != (err == nil) {
				t.Fatalf("ParseMachineID(%q) = %x, %v", tc.file, id, err)
			}
			if err != nil && !errors.Is(err, ErrNoMachineID) {
				t.Fatalf("error %v does not wrap ErrNoMachineID", err)
			}
			if err == nil && len(id) != 16 {
				t.Fatalf("%d bytes", len(id))
			}
		})
	}
	dir := t.TempDir()
	if _, err := ReadMachineID(filepath.Join(dir, "absent")); !errors.Is(err, ErrNoMachineID) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	path := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(path, []byte(machineA), 0o444); err != nil {
		t.Fatal(err)
	}
	if id, err := ReadMachineID(path); err != nil || !bytes.Equal(id, mustID(t, machineA)) {
		t.Fatalf("ReadMachineID = %x, %v", id, err)
	}
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"02:00:5e:10:00:01", "02:00:5e:10:00:01"},
		{"02-00-5E-10-00-01", "02:00:5e:10:00:01"},
		{"0200.5e10.0001", "02:00:5e:10:00:01"},
		{"52:54:00:12:34:56", "52:54:00:12:34:56"}, // globally administered: the user's choice
		{"01:00:5e:00:00:01", ""},                  // multicast
		{"ff:ff:ff:ff:ff:ff", ""},                  // broadcast
		{"00:00:00:00:00:00", ""},
		{"02:00:5e:10:00", ""},
		{"02:00:5e:10:00:01:02:03", ""}, // EUI-64
		{"02:00:5e:10:00:0g", ""},
		{"", ""},
		{"persistent", ""},
	} {
		mac, err := ParseMAC(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseMAC(%q) = %s, want an error", tc.in, mac)
		case tc.want != "" && (err != nil || mac.String() != tc.want):
			t.Errorf("ParseMAC(%q) = %s, %v; want %s", tc.in, mac, err, tc.want)
		}
	}
}

func TestMACFor(t *testing.T) {
	id := mustID(t, machineA)
	fixed := net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1}
	for _, tc := range []struct {
		name string
		cfg  Config
		want net.HardwareAddr
	}{
		{"persistent", Config{MAC: MACPersistent, MachineID: id}, PersistentMAC(id, "vm0")},
		{"persistent-no-id", Config{MAC: MACPersistent}, nil},
		{"random", Config{MAC: MACRandom, MachineID: id}, nil},
		{"fixed", Config{MAC: MACFixed, MACAddr: fixed, MachineID: id}, fixed},
	} {
		if got := tc.cfg.MACFor("vm0"); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: MACFor = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzParseMAC checks that ParseMAC never panics and accepts only unicast
// 6-byte addresses that print back to themselves.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"02:00:5e:10:00:01", "0200.5e10.0001", "01:00:5e:00:00:01", "", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mac, err := ParseMAC(s)
		if err != nil {
			return
		}
		if len(mac) != 6 || mac[0]&1 != 0 || bytes.Equal(mac, make([]byte, 6)) {
			t.Fatalf("accepted %q as %s", s, mac)
		}
		if again, err := ParseMAC(mac.String()); err != nil || !bytes.Equal(again, mac) {
			t.Fatalf("%s does not parse back: %s, %v", mac, again, err)
		}
	})
}

// FuzzParseMachineID checks that no file content makes ParseMachineID
// panic, and that what it accepts is 16 bytes, not all zero.
func FuzzParseMachineID(f *testing.F) {
	f.Add([]byte(machineA))
	f.Add([]byte("uninitialized\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseMachineID("f", b)
		if err != nil {
			return
		}
		if len(id) != 16 || bytes.Equal(id, make([]byte, 16)) {
			t.Fatalf("accepted %q as %x", b, id)
		}
	})
}
