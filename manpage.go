package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/urfave/cli/v2"
)

// The manual page l2tap(8) is generated: its prose is docs/l2tap.8.in, a
// text/template of roff; its OPTIONS and the keys of its CONFIGURATION
// FILE come from the flag table (internal/config), as -help does, and its
// COUNTERS from the names the daemon prints with their descriptions, its
// MTU table from the daemon's own computation (frame.go).
// docs/l2tap.8 is the committed output of `l2tap man`; a test fails when
// the two differ. make man and go generate write it, and the files
// internal/config generates from the same table (the completions,
// docs/options.md).

//go:generate sh -c "go run . man > docs/l2tap.8"
//go:generate go test -count=1 -run ^TestGeneratedFiles$ ./internal/config -update

//go:embed docs/l2tap.8.in
var manTemplate string

// manCommand is the hidden `l2tap man`, which prints the manual page of
// the application it runs in.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page l2tap(8) in roff",
		Hidden: true,
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return config.Usagef("man: unexpected argument %q", ctx.Args().First())
			}
			return writeManPage(os.Stdout, ctx.App)
		},
	}
}

// roffEscape makes s safe as roff text: backslashes are escaped, dashes
// become minus signs (options must be typed with ASCII hyphens), and a
// leading dot or quote cannot be read as a request.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	s = strings.ReplaceAll(s, "'", `\(aq`)
	if strings.HasPrefix(s, ".") {
		s = `\&` + s
	}
	return s
}

// flagDoc splits a flag's usage into its argument name (from the
// back-quoted word that starts it, as cli does) and its text.
func flagDoc(g *cli.GenericFlag) (name, arg, usage string) {
	usage = g.Usage
	if i := strings.Index(usage, "` "); strings.HasPrefix(usage, "`") && i > 0 {
		arg, usage = usage[1:i], usage[i+2:]
	}
	return g.Name, arg, usage
}

// flagsRoff is one tagged paragraph per flag: the flag table's man text,
// or for a flag outside it (l2tap show's) its usage. The flags cli adds
// itself (-help), which are not GenericFlags, are the template's.
func flagsRoff(flags []cli.Flag, inTable bool) string {
	var b strings.Builder
	for _, fl := range flags {
		g, ok := fl.(*cli.GenericFlag)
		if !ok {
			continue
		}
		name, arg, usage := flagDoc(g)
		if inTable {
			usage = config.LookupFlag(name).ManText()
		}
		b.WriteString(".TP\n")
		if arg != "" {
			fmt.Fprintf(&b, ".BI \\-%s \" %s\"\n", name, arg)
		} else {
			fmt.Fprintf(&b, ".B \\-%s\n", name)
		}
		b.WriteString(roffEscape(usage) + "\n")
	}
	return b.String()
}

// writeManPage writes l2tap(8) of app in roff (man macros) to w.
func writeManPage(w io.Writer, app *cli.App) error {
	names := daemon.CounterNames()
	var counters strings.Builder
	for _, n := range names {
		if daemon.CounterDocs[n] == "" {
			return fmt.Errorf("man page: counter %s has no description in daemon.CounterDocs", n)
		}
		fmt.Fprintf(&counters, ".TP\n.B %s\n%s\n", roffEscape(n), roffEscape(daemon.CounterDocs[n]))
	}
	if len(names) != len(daemon.CounterDocs) {
		return fmt.Errorf("man page: daemon.CounterDocs describes %d counters, l2tap prints %d", len(daemon.CounterDocs), len(names))
	}
	show := app.Command("show")
	if show == nil {
		return fmt.Errorf("man page: the application has no show command")
	}
	keys := func(l config.Level) string { return roffEscape(strings.Join(config.FileKeys(l), ", ")) }
	mtus, err := daemon.MTUTable(docPathMTU)
	if err != nil {
		return fmt.Errorf("man page: %w", err)
	}
	t, err := template.New("l2tap.8").Parse(manTemplate)
	if err != nil {
		return fmt.Errorf("man page: docs/l2tap.8.in: %w", err)
	}
	return t.Execute(w, map[string]string{
		"Usage":       roffEscape(app.Usage),
		"Options":     flagsRoff(app.Flags, true),
		"Show":        roffEscape(show.Description),
		"ShowOptions": flagsRoff(show.Flags, false),
		"ProcessKeys": keys(config.LevelProcess),
		"TunnelKeys":  keys(config.LevelTunnel),
		"SessionKeys": keys(config.LevelSession),
		"Counters":    counters.String(),
		"MTUTable":    roffPreformatted(frameMTUText(mtus)),
		"MSSClamp":    roffEscape(daemon.TableMSSClamp(mtus)),
	})
}

// roffPreformatted sets lines as an indented block without filling.
func roffPreformatted(lines []string) string {
	var b strings.Builder
	b.WriteString(".RS\n.nf\n")
	for _, l := range lines {
		b.WriteString(roffEscape(l) + "\n")
	}
	b.WriteString(".fi\n.RE\n")
	return b.String()
}
