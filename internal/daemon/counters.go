package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/l2tpv3"
	"github.com/l2tap/l2tap/internal/status"
)

// bytes returns the frame bytes sent and received by every session,
// those removed too.
func (p *process) bytes() (tx, rx uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tx, rx = p.retiredTx, p.retiredRx
	for _, s := range p.started {
		tx += s.Stats.TxBytes.Load()
		rx += s.Stats.RxBytes.Load()
	}
	return tx, rx
}

// ProcsRaised names the counter of the times the governor gave l2tap a
// second Go processor.
const ProcsRaised = "procs_raised"

// CounterNames returns the name of every counter l2tap prints, in the
// order it prints them.
func CounterNames() []string {
	var names []string
	seen := map[string]bool{}
	add := func(c []engine.Counter) {
		for _, x := range c {
			if !seen[x.Name] {
				seen[x.Name] = true
				names = append(names, x.Name)
			}
		}
	}
	add((&engine.Stats{}).Counters(0, 0))
	add((&engine.TunnelStats{}).Counters())
	add((&process{}).controlCounters(nil))
	for _, name := range vhostCounterNames {
		add([]engine.Counter{{Name: name}})
	}
	add([]engine.Counter{{Name: ProcsRaised}})
	return names
}

// totals returns every counter summed over sessions (those removed too)
// and tunnels.
func (p *process) totals() []engine.Counter {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := engine.Sum(nil, p.retired)
	for _, s := range p.started {
		c = engine.Sum(c, sessionCountersOf(s, false))
	}
	for _, t := range p.eng.Tunnels() {
		c = engine.Sum(c, p.tunnelCounters(t, false))
	}
	var raised uint64
	if p.gov != nil {
		raised = p.gov.Raised.Load()
	}
	return append(c, engine.Counter{Name: ProcsRaised, Value: raised})
}

// writeCounters prints the totals as "name value" lines and, with more than
// one session, a line per session with its own. With -log-format json it
// prints one JSON object instead (see countersJSON).
func (p *process) writeCounters(w io.Writer) {
	if p.json {
		b, err := json.Marshal(p.countersJSON())
		if err != nil {
			slog.Error("counters not encoded", "err", err)
			return
		}
		w.Write(append(b, '\n'))
		return
	}
	engine.WriteCounters(w, p.totals())
	sessions := p.eng.Sessions()
	if len(sessions) < 2 {
		return
	}
	for _, s := range sessions {
		h := s.Header()
		var b strings.Builder
		fmt.Fprintf(&b, "session %s %d/%d:", s.Endpoint().Name(), h.TxSession, h.RxSession)
		for _, c := range sessionCountersOf(s, false) {
			fmt.Fprintf(&b, " %s=%d", c.Name, c.Value)
		}
		fmt.Fprintln(w, b.String())
	}
}

// countersDump is the counters as one JSON object: the totals under
// "counters" (the text lines' names and values, in their order) and, with
// more than one session, "sessions", each with its TAP, session IDs
// (TX/RX), tunnel, packets sent and received, and all its counters.
type countersDump struct {
	Counters status.Counters `json:"counters"`
	Sessions []sessionDump   `json:"sessions,omitempty"`
}

type sessionDump struct {
	TAP      string          `json:"tap"`
	Session  string          `json:"session"`
	Tunnel   string          `json:"tunnel"`
	Tx       uint64          `json:"tx"`
	Rx       uint64          `json:"rx"`
	Counters status.Counters `json:"counters"`
}

func (p *process) countersJSON() countersDump {
	var d countersDump
	for _, c := range p.totals() {
		d.Counters = append(d.Counters, status.Counter(c))
	}
	sessions := p.eng.Sessions()
	if len(sessions) < 2 {
		return d
	}
	for _, s := range sessions {
		h := s.Header()
		sd := sessionDump{
			TAP:     s.Endpoint().Name(),
			Session: fmt.Sprintf("%d/%d", h.TxSession, h.RxSession),
			Tunnel:  p.peerName(s.Tunnel()),
			Tx:      s.Stats.TxPackets.Load(),
			Rx:      s.Stats.RxPackets.Load(),
		}
		for _, c := range sessionCountersOf(s, false) {
			sd.Counters = append(sd.Counters, status.Counter(c))
		}
		d.Sessions = append(d.Sessions, sd)
	}
	return d
}

// CounterDocs explains every counter l2tap prints, for the manual page:
// its generator fails on a counter missing here or an entry no longer
// printed (see CounterNames), so the page follows the code.
var CounterDocs = map[string]string{
	"rx_packets":               "frames written to the TAP",
	"rx_bytes":                 "bytes of those frames (Ethernet header included)",
	"rx_errors":                "received packets dropped, every reason below together",
	"tx_packets":               "frames sent to the peer",
	"tx_bytes":                 "bytes of those frames",
	"tx_errors":                "frames the kernel refused to send (never fatal)",
	"tx_transient_errors":      "send errors that come and go (ENOBUFS, ECONNREFUSED from an ICMP error, no route while a route is down)",
	"tap_write_errors":         "frames the TAP refused",
	"tx_superframes":           "offloaded TAP reads (up to 64 KiB) cut into frames of the MTU before sending",
	"tx_offload_errors":        "offloaded TAP reads dropped because their virtio-net header did not fit the frame",
	"rx_coalesced":             "received frames merged into an earlier TAP write (software GRO)",
	"rx_oos_packets":           "sequence numbers that arrived late (frames still forwarded without -seqcheck)",
	"rx_lost_packets":          "sequence numbers never seen (gaps)",
	"rx_seq_resyncs":           "times the peer's numbering was adopted anew, as after the peer restarted",
	"rx_sublayer_reserved":     "packets accepted with reserved sublayer bits set, as Linux accepts them (a peer sending no sublayer while one is expected, or QEMU's counter after 2^24 frames)",
	"rx_invalid":               "too short, or not an L2TPv3 data packet",
	"rx_control":               "control messages: a static pseudowire has none",
	"rx_session_mismatch":      "session ID other than -rxsession",
	"rx_cookie_discards":       "cookie other than -rxcookie, or of another length",
	"rx_seq_discards":          "out-of-order packets dropped under -seqcheck",
	"rx_truncated":             "datagrams larger than the 65535-byte receive buffer",
	"rx_wrong_source":          "packets not from -dst (and -dstport with -udp)",
	"tx_peer_down":             "frames read while the control channel saw the peer down, dropped (a TAP's carrier is off then, so few come)",
	"tx_mss_clamped":           "TCP SYNs and SYN-ACKs read from the TAP whose MSS option was lowered before sending (-mss-clamp)",
	"rx_mss_clamped":           "TCP SYNs and SYN-ACKs received whose MSS option was lowered before the TAP write (-mss-clamp)",
	"control_rx":               "control messages from the peer handed to the tunnel's control channel (-hello)",
	"control_tx":               "control messages sent (HELLOs, their retransmissions, acknowledgements)",
	"control_tx_errors":        "control messages the kernel refused to send",
	"control_hellos_sent":      "HELLOs sent (-hello), retransmissions not counted",
	"control_hellos_acked":     "HELLOs the peer acknowledged",
	"control_hellos_received":  "HELLOs received from the peer (and acknowledged)",
	"control_retransmits":      "control messages sent again for want of an acknowledgement (after 1 s doubling to 8 s; a keepalive's HELLO after min(1 s, hello) doubling up to hello)",
	"control_acks_sent":        "acknowledgements sent alone: ZLB messages, or explicit ACK messages to a peer that sends those",
	"control_acks_received":    "ZLB and explicit ACK messages received",
	"control_duplicates":       "control messages received again (acknowledged again)",
	"control_out_of_order":     "control messages received ahead of a gap (held if within the window of 4)",
	"control_rx_invalid":       "control messages that did not parse or carried another control connection ID than -rxtunnel",
	"control_rx_ignored":       "control messages other than HELLO received on a static tunnel, acknowledged and ignored",
	"control_peer_restarts":    "times the peer restarted its control channel (Ns and Nr back at 0) and was followed",
	"control_peer_down":        "times the peer was declared down: nothing heard through -hello-retries transmissions of a HELLO",
	"socket_bad_frames":        "frames a VM sent on its -socket with a length of 0 or above 65535 (a stream client is then disconnected and waited for again)",
	"socket_refused":           "datagrams from a second VM on a -socket-type dgram socket while the first one lives (one VM per socket)",
	"vhost_frontends":          "vhost-user sessions (-vhost-user): frontends served (each QEMU or DPDK connection, a restarted one counted again)",
	"vhost_frontends_refused":  "vhost-user servers: frontends that connected while another was served, disconnected at once (logged) so that they fail instead of waiting",
	"vhost_frontend_errors":    "vhost-user sessions: frontend connections ended for a bad message, descriptor, address, length or index (the frontend is then waited for again)",
	"vhost_no_buffers":         "vhost-user sessions: frames for the guest dropped because it had posted too few receive buffers, as a full TAP queue drops them (counted in tap_write_errors too)",
	"vhost_no_frontend":        "vhost-user sessions: frames for the guest dropped while no frontend had a running receive queue (counted in tap_write_errors too)",
	"control_connections":      "dynamic tunnels (-circuit): times the control connection with the peer was established",
	"control_sessions_up":      "dynamic tunnels: sessions negotiated and added (the TAP's carrier on)",
	"control_sessions_down":    "dynamic tunnels: sessions ended (CDN, StopCCN, the peer silent through every retransmission; the TAP's carrier off)",
	"control_sessions_refused": "dynamic tunnels: the peer's session requests answered with a CDN (a circuit we do not have, another pseudowire type or sublayer)",
	"control_auth_failed":      "dynamic tunnels: control messages dropped for a wrong or missing message digest, or one of the other algorithm (-secret-file, -digest)",
	"control_strangers":        "dynamic tunnels: control messages dropped before any state: not an SCCRQ from the configured peer (-peer-hostname)",
	"control_not_ours":         "dynamic tunnels: control messages dropped for a control connection we do not have, or other than an acknowledgement for one that ended",
	"control_rate_limited":     "dynamic tunnels: SCCRQs dropped beyond the rate of 3 at once, then 1 a second (replayed or forged requests cost no more than that)",
	ProcsRaised:                "times both directions carried bulk traffic and l2tap spread its loops over two CPUs (not a drop)",
}

// statusEvery is how often the STATUS= summary is checked and, when it
// changed, sent again.
const statusEvery = 10 * time.Second

// statusLine summarises the process for systemctl status: "N sessions,
// rx X pkts, tx Y pkts, drops Z", the sessions running and the totals
// (drops: every received packet dropped with a reason).
func (p *process) statusLine() string {
	p.mu.Lock()
	n := 0
	for _, l := range p.live {
		if !l.failed {
			n++
		}
	}
	p.mu.Unlock()
	drop := map[string]bool{}
	for _, name := range l2tpv3.DropCounters() {
		drop[name] = true
	}
	var rx, tx, drops uint64
	for _, c := range p.totals() {
		switch {
		case c.Name == "rx_packets":
			rx = c.Value
		case c.Name == "tx_packets":
			tx = c.Value
		case drop[c.Name]:
			drops += c.Value
		}
	}
	return fmt.Sprintf("%d sessions, rx %d pkts, tx %d pkts, drops %d", n, rx, tx, drops)
}
