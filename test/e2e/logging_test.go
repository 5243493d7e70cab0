//go:build linux

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/status"
)

// TestLogFormatFlag checks -log-format's errors: one line naming the flag
// and value, exit code 2, on the command line and in a file.
func TestLogFormatFlag(t *testing.T) {
	runBad(t, "", []string{"-log-format", "xml", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}, `-log-format "xml"`, "text", "json")
}

// TestLogFormatJSON runs a pseudowire whose side a logs JSON and side b
// text: every line a writes on stderr is a JSON object, its ready line
// carries the keys, and the counters it prints on SIGUSR1 and on exit are
// one JSON object each, with the text side's counter names in the same
// order and values that match what crossed.
func TestLogFormatJSON(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	args := func(src, dst string) []string {
		return []string{"-udp", "-src", src, "-dst", dst, "-srcport", "1701", "-dstport", "1701", "-txsession", "1", "-ifname", "lj0"}
	}
	a, b := vethPair(t, "lj")
	pa := startL2tap(t, a, append([]string{"-log-format", "json"}, args("192.0.2.1", "192.0.2.2")...)...)
	pb := startL2tap(t, b, args("192.0.2.2", "192.0.2.1")...)
	overlay(t, a, b, "lj0")
	if err := a.ping(t, "10.1.0.2", 5, 56); err != nil {
		t.Fatal(err)
	}
	pa.cmd.Process.Signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(pa.stdout.String(), "\n"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no counters within 5s of SIGUSR1:\n%s", pa.stderr.String())
		}
	}
	pa.stop(t)
	cb := pb.stop(t)

	var ready map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(pa.stderr.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("stderr line is not a JSON object: %v: %s", err, line)
			continue
		}
		if m["time"] == nil || m["level"] == nil || m["msg"] == nil {
			t.Errorf("line lacks time, level or msg: %s", line)
		}
		if m["msg"] == "ready" {
			ready = m
		}
	}
	want := map[string]any{"tap": "lj0", "mtu": 1450.0, "encap": "udp", "session": "1/1", "tunnel": "192.0.2.2:1701", "local": "192.0.2.1:1701"}
	for k, v := range want {
		if ready[k] != v {
			t.Errorf("ready line: %s is %v, want %v (line %v)", k, ready[k], v, ready)
		}
	}

	out := strings.Split(strings.TrimSuffix(pa.stdout.String(), "\n"), "\n")
	if len(out) != 2 {
		t.Fatalf("want 2 lines on stdout (SIGUSR1, exit), got:\n%s", pa.stdout.String())
	}
	var names []string
	for _, line := range strings.Split(pb.stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			names = append(names, f[0])
		}
	}
	for i, line := range out {
		var dump struct {
			Counters status.Counters `json:"counters"`
			Sessions []any           `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(line), &dump); err != nil {
			t.Fatalf("counters line %d is not a JSON object: %v: %s", i, err, line)
		}
		var got []string
		for _, c := range dump.Counters {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, names) || dump.Sessions != nil {
			t.Errorf("JSON counters %v (sessions %v), want the text side's names %v and no sessions", got, dump.Sessions, names)
		}
		if i == 1 {
			tx, _ := dump.Counters.Get("tx_packets")
			rx, _ := dump.Counters.Get("rx_packets")
			// Frames a sent before b was up are lost, so neither side's
			// count need equal the other's.
			if cb["rx_packets"] < 5 || tx < cb["rx_packets"] || rx < 5 || rx > cb["tx_packets"] {
				t.Errorf("a: tx_packets %d rx_packets %d; b: rx_packets %d tx_packets %d: want b's rx ≤ a's tx, a's rx ≤ b's tx, each at least 5 (the pings)",
					tx, rx, cb["rx_packets"], cb["tx_packets"])
			}
		}
	}
}
