package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/l2tap/l2tap/internal/daemon"
)

// The frame a pseudowire carries, as the command line speaks of it: how
// large a frame each encapsulation leaves room for. The manual page's MTU
// section and the table of docs/configuration.md ("MTU and MSS clamping")
// are rendered here from daemon.MTUTable, the daemon's own computation on
// a path of docPathMTU bytes. frame_test.go checks each figure against the
// bytes l2tpv3's encoder writes, and the docs' table against this one.

// docPathMTU is the underlay MTU the documented figures assume.
const docPathMTU = 1500

// frameMTUMarkdown renders rows as the markdown table of
// docs/configuration.md.
func frameMTUMarkdown(rows []daemon.MTURow) string {
	var b strings.Builder
	b.WriteString("| encapsulation |")
	for _, c := range rows[0].Cells {
		b.WriteString(" " + c.Column + " |")
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", len(rows[0].Cells)+1) + "\n")
	for _, r := range rows {
		b.WriteString("| " + r.Name + " |")
		for _, c := range r.Cells {
			b.WriteString(" " + strconv.Itoa(c.MTU) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// frameMTUText renders rows as lines of aligned columns, the manual
// page's preformatted table (which then needs no tbl preprocessor).
func frameMTUText(rows []daemon.MTURow) []string {
	width := len("encapsulation")
	for _, r := range rows {
		width = max(width, len(r.Name))
	}
	var lines []string
	line := func(first string, rest []string) {
		s := fmt.Sprintf("%-*s", width, first)
		for _, c := range rest {
			s += fmt.Sprintf("  %13s", c)
		}
		lines = append(lines, strings.TrimRight(s, " "))
	}
	var titles []string
	for _, c := range rows[0].Cells {
		titles = append(titles, c.Column)
	}
	line("encapsulation", titles)
	for _, r := range rows {
		var mtus []string
		for _, c := range r.Cells {
			mtus = append(mtus, strconv.Itoa(c.MTU))
		}
		line(r.Name, mtus)
	}
	return lines
}
