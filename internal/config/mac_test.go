//go:build linux

package config

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/tap"
)

// TestMACFlag checks -mac into the session's TAP configuration: the
// policies, an address, the refusals (with -attach, with -socket, bad
// addresses), and what a missing machine ID does to the default and to
// -mac persistent given outright.
func TestMACFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "machine-id")
	if err := os.WriteFile(good, []byte("4f1c2e0d9a8b47c6b5a4f3e2d1c0b9a8\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "uninitialized")
	if err := os.WriteFile(bad, []byte("uninitialized\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	id, err := tap.ReadMachineID(good)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}
	restore := MachineIDFile
	t.Cleanup(func() { MachineIDFile = restore })
	for _, tc := range []struct {
		name    string
		idFile  string
		args    []string
		want    TAPConfig // MAC, MACAddr and MachineID only
		wantErr []string  // each in the one-line error
	}{
		{"default", good, nil, TAPConfig{MAC: tap.MACPersistent, MachineID: id}, nil},
		{"persistent", good, []string{"-mac", "persistent"}, TAPConfig{MAC: tap.MACPersistent, MachineID: id}, nil},
		{"random", good, []string{"-mac", "random"}, TAPConfig{MAC: tap.MACRandom}, nil},
		{"address", good, []string{"-mac", "02-00-5E-10-00-01"},
			TAPConfig{MAC: tap.MACFixed, MACAddr: net.HardwareAddr{2, 0, 0x5e, 0x10, 0, 1}}, nil},
		{"default-no-machine-id", filepath.Join(dir, "absent"), nil, TAPConfig{MAC: tap.MACPersistent}, nil},
		{"default-bad-machine-id", bad, nil, TAPConfig{MAC: tap.MACPersistent}, nil},
		{"random-no-machine-id", filepath.Join(dir, "absent"), []string{"-mac", "random"}, TAPConfig{MAC: tap.MACRandom}, nil},
		{"attach-default", good, []string{"-ifname", "vm0", "-attach"}, TAPConfig{MAC: tap.MACPersistent}, nil},
		{"persistent-no-machine-id", filepath.Join(dir, "absent"), []string{"-mac", "persistent"}, TAPConfig{},
			[]string{"-mac persistent", "no machine ID", "absent", "-mac random"}},
		{"persistent-bad-machine-id", bad, []string{"-mac", "persistent"}, TAPConfig{},
			[]string{"-mac persistent", "32 hexadecimal digits", "systemd-machine-id-setup"}},
		{"attach", good, []string{"-ifname", "vm0", "-attach", "-mac", "random"}, TAPConfig{}, []string{"-mac random with -attach", "drop -mac"}},
		{"socket", good, []string{"-socket", filepath.Join(dir, "vm.sock"), "-mac", "02:00:5e:10:00:01"}, TAPConfig{},
			[]string{"-mac 02:00:5e:10:00:01 with -socket", "drop -mac"}},
		{"multicast", good, []string{"-mac", "03:00:5e:10:00:01"}, TAPConfig{}, []string{`-mac "03:00:5e:10:00:01"`, "multicast", "-mac random"}},
		{"short", good, []string{"-mac", "02:00:5e"}, TAPConfig{}, []string{`-mac "02:00:5e"`, "6-byte"}},
		{"word", good, []string{"-mac", "stable"}, TAPConfig{}, []string{`-mac "stable"`, "persistent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			MachineIDFile = tc.idFile
			var o Options
			parseFlags(t, &o, append(append([]string{}, base...), tc.args...)...)
			_, sc, err := o.session()
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("accepted: %+v", sc.TAP)
				}
				var ue UsageError
				if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") {
					t.Errorf("not a one-line usage error: %v", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sc.TAP
			if got.MAC != tc.want.MAC || !bytes.Equal(got.MACAddr, tc.want.MACAddr) || !bytes.Equal(got.MachineID, tc.want.MachineID) {
				t.Fatalf("MAC %v %s id %x, want %v %s id %x", got.MAC, got.MACAddr, got.MachineID, tc.want.MAC, tc.want.MACAddr, tc.want.MachineID)
			}
			if missing := PersistentMACMissing(&got); missing != (tc.want.MAC == tap.MACPersistent && tc.want.MachineID == nil) {
				t.Fatalf("PersistentMACMissing = %v", missing)
			}
		})
	}
}
