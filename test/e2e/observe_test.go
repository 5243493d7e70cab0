//go:build linux

package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/status"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestObserveFlags checks the flag errors of -control, -metrics and show.
func TestObserveFlags(t *testing.T) {
	ok := []string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"metrics-no-port", append(ok, "-metrics", "127.0.0.1"), []string{"-metrics", `"127.0.0.1"`, "HOST:PORT"}},
		{"metrics-port-0", append(ok, "-metrics", "127.0.0.1:0"), []string{"-metrics", "1 to 65535"}},
		{"metrics-port-big", append(ok, "-metrics", ":70000"), []string{"-metrics", `":70000"`}},
		{"metrics-port-name", append(ok, "-metrics", "127.0.0.1:http"), []string{"-metrics", "127.0.0.1:http"}},
		{"control-too-long", append(ok, "-control", "/"+strings.Repeat("x", 120)), []string{"-control", "at most 107 bytes"}},
		{"show-stray", []string{"show", "now"}, []string{`"now"`, "l2tap show -help"}},
		{"show-bad-flag", []string{"show", "-all"}, []string{"-all", "l2tap show -help"}},
		{"show-after-options", []string{"-udp", "show"}, []string{"options before show", "l2tap show -help"}},
		{"show-empty-socket", []string{"show", "-socket", ""}, []string{"-socket", "path"}},
	} {
		t.Run(tc.name, func(t *testing.T) { runBad(t, "", tc.args, tc.want...) })
	}
}

// TestShowNone: show fails with one line and exit status 1 when nothing
// answers on the socket asked.
func TestShowNone(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.sock")
	ln, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "none.sock"), "no such socket"},
		{dead, "no l2tap answers there"},
	} {
		for _, extra := range [][]string{nil, {"-json"}} {
			cmd := exec.Command(l2tapBinary(t), append([]string{"show", "-socket", c.path}, extra...)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("show %s %v: want exit status 1, got %v", c.path, extra, err)
			}
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.path) || !strings.Contains(msg, c.want) {
				t.Errorf("show %s %v: want one line naming the path and %q, got %q", c.path, extra, c.want, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("show %s %v printed %q", c.path, extra, stdout.String())
			}
		}
	}
}

// defaultControlDir is the directory of l2tap's status sockets when
// -control is not given (see README, "Observing").
const defaultControlDir = "/run/l2tap"

// controlPath is the default status socket of an l2tap in ns whose TAP
// is dev, started as root without -user: in the directory of the default
// account (see chooseUser).
func controlPath(ns netns, dev string) string {
	dir := defaultControlDir
	for _, name := range daemon.DefaultUsers {
		if a, err := lookupUser(name); err == nil {
			dir = filepath.Join(dir, "uid-"+strconv.Itoa(a.UID))
			break
		}
	}
	return filepath.Join(dir, dev+"@"+string(ns)+".sock")
}

// showJSON runs l2tap show -json with args and decodes its output.
func showJSON(t *testing.T, args ...string) []status.Snapshot {
	t.Helper()
	out, err := exec.Command(l2tapBinary(t), append([]string{"show", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("l2tap show -json %v: %v\n%s", args, err, out)
	}
	var snaps []status.Snapshot
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("l2tap show -json: %v\n%s", err, out)
	}
	return snaps
}

// TestShowAndMetrics runs a pseudowire under the default seccomp filter,
// side a with -metrics, pings across and checks what `l2tap show`,
// `l2tap show -json`, the metrics endpoint and SIGUSR1 report, and that
// the status socket is gone once l2tap has stopped.
func TestShowAndMetrics(t *testing.T) {
	requireTools(t, true, "ip", "ping")
	const dev = "ob0"
	udp := []string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txcookie", "0x11", "-rxcookie", "0x22"}
	a, b, pa, pb := pseudowire(t, "ob", dev,
		append([]string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "7", "-rxsession", "8", "-metrics", "127.0.0.1:9723"}, udp...),
		[]string{"-udp", "-srcport", "1701", "-dstport", "1701", "-txcookie", "0x22", "-rxcookie", "0x11",
			"-src", "192.0.2.2", "-dst", "192.0.2.1", "-txsession", "8", "-rxsession", "7"})
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pingAll(t, pingCheck{a, "10.1.0.2", 56})

	sockA, sockB := controlPath(a, dev), controlPath(b, dev)
	owner := defaultAccount(t).UID
	for _, p := range []string{sockA, sockB} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatalf("status socket: %v", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 || int(st.Uid) != owner {
			t.Errorf("%s: mode %v, uid %d; want a socket, 0600, the default account's (%d)", p, fi.Mode(), st.Uid, owner)
		}
	}

	// show -json against side a.
	snaps := showJSON(t, "-socket", sockA)
	if len(snaps) != 1 {
		t.Fatalf("want one snapshot, got %+v", snaps)
	}
	s := snaps[0]
	if s.PID != pa.cmd.Process.Pid || s.Socket != sockA || len(s.Tunnels) != 1 || len(s.Tunnels[0].Sessions) != 1 {
		t.Fatalf("snapshot of side a (pid %d): %+v", pa.cmd.Process.Pid, s)
	}
	tun, ss := s.Tunnels[0], s.Tunnels[0].Sessions[0]
	if tun.Name != "udp 192.0.2.1:1701 -> 192.0.2.2:1701" || tun.Encap != "udp" || tun.Local != "192.0.2.1:1701" || tun.Remote != "192.0.2.2:1701" {
		t.Errorf("tunnel: %+v", tun)
	}
	if _, ok := tun.Counters.Get("tunnel_rx_wrong_source"); !ok {
		t.Errorf("tunnel counters lack tunnel_rx_wrong_source: %v", tun.Counters)
	}
	rx, _ := ss.Counters.Get("rx_packets")
	tx, _ := ss.Counters.Get("tx_packets")
	if ss.TxSession != 7 || ss.RxSession != 8 || ss.TAP != dev || ss.MTU < 1280 || rx == 0 || tx == 0 {
		t.Errorf("session: %+v", ss)
	}

	// Plain show of both sides; without -socket, every l2tap is listed
	// (other tests' too), ours among them.
	out, err := exec.Command(l2tapBinary(t), "show", "-socket", sockB).Output()
	if err != nil {
		t.Fatalf("l2tap show: %v", err)
	}
	for _, want := range []string{"status socket " + sockB, "tunnel udp 192.0.2.2:1701 -> 192.0.2.1:1701",
		"session 7, peer session 8, interface " + dev + ", mtu ", "\n    RX packets ", "\n    TX packets "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("l2tap show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "RX packets 0 ") {
		t.Errorf("side b received nothing:\n%s", out)
	}
	all, err := exec.Command(l2tapBinary(t), "show").CombinedOutput()
	if err != nil {
		t.Logf("l2tap show (all): %v", err) // others' sockets may fail; ours must be there
	}
	for _, p := range []string{sockA, sockB} {
		if !strings.Contains(string(all), "status socket "+p+"\n") {
			t.Errorf("l2tap show lacks %s:\n%s", p, all)
		}
	}

	// Metrics, fetched from inside namespace a by this test binary.
	file := filepath.Join(t.TempDir(), "metrics")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := a.cmd(exe, "-test.run", "^TestMetricsHelper$", "-test.count=1")
	helper.Env = append(os.Environ(), "L2TAP_METRICS_URL=http://127.0.0.1:9723/metrics", "L2TAP_METRICS_OUT="+file)
	if out, err := helper.CombinedOutput(); err != nil {
		t.Fatalf("metrics helper: %v\n%s", err, out)
	}
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("metrics: %v\n%s", err, body)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		f := fams[name]
	next:
		for _, m := range f.GetMetric() {
			if len(m.Label) != len(labels) {
				continue
			}
			for _, l := range m.Label {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if f.GetType() == dto.MetricType_COUNTER {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
		return 0, false
	}
	sl := map[string]string{"tunnel": tun.Name, "session": "8", "tap": dev}
	if v, ok := value("l2tap_rx_packets_total", sl); !ok || v < float64(rx) {
		t.Errorf("l2tap_rx_packets_total%v = %v (present %v), want at least %d\n%s", sl, v, ok, rx, body)
	}
	if v, ok := value("l2tap_session_mtu", sl); !ok || v != float64(ss.MTU) {
		t.Errorf("l2tap_session_mtu = %v (present %v), want %d", v, ok, ss.MTU)
	}
	if _, ok := value("l2tap_tunnel_rx_wrong_source_total", map[string]string{"tunnel": tun.Name}); !ok {
		t.Errorf("no tunnel counter l2tap_tunnel_rx_wrong_source_total:\n%s", body)
	}

	// SIGUSR1 still prints the counters.
	pa.cmd.Process.Signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(pa.stdout.String(), "rx_packets "); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no counters on SIGUSR1:\n%s", pa.stderr.String())
		}
	}

	// A clean stop under the filter, and the socket gone.
	for _, side := range []struct {
		p    *proc
		sock string
	}{{pa, sockA}, {pb, sockB}} {
		if c := side.p.stop(t); c["rx_packets"] == 0 {
			t.Errorf("counters on exit: %v", c)
		}
		if _, err := os.Lstat(side.sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after exit: %v, want it removed", side.sock, err)
		}
	}
}

// TestMetricsHelper is run by TestShowAndMetrics inside a namespace: it
// fetches L2TAP_METRICS_URL into the file L2TAP_METRICS_OUT.
func TestMetricsHelper(t *testing.T) {
	url := os.Getenv("L2TAP_METRICS_URL")
	if url == "" {
		t.Skip("helper process for TestShowAndMetrics")
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v\n%s", url, resp.Status, err, body)
	}
	if err := os.WriteFile(os.Getenv("L2TAP_METRICS_OUT"), body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestControlSocket checks how the status socket is made: a socket left
// by a killed l2tap is taken over; one another l2tap answers on is an
// error with -control and a note without; -user owns it; -control off
// makes none; -metrics on a port in use is an error naming it.
func TestControlSocket(t *testing.T) {
	requireTools(t, true, "ip")
	a, _ := vethPair(t, "cs")
	args := func(dev string, extra ...string) []string {
		return append([]string{"-ifname", dev, "-src", "192.0.2.1", "-dst", "192.0.2.2", "-txsession", "1"}, extra...)
	}
	// A directory the account l2tap runs as can write: it removes its
	// socket at exit.
	dir := accountDir(t)

	t.Run("stale-and-in-use", func(t *testing.T) {
		path := filepath.Join(dir, "x.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		p := startL2tap(t, a, args("cs0", "-control", path)...)
		if s := showJSON(t, "-socket", path); len(s) != 1 || s[0].PID != p.cmd.Process.Pid {
			t.Errorf("stale socket not taken over: %+v", s)
		}
		runBad(t, a, args("cs1", "-control", path), "-control "+path, "in use by another running l2tap")
		if _, err := a.cmd("ip", "link", "show", "cs1").CombinedOutput(); err == nil {
			t.Error("TAP cs1 left behind")
		}
		p.stop(t)
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket after exit: %v", err)
		}
	})

	t.Run("default-in-use", func(t *testing.T) {
		// Two TAPs of one name cannot share a namespace, so make the
		// default path of cs2 busy with another l2tap's -control.
		busy := controlPath(a, "cs2")
		p1 := startL2tap(t, a, args("cs3", "-control", busy)...)
		p2 := startL2tap(t, a, args("cs2")...)
		if !strings.Contains(p2.stderr.String(), "running without a status socket socket="+busy+" err=\"in use by another running l2tap\"") {
			t.Errorf("no note about the busy default socket:\n%s", p2.stderr.String())
		}
		if s := showJSON(t, "-socket", busy); len(s) != 1 || s[0].PID != p1.cmd.Process.Pid {
			t.Errorf("the first l2tap lost its socket: %+v", s)
		}
		p2.stop(t)
		p1.stop(t)
	})

	t.Run("user", func(t *testing.T) {
		path := filepath.Join(dir, "u.sock")
		p := startL2tap(t, a, args("cs4", "-control", path, "-user", "nobody")...)
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode().Perm() != 0o600 {
			t.Errorf("socket uid %d mode %v, want nobody's, 0600", st.Uid, fi.Mode())
		}
		if s := showJSON(t, "-socket", path); len(s) != 1 || s[0].Tunnels[0].Sessions[0].TAP != "cs4" {
			t.Errorf("show -user: %+v", s)
		}
		p.stop(t)
	})

	t.Run("user-default", func(t *testing.T) {
		path := filepath.Join(defaultControlDir, "uid-65534", "cs8@"+string(a)+".sock")
		p := startL2tap(t, a, args("cs8", "-user", "nobody")...)
		for _, f := range []string{path, filepath.Dir(path)} {
			fi, err := os.Lstat(f)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 {
				t.Errorf("%s: uid %d, want nobody's", f, st.Uid)
			}
		}
		out, _ := exec.Command(l2tapBinary(t), "show").CombinedOutput()
		if !strings.Contains(string(out), "status socket "+path+"\n") {
			t.Errorf("l2tap show does not list %s:\n%s", path, out)
		}
		p.stop(t)
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after exit: %v, want it removed", path, err)
		}
	})

	t.Run("off", func(t *testing.T) {
		p := startL2tap(t, a, args("cs5", "-control", "off")...)
		if _, err := os.Lstat(controlPath(a, "cs5")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("-control off made a socket: %v", err)
		}
		p.stop(t)
	})

	t.Run("metrics-in-use", func(t *testing.T) {
		p := startL2tap(t, a, args("cs6", "-control", "off", "-metrics", "127.0.0.1:9724")...)
		runBad(t, a, args("cs7", "-control", "off", "-metrics", "127.0.0.1:9724"), "-metrics 127.0.0.1:9724", "already in use")
		if _, err := a.cmd("ip", "link", "show", "cs7").CombinedOutput(); err == nil {
			t.Error("TAP cs7 left behind")
		}
		p.stop(t)
	})
}
