// Command l2tap bridges a Linux TAP device or a VM socket to an L2TPv3
// Ethernet pseudowire (RFC 3931, RFC 4719), static (-txsession) or set up
// with the peer by the control connection (-circuit), so that whatever is
// attached to the TAP sits on the peer's Layer-2 network. Its options
// carry the names and meanings of QEMU's -netdev l2tpv3.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
	"github.com/l2tap/l2tap/internal/status"
	"github.com/urfave/cli/v2"
)

// helpDescription is the text of -help between the usage and the options;
// its key lists come from the flag table.
func helpDescription() string {
	return `l2tap creates a TAP device (or attaches to one) and carries every Ethernet
frame on it over an L2TPv3 pseudowire to a peer: a Linux host with
'ip l2tp', QEMU's -netdev l2tpv3, a router, or another l2tap. The session is
static (-txsession), or negotiated with the peer over an RFC 3931 control
connection (-circuit). Options use QEMU's l2tpv3 names and meanings; numbers
take decimal or 0x-hex; switches work bare (-udp) or as -udp=on/off.

Examples:
   # UDP on port 1701 both ways, session 1, 32-bit cookies
   l2tap -udp -src 192.0.2.1 -dst 192.0.2.2 -srcport 1701 -dstport 1701 \
         -txsession 1 -txcookie 0x11223344 -rxcookie 0x55667788 -ifname vm0

   # IP encapsulation (protocol 115) over IPv6 with the sequenced sublayer
   l2tap -ipv6 -src 2001:db8::1 -dst 2001:db8::2 -txsession 7 -counter

   # tunnels and their sessions from a TOML file whose keys are the flag names:
` + commentWrap("top-level keys "+strings.Join(config.FileKeys(config.LevelProcess), " ")+";") +
		commentWrap("[[tunnel]] keys "+strings.Join(config.FileKeys(config.LevelTunnel), " ")+";") +
		commentWrap("[[tunnel.session]] keys "+strings.Join(config.FileKeys(config.LevelSession), " ")) +
		`   l2tap -config /etc/l2tap/l2tap.toml

On SIGINT or SIGTERM l2tap prints its counters and removes the TAPs it made.
SIGUSR1 prints the counters without stopping; so does 'l2tap show', through
the status socket (-control), for every l2tap running. With -config, SIGHUP
reads the file again: sessions added, removed or changed follow it, the
others carry on untouched.`
}

// commentWrap writes s as the help's example comments: lines of at most
// 80 columns, each "   # ".
func commentWrap(s string) string {
	var b strings.Builder
	line := "   #"
	for _, w := range strings.Fields(s) {
		if len(line)+1+len(w) > 80 && line != "   #" {
			b.WriteString(line + "\n")
			line = "   #"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}

const helpTemplate = `Usage: {{.UsageText}}

{{.Usage}}.

{{.Description}}

Options:
{{range .VisibleFlags}}   {{.}}
{{end}}
Commands:
   show [-json] [-socket PATH]	print the tunnels, sessions and counters of running l2taps (l2tap show -help)
`

func newApp(o *config.Options) *cli.App {
	return &cli.App{
		Name:                  "l2tap",
		Usage:                 "bridge a TAP device to an L2TPv3 Ethernet pseudowire, static or set up with the peer (-circuit), static or negotiated",
		UsageText:             "l2tap -src ADDR -dst ADDR -txsession ID [options]\n   or: l2tap -src ADDR -dst ADDR -circuit NAME [options]\n   or: l2tap -config FILE " + config.ProcessSynopsis(),
		Description:           helpDescription(),
		HideHelpCommand:       true,
		CustomAppHelpTemplate: helpTemplate,
		Flags:                 config.Flags(o),
		OnUsageError:          onUsageError("l2tap -help"),
		Commands:              []*cli.Command{showCommand(), manCommand()},
		Action: func(ctx *cli.Context) error {
			if o.Version.Val {
				_, err := fmt.Fprintln(ctx.App.Writer, versionLine())
				return err
			}
			if ctx.NArg() > 0 {
				return config.Usagef("unexpected argument %q: options start with a dash (see l2tap -help)", ctx.Args().First())
			}
			// Errors from here on are logged in the format asked for on
			// the command line; the file's log-format applies once read.
			slog.SetDefault(newLogger(os.Stderr, o.LogFormat.Val == "json"))
			var cfg *config.Config
			var err error
			if o.ConfigFile.Given {
				cfg, err = o.FromFile(ctx.IsSet)
			} else {
				cfg, err = o.Config()
			}
			if err != nil {
				return err
			}
			slog.SetDefault(newLogger(os.Stderr, cfg.LogJSON))
			if helper, err := daemon.HelperMode(cfg, hostOpener{}); helper {
				return err
			}
			return daemon.Run(cfg, hostOpener{})
		},
	}
}

// onUsageError turns the command line parser's errors into usage errors
// (exit code 2) that point at help.
func onUsageError(help string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		msg := err.Error()
		if strings.HasPrefix(msg, "flag provided but not defined") {
			msg += "; see " + help
		}
		return config.UsageError{Err: errors.New(msg)}
	}
}

const showHelpTemplate = `Usage: {{.UsageText}}

{{.Usage}}.

{{.Description}}

Options:
{{range .VisibleFlags}}   {{.}}
{{end}}`

// showCommand is `l2tap show`: see status.Show.
func showCommand() *cli.Command {
	var asJSON config.SwitchValue
	var socket config.StringValue
	return &cli.Command{
		Name:      "show",
		Usage:     "print the tunnels, sessions and counters of running l2taps",
		UsageText: "l2tap show [-json] [-socket PATH]",
		Description: `Asks each l2tap through its status socket (see l2tap -help, -control) and
prints, per process, its tunnels and per session the session IDs, the TAP,
its MTU and the counters, as 'ip -s l2tp show session' does. Without
-socket every socket in ` + config.DefaultStatusSocketDir + ` is asked. Exit status 1 when no
l2tap answers.`,
		CustomHelpTemplate: showHelpTemplate,
		HideHelpCommand:    true,
		Flags: []cli.Flag{
			&cli.GenericFlag{Name: "json", Usage: "print a JSON array with one object per process", Value: &asJSON},
			&cli.GenericFlag{Name: "socket", Usage: "`PATH` ask only the l2tap on this status socket", Value: &socket},
		},
		OnUsageError: onUsageError("l2tap show -help"),
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return config.Usagef("show: unexpected argument %q (see l2tap show -help)", ctx.Args().First())
			}
			if l := ctx.Lineage(); len(l) > 1 && l[1].NumFlags() > 0 {
				return config.Usagef("show: options before show are for starting an l2tap; give show's own after it (see l2tap show -help)")
			}
			if socket.Given && socket.Val == "" {
				return config.Usagef("-socket \"\": give the path of a status socket, or leave -socket out to ask every l2tap")
			}
			return status.Show(os.Stdout, socket.Val, asJSON.Val, printError)
		},
	}
}

func main() {
	slog.SetDefault(newLogger(os.Stderr, false))
	cli.FlagStringer = singleDash
	var o config.Options
	if err := newApp(&o).Run(os.Args); err != nil {
		printError(err)
		var ue config.UsageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// singleDash renders a flag for -help the way it is typed: -name VALUE.
func singleDash(fl cli.Flag) string {
	g, ok := fl.(*cli.GenericFlag)
	if !ok {
		return "-help\tshow this help"
	}
	arg, usage := "", g.Usage
	if i := strings.Index(usage, "` "); strings.HasPrefix(usage, "`") && i > 0 {
		arg, usage = " "+usage[1:i], usage[i+2:]
	}
	return fmt.Sprintf("-%s%s\t%s", g.Name, arg, usage)
}
