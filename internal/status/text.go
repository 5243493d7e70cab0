package status

import (
	"fmt"
	"io"
	"strings"
)

// perLine is how many "name value" pairs WriteText puts on one line.
const perLine = 4

// WriteText prints s for people, in the manner of `ip -s l2tp show
// session`: a line for the process, then per tunnel a header and its own
// counters, and per session its IDs, TAP, MTU and counters, the packet
// totals first:
//
//	l2tap pid 1234, status socket /run/l2tap/vm0.sock
//	tunnel udp 192.0.2.1:1701 -> 192.0.2.2:1701
//	  from 192.0.2.1:1701 to 192.0.2.2:1701, encap udp
//	  rx_wrong_source 0  rx_invalid 0  rx_session_mismatch 0  rx_control 0
//	  session 20, peer session 10, interface vm0, mtu 1430
//	    RX packets 12 bytes 1008 errors 0
//	    TX packets 12 bytes 1008 errors 0
//	    tx_transient_errors 0  tap_write_errors 0  ...
func WriteText(w io.Writer, s Snapshot) error {
	var b strings.Builder
	fmt.Fprintf(&b, "l2tap pid %d", s.PID)
	if s.Socket != "" {
		fmt.Fprintf(&b, ", status socket %s", s.Socket)
	}
	b.WriteByte('\n')
	if len(s.Tunnels) == 0 {
		b.WriteString("  no tunnels\n")
	}
	for _, t := range s.Tunnels {
		fmt.Fprintf(&b, "tunnel %s\n", t.Name)
		fmt.Fprintf(&b, "  from %s to %s, encap %s\n", t.Local, t.Remote, t.Encap)
		switch {
		case t.Peer == "down":
			fmt.Fprintf(&b, "  control channel: peer down since %s\n", t.DownSince)
		case t.Peer != "":
			fmt.Fprintf(&b, "  control channel: peer %s\n", t.Peer)
		}
		if t.Connection != "" {
			fmt.Fprintf(&b, "  control connection: %s\n", t.Connection)
		}
		for _, c := range t.Circuits {
			fmt.Fprintf(&b, "  circuit %s, interface %s: %s", c.Name, c.TAP, c.State)
			if c.RxSession != 0 {
				fmt.Fprintf(&b, ", session %d, peer session %d", c.RxSession, c.TxSession)
			}
			b.WriteByte('\n')
		}
		writeCounters(&b, "  ", t.Counters, nil)
		for _, ss := range t.Sessions {
			fmt.Fprintf(&b, "  session %d, peer session %d, interface %s, mtu %d\n", ss.RxSession, ss.TxSession, ss.TAP, ss.MTU)
			shown := map[string]bool{}
			for _, dir := range []string{"rx", "tx"} {
				var parts []string
				for _, what := range []string{"packets", "bytes", "errors"} {
					name := dir + "_" + what
					if v, ok := ss.Counters.Get(name); ok {
						parts = append(parts, fmt.Sprintf("%s %d", what, v))
						shown[name] = true
					}
				}
				if len(parts) > 0 {
					fmt.Fprintf(&b, "    %s %s\n", strings.ToUpper(dir), strings.Join(parts, " "))
				}
			}
			writeCounters(&b, "    ", ss.Counters, shown)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCounters prints the counters not in skip, perLine to a line.
func writeCounters(b *strings.Builder, indent string, cs Counters, skip map[string]bool) {
	n := 0
	for _, c := range cs {
		if skip[c.Name] {
			continue
		}
		if n%perLine == 0 {
			if n > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(indent)
		} else {
			b.WriteString("  ")
		}
		fmt.Fprintf(b, "%s %d", c.Name, c.Value)
		n++
	}
	if n > 0 {
		b.WriteByte('\n')
	}
}
