package engine

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// captureLog sends slog.Default's output to w, as text or as JSON lines,
// until the test ends, then restores the default logger.
func captureLog(t *testing.T, w io.Writer, asJSON bool) {
	t.Helper()
	old := slog.Default()
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if asJSON {
		h = slog.NewJSONHandler(w, nil)
	}
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(old) })
}

// TestRateLimit checks that a flood of one error logs one line per second
// in either format, with the keys that name the session or tunnel, the
// reason's counter and the lines held back; that another reason still gets
// its own line; and that every drop is counted.
func TestRateLimit(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		var buf bytes.Buffer
		captureLog(t, &buf, asJSON)
		tun := &Tunnel{Stats: &TunnelStats{}, name: "192.0.2.2:1701"}
		s := &Session{cfg: SessionConfig{Header: l2tpv3.Header{TxSession: 7, RxSession: 9}}, ep: &fakeEndpoint{name: "f0"}, tunnel: tun, Stats: &Stats{}}
		var lim rateLimit
		for i := 0; i < 10000; i++ {
			s.drop(l2tpv3.DropCookie, &lim)
		}
		s.drop(l2tpv3.DropSession, &lim)
		for i := 0; i < 500; i++ {
			tun.drop(l2tpv3.DropSource, &lim)
		}
		// A second later the cookie line comes again, counting the others.
		lim.last[logKey(l2tpv3.DropCookie)] = time.Now().Add(-time.Second)
		s.drop(l2tpv3.DropCookie, &lim)

		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 4 {
			t.Fatalf("json %v: want 4 lines (cookie, session, source, cookie again), got %d:\n%s", asJSON, len(lines), buf.String())
		}
		type want struct {
			msg, why, reason, count string
			session                 bool // tap and session keys, or only tunnel
		}
		wants := []want{
			{"frame dropped", "cookie mismatch", "rx_cookie_discards", "0", true},
			{"frame dropped", "session ID mismatch", "rx_session_mismatch", "0", true},
			{"packet dropped", l2tpv3.DropSource.String(), l2tpv3.DropSource.Counter(), "0", false},
			{"frame dropped", "cookie mismatch", "rx_cookie_discards", "9999", true},
		}
		for i, w := range wants {
			kv := parseLine(t, lines[i], asJSON)
			if kv["msg"] != w.msg || !strings.Contains(kv["why"], w.why) || kv["reason"] != w.reason || kv["count"] != w.count || kv["tunnel"] != "192.0.2.2:1701" {
				t.Errorf("json %v: line %d: want msg %q, why with %q, reason=%s count=%s tunnel=192.0.2.2:1701; got %v", asJSON, i, w.msg, w.why, w.reason, w.count, kv)
			}
			if w.session && (kv["tap"] != "f0" || kv["session"] != "7/9") {
				t.Errorf("json %v: line %d: want tap=f0 session=7/9, got %v", asJSON, i, kv)
			}
		}
		if got := s.Stats.Drops[l2tpv3.DropCookie].Load(); got != 10001 {
			t.Fatalf("rx_cookie_discards %d, want 10001", got)
		}
		if got := s.Stats.RxErrors.Load(); got != 10002 {
			t.Fatalf("rx_errors %d, want 10002", got)
		}
		if got := tun.Stats.RxErrors.Load(); got != 500 {
			t.Fatalf("tunnel rx_errors %d, want 500", got)
		}
		c := map[string]uint64{}
		for _, kv := range s.Stats.Counters(0, 0) {
			c[kv.Name] = kv.Value
		}
		if c["rx_cookie_discards"] != 10001 || c["rx_session_mismatch"] != 1 {
			t.Fatalf("counters %v", c)
		}
	}
}

// parseLine returns the keys of one log line of slog's text or JSON
// handler, every value as text.
func parseLine(t *testing.T, line string, asJSON bool) map[string]string {
	t.Helper()
	kv := map[string]string{}
	if asJSON {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON object: %v: %s", err, line)
		}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				kv[k] = v
			default:
				b, _ := json.Marshal(v)
				kv[k] = string(b)
			}
		}
		return kv
	}
	// key=value or key="quoted value", as slog's text handler writes.
	for rest := line; rest != ""; {
		rest = strings.TrimLeft(rest, " ")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("not key=value: %q in %s", rest, line)
		}
		if strings.HasPrefix(v, `"`) {
			end := 1
			for end < len(v) && (v[end] != '"' || v[end-1] == '\\') {
				end++
			}
			kv[k] = strings.ReplaceAll(v[1:end], `\"`, `"`)
			rest = v[min(end+1, len(v)):]
		} else {
			val, after, _ := strings.Cut(v, " ")
			kv[k], rest = val, after
		}
	}
	return kv
}
