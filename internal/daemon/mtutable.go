package daemon

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/l2tap/l2tap/internal/config"
)

// The table of automatic MTUs the manual page and docs/configuration.md
// show: for each encapsulation, a command line checked by internal/config
// (so its Header and TunnelEnds are the ones a running l2tap would have)
// and the TAP MTU AutoMTU gives it. The command line renders the table
// (frame.go); its test checks each figure against the bytes l2tpv3's
// encoder writes.

// mtuEncap is one underlay of the MTU table: the flags that select it.
type mtuEncap struct {
	name  string   // as the tables print it, such as "UDP/IPv4"
	flags []string // the underlay's flags, addresses included
}

// mtuEncaps are the table's underlays, in its order.
var mtuEncaps = []mtuEncap{
	{"UDP/IPv4", []string{"-udp", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-srcport", "1701", "-dstport", "1701"}},
	{"IP/IPv4", []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}},
	{"UDP/IPv6", []string{"-udp", "-ipv6", "-src", "2001:db8::1", "-dst", "2001:db8::2", "-srcport", "1701", "-dstport", "1701"}},
	{"IP/IPv6", []string{"-ipv6", "-src", "2001:db8::1", "-dst", "2001:db8::2"}},
}

// mtuSublayers are the table's rows per underlay: none, then -counter
// (-pincounter's word has the same length).
var mtuSublayers = []struct {
	label string
	flags []string
}{
	{", no sublayer", nil},
	{" + sublayer", []string{"-counter"}},
}

// mtuCookies are the table's columns: no cookie, 32-bit and 64-bit
// cookies both ways.
var mtuCookies = []struct {
	title string
	flags []string
}{
	{"no cookie", nil},
	{"32-bit cookie", []string{"-txcookie", "0x11223344", "-rxcookie", "0x55667788"}},
	{"64-bit cookie", []string{"-txcookie", "0x11223344", "-rxcookie", "0x55667788", "-cookie64"}},
}

// MTUCell is one figure of the MTU table and what it was computed from.
type MTUCell struct {
	Column  string   // the column's title, such as "32-bit cookie"
	Args    []string // the command line of the session, as l2tap takes it
	Ends    config.TunnelEnds
	Session config.SessionConfig // its Header is the one AutoMTU was given
	MTU     int                  // AutoMTU on the table's path MTU
}

// MTURow is one encapsulation with and without cookies.
type MTURow struct {
	Name  string // "UDP/IPv4, no sublayer", "IP/IPv6 + sublayer", ...
	Cells []MTUCell
}

// MTUTable computes the TAP MTU l2tap sets without -mtu on a path of
// pmtu bytes, for every underlay, sublayer and cookie length of the
// tables: each cell's command line is checked by internal/config as
// l2tap's own, and its MTU is what AutoMTU makes of the result.
// The command lines are Linux's: elsewhere internal/config refuses IP
// encapsulation and -mac, and the error says so. (-mac random spares the
// check a read of /etc/machine-id, which has no bearing on the MTU.)
func MTUTable(pmtu int) ([]MTURow, error) {
	var rows []MTURow
	for _, e := range mtuEncaps {
		for _, s := range mtuSublayers {
			row := MTURow{Name: e.name + s.label}
			for _, c := range mtuCookies {
				args := append(append(append([]string{"-txsession", "1", "-mac", "random"}, e.flags...), s.flags...), c.flags...)
				cell, err := mtuCellOf(pmtu, args)
				if err != nil {
					return nil, fmt.Errorf("MTU table, %s, %s: %w", row.Name, c.title, err)
				}
				cell.Column = c.title
				row.Cells = append(row.Cells, cell)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// mtuCellOf checks the session args describe (through the flag table,
// as the command line does) and computes its automatic MTU.
func mtuCellOf(pmtu int, args []string) (MTUCell, error) {
	var o config.Options
	fs := flag.NewFlagSet("l2tap", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range config.Flags(&o) {
		if err := f.Apply(fs); err != nil {
			return MTUCell{}, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return MTUCell{}, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	c, err := o.Config()
	if err != nil {
		return MTUCell{}, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	t := c.Tunnels[0]
	cell := MTUCell{Args: args, Ends: t.Ends, Session: t.Sessions[0]}
	if cell.MTU, err = AutoMTU(pmtu, cell.Ends, &cell.Session.Header); err != nil {
		return MTUCell{}, err
	}
	return cell, nil
}

// TableMSSClamp is what -mss-clamp's default makes of a TAP of MTU 1500
// on the first cell of rows (UDP/IPv4, no sublayer, no cookie): the
// clamped MSS for IPv4 and IPv6 as the ready line shows it ("1410/1390"
// on a 1500-byte path).
func TableMSSClamp(rows []MTURow) string {
	c := rows[0].Cells[0]
	return mssClampString(c.Session.MSSClamp.Resolve(c.MTU, 1500))
}
