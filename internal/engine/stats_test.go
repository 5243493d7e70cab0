package engine

import (
	"bytes"
	"io"
	"log"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/l2tpv3"
)

// captureLog sends the standard logger's output to w until the test ends,
// then gives the logger back its writer, flags and prefix.
func captureLog(t *testing.T, w io.Writer) {
	t.Helper()
	out, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(w)
	t.Cleanup(func() {
		log.SetOutput(out)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	})
}

// TestRateLimit checks that a flood of one error logs one line per second,
// and that another reason still gets its own line.
func TestRateLimit(t *testing.T) {
	var buf bytes.Buffer
	captureLog(t, &buf)
	var st Stats
	var lim rateLimit
	for i := 0; i < 10000; i++ {
		st.drop(l2tpv3.DropCookie, &lim)
	}
	st.drop(l2tpv3.DropSession, &lim)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "cookie mismatch") || !strings.Contains(lines[1], "session ID mismatch") {
		t.Fatalf("want one cookie line and one session line, got %d:\n%s", len(lines), buf.String())
	}
	if got := st.Drops[l2tpv3.DropCookie].Load(); got != 10000 {
		t.Fatalf("rx_cookie_discards %d, want 10000", got)
	}
	if got := st.RxErrors.Load(); got != 10001 {
		t.Fatalf("rx_errors %d, want 10001", got)
	}
	c := map[string]uint64{}
	for _, kv := range st.Counters(0, 0) {
		c[kv.Name] = kv.Value
	}
	if c["rx_cookie_discards"] != 10000 || c["rx_session_mismatch"] != 1 {
		t.Fatalf("counters %v", c)
	}
}
