//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestTextLogger checks the text format: "l2tap: MESSAGE key=value ...",
// values quoted only when they hold spaces, quotes or equals signs, no
// time or level, attributes of With before the line's own.
func TestTextLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, false)
	l.Info("ready", "tap", "vm0", "mtu", 1446, "sublayer", "none")
	l.Warn("drop: cookie mismatch", "reason", "rx_cookie_discards", "count", uint64(3))
	l.With("tunnel", "192.0.2.2:1701").Error("send to 192.0.2.2: x", "err", errors.New("a b"), "empty", "", "eq", "k=v")
	l.WithGroup("g").Info("grouped", "k", 1)
	want := "l2tap: ready tap=vm0 mtu=1446 sublayer=none\n" +
		"l2tap: drop: cookie mismatch reason=rx_cookie_discards count=3\n" +
		`l2tap: send to 192.0.2.2: x tunnel=192.0.2.2:1701 err="a b" empty="" eq="k=v"` + "\n" +
		"l2tap: grouped g.k=1\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestJSONLogger checks that the JSON format writes one object per line
// with time, level, msg and the keys, numbers as numbers.
func TestJSONLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, true)
	l.Info("ready", "tap", "vm0", "mtu", 1446)
	l.Warn("drop: cookie mismatch", "reason", "rx_cookie_discards", "count", uint64(3))
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got:\n%s", buf.String())
	}
	var ready, drop map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ready); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &drop); err != nil {
		t.Fatalf("%v: %s", err, lines[1])
	}
	if ready["msg"] != "ready" || ready["level"] != "INFO" || ready["tap"] != "vm0" || ready["mtu"] != 1446.0 || ready["time"] == nil {
		t.Errorf("ready line: %v", ready)
	}
	if drop["level"] != "WARN" || drop["reason"] != "rx_cookie_discards" || drop["count"] != 3.0 {
		t.Errorf("drop line: %v", drop)
	}
}
