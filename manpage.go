package main

import (
	"bufio"
	"fmt"
	"github.com/l2tap/l2tap/internal/daemon"
	"io"
	"os"
	"strings"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/urfave/cli/v2"
)

// The manual page l2tap(8) is generated: its OPTIONS come from the same
// flag definitions as -help, its COUNTERS from the names the engine
// prints, and the rest from the hand-written sections below. docs/l2tap.8
// is the committed output of `l2tap man` (make man, go generate); a test
// fails when the two differ.

//go:generate sh -c "go run . man > docs/l2tap.8"

// manCommand is the hidden `l2tap man`, which prints the manual page.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page l2tap(8) in roff",
		Hidden: true,
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return config.Usagef("man: unexpected argument %q", ctx.Args().First())
			}
			return writeManPage(os.Stdout)
		},
	}
}

// counterDocs explains every counter l2tap prints. writeManPage fails on
// a counter missing here or an entry no longer printed, so the page
// follows the code.
var counterDocs = map[string]string{
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
	"control_connections":      "dynamic tunnels (-circuit): times the control connection with the peer was established",
	"control_sessions_up":      "dynamic tunnels: sessions negotiated and added (the TAP's carrier on)",
	"control_sessions_down":    "dynamic tunnels: sessions ended (CDN, StopCCN, the peer silent through every retransmission; the TAP's carrier off)",
	"control_sessions_refused": "dynamic tunnels: the peer's session requests answered with a CDN (a circuit we do not have, another pseudowire type or sublayer)",
	"control_auth_failed":      "dynamic tunnels: control messages dropped for a wrong or missing message digest, or one of the other algorithm (-secret-file, -digest)",
	"control_strangers":        "dynamic tunnels: control messages dropped before any state: not an SCCRQ from the configured peer (-peer-hostname)",
	"control_not_ours":         "dynamic tunnels: control messages dropped for a control connection we do not have, or other than an acknowledgement for one that ended",
	"control_rate_limited":     "dynamic tunnels: SCCRQs dropped beyond the rate of 3 at once, then 1 a second (replayed or forged requests cost no more than that)",
	daemon.ProcsRaised:         "times both directions carried bulk traffic and l2tap spread its loops over two CPUs (not a drop)",
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
func flagDoc(fl cli.Flag) (name, arg, usage string) {
	g, ok := fl.(*cli.GenericFlag)
	if !ok {
		panic(fmt.Sprintf("flag %v: not a GenericFlag", fl.Names()))
	}
	usage = g.Usage
	if i := strings.Index(usage, "` "); strings.HasPrefix(usage, "`") && i > 0 {
		arg, usage = usage[1:i], usage[i+2:]
	}
	return g.Name, arg, usage
}

// writeFlags writes one tagged paragraph per flag.
func writeFlags(w io.Writer, flags []cli.Flag) {
	for _, fl := range flags {
		name, arg, usage := flagDoc(fl)
		fmt.Fprintln(w, ".TP")
		if arg != "" {
			fmt.Fprintf(w, ".BI \\-%s \" %s\"\n", name, arg)
		} else {
			fmt.Fprintf(w, ".B \\-%s\n", name)
		}
		fmt.Fprintln(w, roffEscape(usage))
	}
}

// writeManPage writes l2tap(8) in roff (man macros) to w.
func writeManPage(w io.Writer) error {
	names := daemon.CounterNames()
	for _, n := range names {
		if counterDocs[n] == "" {
			return fmt.Errorf("man page: counter %s has no description in counterDocs", n)
		}
	}
	if len(names) != len(counterDocs) {
		return fmt.Errorf("man page: counterDocs describes %d counters, l2tap prints %d", len(counterDocs), len(names))
	}
	var o config.Options
	app := newApp(&o)
	bw := bufio.NewWriter(w)
	p := func(s string) { fmt.Fprintln(bw, s) }

	p(`.\" Generated by 'l2tap man' from the flag definitions; do not edit.`)
	p(`.TH L2TAP 8 "" "l2tap" "System Administration"`)
	p(`.SH NAME`)
	p(`l2tap \- ` + roffEscape(app.Usage))
	p(`.SH SYNOPSIS`)
	p(`.B l2tap`)
	p(`.B \-src`)
	p(`.I ADDR`)
	p(`.B \-dst`)
	p(`.I ADDR`)
	p(`.B \-txsession`)
	p(`.I ID`)
	p(`.RI [ options ]`)
	p(`.br`)
	p(`.B l2tap \-config`)
	p(`.I FILE`)
	p(`.RI [ process\-options ]`)
	p(`.br`)
	p(`.B l2tap show`)
	p(`.RB [ \-json ]`)
	p(`.RB [ \-socket`)
	p(`.IR PATH ]`)
	p(`.br`)
	p(`.B l2tap \-version`)
	p(manDescription)
	p(`.SH OPTIONS`)
	p(`Numbers take decimal or 0x\-hex (a leading zero is decimal, not octal). Switches work bare`)
	p(`.RB ( \-udp )`)
	p(`or with a value: on, off, true, false, yes, no, 1 or 0, as in`)
	p(`.BR \-udp=off .`)
	writeFlags(bw, app.Flags)
	p(`.TP`)
	p(`.B \-help`)
	p(`print a summary of the options and exit.`)
	p(`.SH COMMANDS`)
	p(`.TP`)
	p(`.B show`)
	show := showCommand()
	p(roffEscape(show.Description))
	p(`.RS`)
	writeFlags(bw, show.Flags)
	p(`.RE`)
	p(manConfigFile)
	p(`.SH COUNTERS`)
	p(`l2tap prints its counters as`)
	p(`.RI \(dq name " " value \(dq`)
	p(`lines on standard output when it stops and on SIGUSR1; with several sessions a line per`)
	p(`session follows. Every dropped packet is counted under exactly one reason and logged at most`)
	p(`once a second per reason.`)
	for _, n := range names {
		p(`.TP`)
		p(`.B ` + roffEscape(n))
		p(roffEscape(counterDocs[n]))
	}
	p(manRest)
	return bw.Flush()
}

const manDescription = `.SH DESCRIPTION
.B l2tap
creates a TAP daemon.Device (or attaches to one) and carries every Ethernet frame on it over a
static L2TPv3 pseudowire (RFC 3931, RFC 4719) to a peer: a Linux host with
.BR "ip l2tp" ,
QEMU's
.BR "\-netdev l2tpv3" ,
a router, or another l2tap.
Whatever is attached to the TAP, a virtual machine through a bridge, a network namespace or a
lab router, then sits on the peer's Layer\-2 segment.
There is no control protocol: both ends are configured by hand, with matching session IDs,
cookies and sublayer.
.PP
The options carry the names and meanings of QEMU's l2tpv3 network backend, so a QEMU command
line translates word for word.
One process serves every tunnel and session of a configuration file
.RB ( \-config ),
with one TAP per session.
.PP
Once set up, l2tap drops every capability, changes user (started as
root: the l2tap account, else nobody, or
.BR \-user ),
and installs a seccomp filter
.RB ( \-seccomp ).
With
.B \-config
or
.B \-attach
a privileged helper, l2tap started again before setup, opens what a
reload adds and restores attached TAPs on request.
When every TAP is up it logs one line per session to standard error:
.RS
.nf
l2tap: ready tap=vm0 mtu=1442 encap=udp ...
.fi
.RE`

const manConfigFile = `.SH CONFIGURATION FILE
With
.BI \-config " FILE"
l2tap reads a TOML file whose keys are the option names.
The top level holds the process options (sched, cpuprofile, memprofile, user, seccomp, control, metrics);
each
.B [[tunnel]]
table holds one underlay socket's two ends (src, dst, udp, srcport, dstport, ipv6);
each
.B [[tunnel.session]]
table within it holds one pseudowire and its TAP (every other option).
Process options given on the command line override the file's.
SIGHUP reads the file again.
.PP
.RS
.nf
sched = "batch"
[[tunnel]]
src = "192.0.2.1"
dst = "192.0.2.2"
udp = true
srcport = 1701
dstport = 1701
[[tunnel.session]]
txsession = 1
ifname = "vm0"
master = "br\-l2tap"
.fi
.RE
.PP
A dynamic tunnel's keys (hostname, peer\-hostname, secret\-file, digest, role) are
.B [[tunnel]]
keys; its sessions name a
.B circuit
instead of session IDs and cookies. The file may also hold the shared secret itself as
.BR "secret = \(dq...\(dq" ,
which no option can (a command line shows in
.BR ps );
l2tap then warns when other users may read the file.`

const manRest = `.SH SIGNALS
.TP
.BR SIGTERM ", " SIGINT
print the counters, remove the TAPs l2tap created (an attached TAP is restored and left in
place) and exit 0.
.TP
.B SIGUSR1
print the counters without stopping, and log the number of goroutines.
.TP
.B SIGHUP
with
.BR \-config ,
read the file again: sessions added, removed or changed follow it, the others carry on
untouched; a file with errors changes nothing. Without
.B \-config
it changes nothing and says so in the log.
.TP
.B SIGUSR2
with
.BR \-memprofile ,
write the heap profile (replacing the last one) and log the live heap; without it, the
default action (l2tap ends).
.SH EXIT STATUS
.TP
.B 0
stopped by a signal, or
.B \-help
and
.B \-version
printed.
.TP
.B 1
a failure while running or setting up (a socket, a TAP, a privilege);
.B show
found no l2tap.
.TP
.B 2
a bad option or configuration file: one line names the option, its value and the fix, and
nothing is left behind.
.SH PEERS
The peer's transmit values are l2tap's receive values and the other way round.
.SS QEMU
.RS
.nf
qemu\-system\-x86_64 ... \e
  \-netdev l2tpv3,id=l,src=192.0.2.2,dst=192.0.2.1,udp=on,\e
srcport=1701,dstport=1701,txsession=20,rxsession=10,\e
txcookie=0x55667788,rxcookie=0x11223344,counter=on \e
  \-daemon.Device virtio\-net\-pci,netdev=l
.fi
.RE
.PP
is the far end of
.PP
.RS
.nf
l2tap \-udp \-src 192.0.2.1 \-dst 192.0.2.2 \-srcport 1701 \-dstport 1701 \e
  \-txsession 10 \-rxsession 20 \-txcookie 0x11223344 \-rxcookie 0x55667788 \e
  \-counter
.fi
.RE
.SS Linux (ip l2tp)
The kernel's
.I session_id
is the session it receives (l2tap's
.BR \-txsession )
and
.I peer_session_id
the one it sends; its
.I cookie
is the cookie it sends (l2tap's
.BR \-rxcookie )
and
.I peer_cookie
the one it requires. Either may be left out, and their lengths may differ: a kernel with only
.B peer_cookie
is l2tap's
.B \-txcookie
alone, one with only
.B cookie
is
.B \-rxcookie
alone, and a 64\-bit cookie one way is
.B \-txcookie64
or
.BR \-rxcookie64 .
.PP
.RS
.nf
ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 1 encap udp \e
  local 192.0.2.2 remote 192.0.2.1 udp_sport 1701 udp_dport 1701
ip l2tp add session name l2tpeth0 tunnel_id 1 session_id 10 \e
  peer_session_id 20 cookie 55667788 peer_cookie 11223344 \e
  l2spec_type default seq both
ip link set l2tpeth0 up
.fi
.RE
.PP
Without
.B \-counter
or
.BR \-pincounter ,
give the kernel
.B l2spec_type none
(its default is a sublayer).
.B \-pincounter
is
.BR "l2spec_type default seq none" .
Linux ignores
.BR \-offset .
.SH EXAMPLES
UDP on port 1701 both ways, session 10 out and 20 in, 32\-bit cookies, the TAP vm0 on bridge
br\-l2tap:
.PP
.RS
.nf
l2tap \-udp \-src 192.0.2.1 \-dst 192.0.2.2 \-srcport 1701 \-dstport 1701 \e
  \-txsession 10 \-rxsession 20 \-txcookie 0x11223344 \-rxcookie 0x55667788 \e
  \-ifname vm0 \-master br\-l2tap
.fi
.RE
.PP
IP encapsulation (protocol 115) over IPv6 with the sequenced sublayer:
.PP
.RS
.nf
l2tap \-ipv6 \-src 2001:db8::1 \-dst 2001:db8::2 \-txsession 7 \-counter
.fi
.RE
.PP
A dynamic session: both ends name the circuit vm1 and share a secret; session IDs and
cookies are negotiated over an RFC 3931 control connection, and the TAP's carrier is on
while the session is up (the far end runs the same with the addresses and host names
swapped):
.PP
.RS
.nf
l2tap \-udp \-src 192.0.2.1 \-dst 192.0.2.2 \-srcport 1701 \-dstport 1701 \e
  \-circuit vm1 \-hostname a \-peer\-hostname b \-secret\-file /etc/l2tap/b.secret \e
  \-ifname vm0
.fi
.RE
.PP
As a systemd service, with the options in /etc/l2tap/vm0.conf:
.PP
.RS
.nf
echo \(aqL2TAP_ARGS=\-udp \-src 192.0.2.1 \-dst 192.0.2.2 \-srcport 1701 \e
\-dstport 1701 \-txsession 1 \-ifname vm0\(aq > /etc/l2tap/vm0.conf
systemctl enable \-\-now l2tap@vm0
systemctl kill \-s USR1 l2tap@vm0
.fi
.RE
.PP
The counters of every running l2tap, as JSON:
.PP
.RS
.nf
l2tap show \-json
.fi
.RE
.SH FILES
.TP
.I /etc/machine\-id
the key of the MAC a TAP l2tap creates gets by default
.RB ( "\-mac persistent" ):
HMAC\-SHA256 over the TAP's name, so the MAC is the same on every start; without it the MAC is
random and l2tap warns.
.TP
.I /run/l2tap/TAP.sock
control sockets that
.B l2tap show
asks
.RI ( TAP @ NETNS .sock
outside the main network namespace).
.TP
.I /etc/l2tap/INSTANCE.conf
the options of the systemd service
.BI l2tap@ INSTANCE
.RB ( L2TAP_ARGS= ).
.TP
.I /usr/local/lib/systemd/system/l2tap@.service
the systemd template unit (under the installation prefix).
.TP
.I /usr/local/libexec/l2tap/qemu\-ifup
QEMU ifup script joining a VM's TAP to the bridge l2tap's TAP is on
.RB ( L2TAP_BRIDGE ,
default br\-l2tap).
.SH SEE ALSO
.BR ip\-l2tp (8),
.BR qemu\-system (1),
.BR systemd.service (5),
.BR bridge (8)
.PP
RFC 3931 (L2TPv3), RFC 4719 (Ethernet over L2TPv3).`
