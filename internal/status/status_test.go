package status

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fake is a snapshot of two tunnels, the first with two sessions, whose
// counters differ everywhere so that a value reported under the wrong
// labels is noticed.
func fake() Snapshot {
	return Snapshot{PID: 4321, Tunnels: []Tunnel{
		{
			Name: "udp 192.0.2.1:1701 -> 192.0.2.2:1701", Encap: "udp", Local: "192.0.2.1:1701", Remote: "192.0.2.2:1701",
			Counters: Counters{{"rx_wrong_source", 3}, {"rx_invalid", 4}},
			Sessions: []Session{
				{TxSession: 10, RxSession: 20, TAP: "vm0", MTU: 1430, Counters: Counters{
					{"rx_packets", 100}, {"rx_bytes", 15000}, {"rx_errors", 1}, {"tx_packets", 90}, {"tx_bytes", 13000},
					{"tx_errors", 2}, {"rx_cookie_discards", 5}, {"tap_write_errors", 6}}},
				{TxSession: 11, RxSession: 21, TAP: "vm1", MTU: 1500, Counters: Counters{
					{"rx_packets", 7}, {"rx_bytes", 700}, {"rx_errors", 0}, {"tx_packets", 8}, {"tx_bytes", 800},
					{"tx_errors", 0}, {"rx_cookie_discards", 0}, {"tap_write_errors", 0}}},
			},
		},
		{
			Name: "ip 2001:db8::1 -> 2001:db8::2", Encap: "ip", Local: "2001:db8::1", Remote: "2001:db8::2",
			Counters: Counters{{"rx_wrong_source", 9}, {"rx_invalid", 0}},
			Sessions: []Session{{TxSession: 0xffffffff, RxSession: 4000000000, TAP: "l2tap0", MTU: 1280,
				Counters: Counters{{"rx_packets", 1 << 40}, {"tx_packets", 12}}}},
		},
	}}
}

// serve starts Serve on a socket in a temporary directory and returns its
// path and how many snapshots it took.
func serve(t *testing.T, snap func() Snapshot) (string, *atomic.Int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	calls := &atomic.Int64{}
	done := make(chan error, 1)
	go func() {
		done <- Serve(ln, func() Snapshot { calls.Add(1); return snap() })
	}()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after its listener closed, want nil", err)
		}
	})
	return path, calls
}

// TestQuery checks that a snapshot crosses the status socket unchanged,
// one call of snap per request, with Socket set by the client.
func TestQuery(t *testing.T) {
	path, calls := serve(t, fake)
	for i := 1; i <= 3; i++ {
		got, err := Query(path)
		if err != nil {
			t.Fatal(err)
		}
		want := fake()
		want.Socket = path
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d:\n got %+v\nwant %+v", i, got, want)
		}
		if n := calls.Load(); n != int64(i) {
			t.Errorf("after %d queries snap was called %d times", i, n)
		}
	}
}

// TestProtocol speaks the line protocol by hand: the answer is one JSON
// object, an unknown request gets an error and no snapshot, and a client
// that sends nothing costs no snapshot.
func TestProtocol(t *testing.T) {
	path, calls := serve(t, fake)
	ask := func(req string) map[string]json.RawMessage {
		t.Helper()
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		c.(*net.UnixConn).CloseWrite()
		body, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("answer to %q is not one JSON object: %v\n%s", req, err, body)
		}
		return m
	}
	m := ask("show\n")
	var s struct {
		PID     int `json:"pid"`
		Tunnels []struct {
			Sessions []struct {
				Counters map[string]uint64 `json:"counters"`
			} `json:"sessions"`
		} `json:"tunnels"`
	}
	if err := json.Unmarshal(m["snapshot"], &s); err != nil {
		t.Fatalf("snapshot: %v in %s", err, m["snapshot"])
	}
	if s.PID != 4321 || len(s.Tunnels) != 2 || s.Tunnels[0].Sessions[0].Counters["rx_packets"] != 100 ||
		s.Tunnels[1].Sessions[0].Counters["rx_packets"] != 1<<40 {
		t.Errorf("snapshot as JSON: %+v", s)
	}
	// The final newline may be missing.
	if m := ask("show"); m["snapshot"] == nil {
		t.Errorf("request without newline not answered: %v", m)
	}
	before := calls.Load()
	m = ask("reload\n")
	var e string
	json.Unmarshal(m["error"], &e)
	if !strings.Contains(e, `"reload"`) || !strings.Contains(e, `"show"`) || m["snapshot"] != nil {
		t.Errorf("unknown request: error %q, snapshot %s", e, m["snapshot"])
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := ask("show\n"); got["snapshot"] == nil {
		t.Error("no answer after a client that sent nothing")
	}
	if n := calls.Load() - before; n != 1 {
		t.Errorf("snap called %d times for one show, one unknown request and one silent client", n)
	}
}

// TestQueryErrors: no socket and a dead socket give errors that say so.
func TestQueryErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Query(filepath.Join(dir, "none.sock")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing socket: %v, want ENOENT", err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "dead.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Query(filepath.Join(dir, "dead.sock")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("stale socket: %v, want ECONNREFUSED", err)
	}
}

// TestCountersJSON: counters are one JSON object in their order, and read
// back in that order.
func TestCountersJSON(t *testing.T) {
	cs := Counters{{"z_last_name_first", 1}, {"a", 18446744073709551615}, {`odd"name`, 0}}
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z_last_name_first":1,"a":18446744073709551615,"odd\"name":0}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back Counters
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, cs) {
		t.Errorf("round trip: %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`[1,2]`), &back); err == nil {
		t.Error("a JSON array read as counters")
	}
	if err := json.Unmarshal([]byte(`{"a":-1}`), &back); err == nil {
		t.Error("a negative counter accepted")
	}
}

// TestWriteText checks the lines `l2tap show` prints for the fake.
func TestWriteText(t *testing.T) {
	s := fake()
	s.Socket = "/run/l2tap/vm0.sock"
	var b strings.Builder
	if err := WriteText(&b, s); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"l2tap pid 4321, status socket /run/l2tap/vm0.sock",
		"tunnel udp 192.0.2.1:1701 -> 192.0.2.2:1701",
		"  from 192.0.2.1:1701 to 192.0.2.2:1701, encap udp",
		"  rx_wrong_source 3  rx_invalid 4",
		"  session 20, peer session 10, interface vm0, mtu 1430",
		"    RX packets 100 bytes 15000 errors 1",
		"    TX packets 90 bytes 13000 errors 2",
		"    rx_cookie_discards 5  tap_write_errors 6",
		"  session 21, peer session 11, interface vm1, mtu 1500",
		"    RX packets 7 bytes 700 errors 0",
		"    TX packets 8 bytes 800 errors 0",
		"    rx_cookie_discards 0  tap_write_errors 0",
		"tunnel ip 2001:db8::1 -> 2001:db8::2",
		"  from 2001:db8::1 to 2001:db8::2, encap ip",
		"  rx_wrong_source 9  rx_invalid 0",
		"  session 4000000000, peer session 4294967295, interface l2tap0, mtu 1280",
		"    RX packets 1099511627776",
		"    TX packets 12",
	}
	if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// More than perLine other counters wrap.
	b.Reset()
	WriteText(&b, Snapshot{Tunnels: []Tunnel{{Name: "t", Counters: Counters{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}}}}})
	if !strings.Contains(b.String(), "  a 1  b 2  c 3  d 4\n  e 5\n") {
		t.Errorf("five counters not wrapped after four:\n%s", b.String())
	}
}

// scrape fetches MetricsPath from a metrics server over snap and parses it.
func scrape(t *testing.T, snap func() Snapshot) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	srv := httptest.NewServer(NewMetricsServer(snap).Handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s:\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, body)
	}
	return fams, string(body)
}

// TestMetrics checks every counter of the fake under its name, type,
// labels and value, and nothing else.
func TestMetrics(t *testing.T) {
	var calls atomic.Int64
	fams, body := scrape(t, func() Snapshot { calls.Add(1); return fake() })
	if calls.Load() != 1 {
		t.Errorf("one scrape took %d snapshots", calls.Load())
	}
	type key struct{ name, labels string }
	got := map[key]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var l []string
			for _, lp := range m.Label {
				l = append(l, lp.GetName()+"="+lp.GetValue())
			}
			k := key{name, strings.Join(l, ",")}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				if !strings.HasSuffix(name, "_total") {
					t.Errorf("counter %s lacks _total", name)
				}
				got[k] = m.Counter.GetValue()
			case dto.MetricType_GAUGE:
				got[k] = m.Gauge.GetValue()
			default:
				t.Errorf("%s has type %v", name, f.GetType())
			}
		}
	}
	want := map[key]float64{}
	for _, tn := range fake().Tunnels {
		for _, c := range tn.Counters {
			want[key{"l2tap_" + c.Name + "_total", "tunnel=" + tn.Name}] = float64(c.Value)
		}
		for _, s := range tn.Sessions {
			labels := "session=" + uitoa(s.RxSession) + ",tap=" + s.TAP + ",tunnel=" + tn.Name
			want[key{"l2tap_session_mtu", labels}] = float64(s.MTU)
			for _, c := range s.Counters {
				want[key{"l2tap_" + c.Name + "_total", labels}] = float64(c.Value)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s{%s}: got %v (present %v), want %v", k.name, k.labels, g, ok, v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s{%s}", k.name, k.labels)
			}
		}
		t.Logf("scrape:\n%s", body)
	}
	// Spot check the text itself.
	if line := `l2tap_rx_packets_total{session="20",tap="vm0",tunnel="udp 192.0.2.1:1701 -> 192.0.2.2:1701"} 100`; !strings.Contains(body, line+"\n") {
		t.Errorf("scrape lacks the line %s:\n%s", line, body)
	}
}

// TestMetricsNameClash: a tunnel counter named like a session counter is
// an error for that metric alone; the rest is still served.
func TestMetricsNameClash(t *testing.T) {
	s := fake()
	s.Tunnels[0].Counters = append(s.Tunnels[0].Counters, Counter{"rx_packets", 1})
	fams, body := scrape(t, func() Snapshot { return s })
	for _, m := range fams["l2tap_rx_packets_total"].GetMetric() {
		if len(m.Label) == 1 {
			t.Errorf("tunnel counter served under a session counter's name:\n%s", body)
		}
	}
	if len(fams["l2tap_rx_packets_total"].GetMetric()) != 3 || len(fams["l2tap_rx_invalid_total"].GetMetric()) != 2 {
		t.Errorf("other metrics missing:\n%s", body)
	}
}

// TestMetricName covers the characters a metric name cannot hold.
func TestMetricName(t *testing.T) {
	for in, want := range map[string]string{"rx_packets": "l2tap_rx_packets_total", "odd-name.x": "l2tap_odd_name_x_total", "Ä1": "l2tap__1_total"} {
		if got := MetricName(in); got != want {
			t.Errorf("MetricName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMetricsNotFound: only MetricsPath answers.
func TestMetricsNotFound(t *testing.T) {
	srv := httptest.NewServer(NewMetricsServer(fake).Handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %s, want 404", resp.Status)
	}
}

func uitoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
