package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
)

// The frame a pseudowire carries, as the command line speaks of it: how
// large a frame each encapsulation leaves room for. The manual page's MTU
// section and the table of docs/configuration.md ("MTU and MSS clamping")
// are rendered here from the code the daemon runs: every encapsulation is
// a command line checked by internal/config (so its Header and TunnelEnds
// are the ones a running l2tap would have), and its TAP MTU is
// daemon.AutoMTU on a path of docPathMTU bytes. frame_test.go checks each
// figure against the bytes l2tpv3's encoder writes, and the docs' table
// against this one.

// docPathMTU is the underlay MTU the documented figures assume.
const docPathMTU = 1500

// frameEncap is one underlay of the MTU table: the flags that select it.
type frameEncap struct {
	name  string   // as the tables print it, such as "UDP/IPv4"
	flags []string // the underlay's flags, addresses included
}

// frameEncaps are the table's underlays, in its order.
var frameEncaps = []frameEncap{
	{"UDP/IPv4", []string{"-udp", "-src", "192.0.2.1", "-dst", "192.0.2.2", "-srcport", "1701", "-dstport", "1701"}},
	{"IP/IPv4", []string{"-src", "192.0.2.1", "-dst", "192.0.2.2"}},
	{"UDP/IPv6", []string{"-udp", "-ipv6", "-src", "2001:db8::1", "-dst", "2001:db8::2", "-srcport", "1701", "-dstport", "1701"}},
	{"IP/IPv6", []string{"-ipv6", "-src", "2001:db8::1", "-dst", "2001:db8::2"}},
}

// frameSublayers are the table's rows per underlay: none, then -counter
// (-pincounter's word has the same length).
var frameSublayers = []struct {
	label string
	flags []string
}{
	{", no sublayer", nil},
	{" + sublayer", []string{"-counter"}},
}

// frameCookies are the table's columns: no cookie, 32-bit and 64-bit
// cookies both ways.
var frameCookies = []struct {
	title string
	flags []string
}{
	{"no cookie", nil},
	{"32-bit cookie", []string{"-txcookie", "0x11223344", "-rxcookie", "0x55667788"}},
	{"64-bit cookie", []string{"-txcookie", "0x11223344", "-rxcookie", "0x55667788", "-cookie64"}},
}

// frameCell is one figure of the MTU table and what it was computed from.
type frameCell struct {
	Args    []string // the command line of the session, as l2tap takes it
	Ends    config.TunnelEnds
	Session config.SessionConfig // its Header is the one AutoMTU was given
	MTU     int                  // daemon.AutoMTU on a docPathMTU-byte path
}

// frameRow is one encapsulation with and without cookies.
type frameRow struct {
	Name  string // "UDP/IPv4, no sublayer", "IP/IPv6 + sublayer", ...
	Cells []frameCell
}

// frameMTUTable computes the TAP MTU l2tap sets without -mtu on a path of
// pmtu bytes, for every underlay, sublayer and cookie length of the
// tables: each cell's command line is checked by internal/config as
// l2tap's own, and its MTU is what daemon.AutoMTU makes of the result.
// The command lines are Linux's: elsewhere internal/config refuses IP
// encapsulation and -mac, and the error says so. (-mac random spares the
// check a read of /etc/machine-id, which has no bearing on the MTU.)
func frameMTUTable(pmtu int) ([]frameRow, error) {
	var rows []frameRow
	for _, e := range frameEncaps {
		for _, s := range frameSublayers {
			row := frameRow{Name: e.name + s.label}
			for _, c := range frameCookies {
				args := append(append(append([]string{"-txsession", "1", "-mac", "random"}, e.flags...), s.flags...), c.flags...)
				cell, err := frameCellOf(pmtu, args)
				if err != nil {
					return nil, fmt.Errorf("MTU table, %s, %s: %w", row.Name, c.title, err)
				}
				row.Cells = append(row.Cells, cell)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// frameCellOf checks the session args describe (through the flag table,
// as the command line does) and computes its automatic MTU.
func frameCellOf(pmtu int, args []string) (frameCell, error) {
	var o config.Options
	fs := flag.NewFlagSet("l2tap", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range config.Flags(&o) {
		if err := f.Apply(fs); err != nil {
			return frameCell{}, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return frameCell{}, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	c, err := o.Config()
	if err != nil {
		return frameCell{}, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	t := c.Tunnels[0]
	cell := frameCell{Args: args, Ends: t.Ends, Session: t.Sessions[0]}
	if cell.MTU, err = daemon.AutoMTU(pmtu, cell.Ends, &cell.Session.Header); err != nil {
		return frameCell{}, err
	}
	return cell, nil
}

// frameMSSClamp is what -mss-clamp's default makes of a TAP of MTU 1500
// on the first cell of rows (UDP/IPv4, no sublayer, no cookie): the
// clamped MSS for IPv4 and IPv6 as the ready line shows it ("1410/1390"
// on a 1500-byte path).
func frameMSSClamp(rows []frameRow) string {
	c := rows[0].Cells[0]
	return daemon.MSSClampString(c.Session.MSSClamp.Resolve(c.MTU, 1500))
}

// frameMTUMarkdown renders rows as the markdown table of
// docs/configuration.md.
func frameMTUMarkdown(rows []frameRow) string {
	var b strings.Builder
	b.WriteString("| encapsulation |")
	for _, c := range frameCookies {
		b.WriteString(" " + c.title + " |")
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", len(frameCookies)+1) + "\n")
	for _, r := range rows {
		b.WriteString("| " + r.Name + " |")
		for _, c := range r.Cells {
			b.WriteString(" " + strconv.Itoa(c.MTU) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// frameMTURoff renders rows for the manual page: a preformatted block of
// aligned columns, which needs no tbl preprocessor.
func frameMTURoff(rows []frameRow) string {
	width := len("encapsulation")
	for _, r := range rows {
		width = max(width, len(r.Name))
	}
	var b strings.Builder
	b.WriteString(".RS\n.nf\n")
	line := func(first string, rest []string) {
		s := fmt.Sprintf("%-*s", width, first)
		for _, c := range rest {
			s += fmt.Sprintf("  %13s", c)
		}
		b.WriteString(roffEscape(strings.TrimRight(s, " ")) + "\n")
	}
	var titles []string
	for _, c := range frameCookies {
		titles = append(titles, c.title)
	}
	line("encapsulation", titles)
	for _, r := range rows {
		var mtus []string
		for _, c := range r.Cells {
			mtus = append(mtus, strconv.Itoa(c.MTU))
		}
		line(r.Name, mtus)
	}
	b.WriteString(".fi\n.RE\n")
	return b.String()
}
