// Package status is how a running l2tap is observed from outside: the
// Snapshot of its tunnels, sessions and counters; a status server on a
// unix socket that answers `l2tap show` with one (Serve, Query); the
// socket's file (socket.go: its default path by TAP, network namespace
// and account, DefaultPath; its directory, owner and mode, and what is
// done with a file found at its path, Listen); the text that `l2tap show`
// prints (WriteText); and a Prometheus collector with its HTTP endpoint
// (NewCollector, ServeMetrics).
//
// Nothing here touches the data path. The process hands Serve and
// NewCollector a function that builds a Snapshot from its counters, and it
// is called only when a client asks (one `show`, one scrape); between
// requests this package costs nothing.
package status

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Snapshot is the state of one l2tap process at one moment.
type Snapshot struct {
	// PID is the process's ID, filled in by the process.
	PID int `json:"pid"`
	// Socket is the status socket the snapshot was read from. Query
	// sets it; the server leaves it empty.
	Socket  string   `json:"socket,omitempty"`
	Tunnels []Tunnel `json:"tunnels"`
}

// Tunnel is one underlay socket's two ends and the sessions it carries.
type Tunnel struct {
	// Name identifies the tunnel within the process, stably for as long as
	// the tunnel exists: it labels the tunnel's metrics. The command line's
	// tunnel is named after its encapsulation and ends, such as
	// "udp 192.0.2.1:1701 -> 192.0.2.2:1701" or "ip 2001:db8::1 -> 2001:db8::2".
	Name string `json:"name"`
	// Encap is "udp" or "ip".
	Encap string `json:"encap"`
	// Local and Remote are the underlay ends: an address, with ":port"
	// for UDP (IPv6 addresses in brackets then).
	Local  string `json:"local"`
	Remote string `json:"remote"`
	// Counters count what belongs to no session: packets from a stranger
	// (rx_wrong_source), packets that do not parse (rx_invalid), for a
	// session the tunnel does not carry (rx_session_mismatch), control
	// messages (rx_control). A name used here is never used by a session
	// counter of the same process, so that each metric has one label set.
	Counters Counters  `json:"counters"`
	Sessions []Session `json:"sessions"`
	// Peer is the state of the peer as the tunnel's control channel
	// (keepalive) sees it: "up", "down", or empty without one.
	// DownSince is when it went down (RFC 3339, UTC), while it is.
	Peer      string `json:"peer,omitempty"`
	DownSince string `json:"down_since,omitempty"`
	// Connection is the state of a dynamic tunnel's control connection
	// and its IDs (ours, the peer's), such as "established, connection
	// 1234, peer's 5678"; empty for a static tunnel. Circuits are its
	// circuits, negotiated or not; the sessions up are in Sessions too.
	Connection string    `json:"connection,omitempty"`
	Circuits   []Circuit `json:"circuits,omitempty"`
}

// Circuit is one circuit of a dynamic tunnel.
type Circuit struct {
	Name  string `json:"name"`
	TAP   string `json:"tap"`
	State string `json:"state"` // negotiating, up, or "down: REASON"
	// TxSession and RxSession are the negotiated session IDs while up.
	TxSession uint32 `json:"tx_session,omitempty"`
	RxSession uint32 `json:"rx_session,omitempty"`
}

// Session is one pseudowire: its IDs, its TAP and its counters.
type Session struct {
	// TxSession is the ID sent to the peer; RxSession the one expected
	// from it, unique within the tunnel (it labels the metrics).
	TxSession uint32 `json:"tx_session"`
	RxSession uint32 `json:"rx_session"`
	// TAP is the TAP device's name, MTU its MTU.
	TAP string `json:"tap"`
	MTU int    `json:"mtu"`
	// Counters are the session's counters in a fixed order: rx_packets,
	// rx_bytes, rx_errors, tx_packets, tx_bytes, tx_errors first where
	// the session has them, as `l2tap show` prints those first.
	Counters Counters `json:"counters"`
}

// Counter is one named counter value. Names are lowercase with
// underscores (rx_packets); values only grow while the process runs.
type Counter struct {
	Name  string
	Value uint64
}

// Counters is a list of counters with distinct names. In JSON it is one
// object, {"rx_packets": 12, ...}, in the list's order.
type Counters []Counter

// Get returns the value of the counter called name, and whether there is one.
func (cs Counters) Get(name string) (uint64, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c.Value, true
		}
	}
	return 0, false
}

// MarshalJSON writes the counters as one JSON object, keeping their order.
func (cs Counters) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(c.Name)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		fmt.Fprintf(&b, ":%d", c.Value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of counters, keeping the order of its
// keys. null leaves the list empty.
func (cs *Counters) UnmarshalJSON(data []byte) error {
	*cs = nil
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("counters: want a JSON object, got %v", tok)
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var v uint64
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("counter %q: %w", name, err)
		}
		*cs = append(*cs, Counter{name, v})
	}
	_, err = d.Token()
	return err
}
