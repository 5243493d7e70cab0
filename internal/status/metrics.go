package status

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath is where the metrics server answers.
const MetricsPath = "/metrics"

// Collector is a prometheus.Collector that takes a Snapshot on each
// scrape and reports every counter in it as a counter metric
// l2tap_<name>_total: a session's with the labels tunnel (the tunnel's
// Name), session (the session's RxSession, in decimal) and tap, a
// tunnel's own with the label tunnel alone. Each session's MTU is the
// gauge l2tap_session_mtu with the session's labels, and a tunnel with a
// control channel has the gauge l2tap_tunnel_peer_up.
//
// Counter names come and go with the snapshot, so the collector describes
// no metric in advance (an unchecked collector). A tunnel counter whose
// name a session counter also uses is reported as an error for that
// metric rather than with two label sets under one name.
type Collector struct {
	snap func() Snapshot
	mu   sync.Mutex
	desc map[string]*prometheus.Desc // by metric name
}

var (
	sessionLabels = []string{"tunnel", "session", "tap"}
	tunnelLabels  = []string{"tunnel"}
)

// NewCollector returns a Collector that calls snap on each scrape.
func NewCollector(snap func() Snapshot) *Collector {
	return &Collector{snap: snap, desc: map[string]*prometheus.Desc{}}
}

// Describe sends nothing: see Collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect takes one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	sessionNames := map[string]bool{}
	for _, t := range s.Tunnels {
		for _, ss := range t.Sessions {
			for _, k := range ss.Counters {
				sessionNames[MetricName(k.Name)] = true
			}
		}
	}
	mtu := c.get("l2tap_session_mtu", "MTU of the session's TAP.", sessionLabels)
	peerUp := c.get("l2tap_tunnel_peer_up", "1 while the tunnel's control channel sees its peer up, 0 while down; absent without a control channel.", tunnelLabels)
	for _, t := range s.Tunnels {
		if t.Peer != "" {
			up := 0.0
			if t.Peer == "up" {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(peerUp, prometheus.GaugeValue, up, t.Name)
		}
		for _, k := range t.Counters {
			name := MetricName(k.Name)
			d := c.get(name, "l2tap tunnel counter "+k.Name+" (see l2tap show).", tunnelLabels)
			if sessionNames[name] {
				ch <- prometheus.NewInvalidMetric(d, fmt.Errorf("tunnel %q: counter %s is also a session counter", t.Name, k.Name))
				continue
			}
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(k.Value), t.Name)
		}
		for _, ss := range t.Sessions {
			id := strconv.FormatUint(uint64(ss.RxSession), 10)
			ch <- prometheus.MustNewConstMetric(mtu, prometheus.GaugeValue, float64(ss.MTU), t.Name, id, ss.TAP)
			for _, k := range ss.Counters {
				d := c.get(MetricName(k.Name), "l2tap session counter "+k.Name+" (see l2tap show).", sessionLabels)
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(k.Value), t.Name, id, ss.TAP)
			}
		}
	}
}

// get returns the description of metric name, made once.
func (c *Collector) get(name, help string, labels []string) *prometheus.Desc {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := name + "\x00" + strings.Join(labels, ",")
	d, ok := c.desc[key]
	if !ok {
		d = prometheus.NewDesc(name, help, labels, nil)
		c.desc[key] = d
	}
	return d
}

// MetricName is the metric that counter name becomes: l2tap_<name>_total,
// with any character a metric name cannot hold replaced by '_'.
func MetricName(name string) string {
	var b strings.Builder
	b.WriteString("l2tap_")
	for _, r := range name {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteString("_total")
	return b.String()
}

// NewMetricsServer returns an HTTP server whose MetricsPath answers with
// the Prometheus text of a Collector over snap; other paths are 404. Run
// it with Serve on a listener and stop it with Close.
func NewMetricsServer(snap func() Snapshot) *http.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(snap))
	mux := http.NewServeMux()
	mux.Handle(MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: IOTimeout,
		ReadTimeout:       IOTimeout,
		WriteTimeout:      IOTimeout,
		IdleTimeout:       time.Minute,
	}
}
