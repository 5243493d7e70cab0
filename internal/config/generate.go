package config

import (
	"fmt"
	"io"
	"strings"
)

// The files generated from the flag table, besides the command line's
// flags and the manual page (root manpage.go): the bash and zsh
// completions and the options reference. `make man` writes them
// (TestGeneratedFiles -update), and TestGeneratedFiles fails when a
// committed one differs from what the table gives.

// GeneratedFiles maps each generated file, by its path from the
// repository's root, to its generator.
var GeneratedFiles = map[string]func(io.Writer) error{
	"scripts/completions/l2tap.bash": WriteBashCompletion,
	"scripts/completions/_l2tap":     WriteZshCompletion,
	"docs/options.md":                WriteOptionsReference,
}

// showFlags are the flags of `l2tap show` (defined with the command, in
// the root package), for the completions.
var showFlags = []string{"-json", "-socket"}

// cliFlags returns the flags of the command line, in table order.
func cliFlags() []Flag {
	var fs []Flag
	for _, f := range flagTable() {
		if !f.FileOnly {
			fs = append(fs, f)
		}
	}
	return fs
}

// flagNames joins the names of the flags that keep says to keep, each
// with its dash.
func flagNames(keep func(f *Flag) bool) string {
	var names []string
	for _, f := range cliFlags() {
		if keep(&f) {
			names = append(names, "-"+f.Name)
		}
	}
	return strings.Join(names, " ")
}

// caseList joins, as the patterns of a shell case, the names of the
// flags taking a value that keep says to keep.
func caseList(keep func(f *Flag) bool) string {
	var names []string
	for _, f := range cliFlags() {
		if f.Arg != "" && keep(&f) {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, " | ")
}

// WriteBashCompletion writes the bash completion of l2tap.
func WriteBashCompletion(w io.Writer) error {
	var values strings.Builder
	for _, f := range cliFlags() {
		if len(f.Values) > 0 {
			fmt.Fprintf(&values, "\t%s) echo '%s' ;;\n", f.Name, strings.Join(f.Values, " "))
		}
	}
	for _, f := range cliFlags() {
		switch f.Complete {
		case CompleteBridge:
			fmt.Fprintf(&values, "\t%s)\n%s\t\t;;\n", f.Name, bashBridges)
		case CompleteInterface:
			fmt.Fprintf(&values, "\t%s)\n%s\t\t;;\n", f.Name, bashInterfaces)
		}
	}
	r := strings.NewReplacer(
		"@FLAGS@", flagNames(func(*Flag) bool { return true })+" -help",
		"@SWITCHES@", flagNames(func(f *Flag) bool { return f.Arg == "" }),
		"@SHOW@", strings.Join(showFlags, " ")+" -help",
		"@VALUES@", values.String(),
		"@FILES@", caseList(func(f *Flag) bool { return f.Complete == CompleteFile }),
		"@WORDS@", caseList(func(f *Flag) bool {
			return len(f.Values) > 0 || f.Complete == CompleteBridge || f.Complete == CompleteInterface
		}),
		"@USERS@", caseList(func(f *Flag) bool { return f.Complete == CompleteUser }),
		"@GROUPS@", caseList(func(f *Flag) bool { return f.Complete == CompleteGroup }),
		"@OTHERS@", caseList(func(f *Flag) bool {
			return len(f.Values) == 0 && (f.Complete == CompleteNone || f.Complete == CompleteHost)
		}),
	)
	_, err := io.WriteString(w, r.Replace(bashTemplate))
	return err
}

const bashBridges = `		local d
		for d in /sys/class/net/*/bridge; do
			[ -d "$d" ] || continue
			d=${d%/bridge}
			echo "${d##*/}"
		done
`

const bashInterfaces = `		local d
		for d in /sys/class/net/*; do
			[ -e "$d" ] && echo "${d##*/}"
		done
`

const bashTemplate = `# bash completion for l2tap(8): options, their values, and l2tap show.
# Installed as $(PREFIX)/share/bash-completion/completions/l2tap.
# Generated from the flag table (internal/config/flagtable.go) by make man;
# do not edit.

_l2tap_flags='@FLAGS@'
# switches: they take their value only as -name=on/off
_l2tap_switches='@SWITCHES@'
_l2tap_show_flags='@SHOW@'

# _l2tap_values prints the words a value of option $1 may be.
_l2tap_values() {
	case $1 in
@VALUES@	esac
}

_l2tap() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' i show=0
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == show ]] && show=1
	done
	COMPREPLY=()

	# -name=value: one word, or three when COMP_WORDBREAKS splits at '='.
	local name='' val=''
	if [[ $cur == -*=* ]]; then
		name=${cur%%=*} val=${cur#*=}
	elif [[ $cur == = ]]; then
		name=$prev
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		name=${COMP_WORDS[COMP_CWORD - 2]} val=$cur
	fi
	name=${name#-}
	name=${name#-}
	if [[ -n $name ]]; then
		local words
		if [[ " $_l2tap_switches -json " == *" -$name "* ]]; then
			words='on off'
		else
			words=$(_l2tap_values "$name")
		fi
		COMPREPLY=($(compgen -W "$words" -- "$val"))
		# with '=' in the word itself, bash replaces the whole word
		[[ $cur == -*=* ]] && COMPREPLY=("${COMPREPLY[@]/#/-$name=}")
		return 0
	fi

	local p=${prev#-}
	p=${p#-}
	if ((show)); then
		case $p in
		socket) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "$_l2tap_show_flags" -- "$cur")) ;;
		esac
		return 0
	fi
	case $p in
	@FILES@)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	@WORDS@)
		COMPREPLY=($(compgen -W "$(_l2tap_values "$p")" -- "$cur"))
		return 0
		;;
	@USERS@)
		COMPREPLY=($(compgen -u -- "$cur"))
		return 0
		;;
	@GROUPS@)
		COMPREPLY=($(compgen -g -- "$cur"))
		return 0
		;;
	@OTHERS@)
		return 0
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$_l2tap_flags" -- "$cur"))
	elif ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "show" -- "$cur"))
	fi
	return 0
}

complete -F _l2tap l2tap
`

// zshQuote quotes s for zsh in single quotes.
func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// zshSpec is the _arguments specification of flag f.
func zshSpec(f *Flag) string {
	summary := strings.NewReplacer("[", `\[`, "]", `\]`).Replace(f.Summary)
	if f.Arg == "" {
		return zshQuote("-"+f.Name+"=-["+summary+"]") + "$sw"
	}
	action := ""
	switch {
	case len(f.Values) > 0:
		action = "(" + strings.Join(f.Values, " ") + ")"
	case f.Complete == CompleteFile:
		action = "_files"
	case f.Complete == CompleteUser:
		action = "_users"
	case f.Complete == CompleteGroup:
		action = "_groups"
	case f.Complete == CompleteBridge:
		action = "_l2tap_bridges"
	case f.Complete == CompleteInterface:
		action = "_l2tap_interfaces"
	case f.Complete == CompleteHost:
		action = "_hosts"
	}
	return zshQuote("-" + f.Name + "=[" + summary + "]:" + strings.ToLower(f.Arg) + ":" + action)
}

// WriteZshCompletion writes the zsh completion of l2tap.
func WriteZshCompletion(w io.Writer) error {
	var opts strings.Builder
	for _, f := range cliFlags() {
		fmt.Fprintf(&opts, "\t\t%s\n", zshSpec(&f))
	}
	_, err := io.WriteString(w, strings.Replace(zshTemplate, "@OPTS@", opts.String(), 1))
	return err
}

const zshTemplate = `#compdef l2tap
# zsh completion for l2tap(8): options, their values, and l2tap show.
# Installed as $(PREFIX)/share/zsh/site-functions/_l2tap.
# Generated from the flag table (internal/config/flagtable.go) by make man;
# do not edit.

_l2tap_bridges() {
	local -a bridges
	local d
	for d in /sys/class/net/*/bridge(N/); do
		bridges+=(${${d:h}:t})
	done
	_describe -t bridges bridge bridges
}

_l2tap_interfaces() {
	local -a ifs
	ifs=(/sys/class/net/*(N:t))
	_describe -t interfaces interface ifs
}

_l2tap() {
	local -a opts show_opts
	local sw='::switch:(on off)'
	opts=(
@OPTS@		'-help[print help and exit]'
	)
	show_opts=(
		"-json=-[print JSON]$sw"
		'-socket=[ask only this status socket]:path:_files'
		'-help[print help and exit]'
	)
	if (( CURRENT > 2 )) && [[ ${words[2]} == show ]]; then
		_arguments -s : $show_opts
	else
		_arguments -s : $opts '1:command:(show)'
	fi
}

_l2tap "$@"
`

// levelName is how the options reference names a level.
func (l Level) levelName() string {
	switch l {
	case LevelSession:
		return "`[[tunnel.session]]`"
	case LevelTunnel:
		return "`[[tunnel]]`"
	case LevelProcess:
		return "top of the file"
	}
	return "command line only"
}

// markdownCell makes s safe in a markdown table cell: | escaped, and
// outside code spans < and > as entities (<TAP> is no HTML tag).
func markdownCell(s string) string {
	var b strings.Builder
	code := false
	for _, r := range s {
		switch {
		case r == '`':
			code = !code
			b.WriteRune(r)
		case r == '|':
			b.WriteString(`\|`)
		case r == '<' && !code:
			b.WriteString("&lt;")
		case r == '>' && !code:
			b.WriteString("&gt;")
		case r == '\n':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// WriteOptionsReference writes docs/options.md: every option, its level,
// its text and its default.
func WriteOptionsReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`# l2tap options

Generated from the flag table (internal/config/flagtable.go) by ` + "`make man`" + `; do not edit.

Every option is a flag on the command line: ` + "`-name VALUE`" + `, or for a switch ` + "`-name`" + `
alone or ` + "`-name=on`/`-name=off`" + ` (also true, false, yes, no, 1, 0). Numbers take decimal
or 0x-hex; a leading zero is decimal, not octal. In a configuration file (` + "`-config FILE`" + `,
TOML) each option but those of the command line only is a key of the same name, without the
dash, in the table of its level: the process options at the top of the file, before the
first ` + "`[[tunnel]]`" + `; the options of one underlay socket (its two ends, its keepalive or
dynamic control connection) in its ` + "`[[tunnel]]`" + `; the options of one pseudowire in its
` + "`[[tunnel.session]]`" + `. A switch takes ` + "`true`" + ` or ` + "`false`" + `, a number a TOML integer or a
string such as ` + "`\"0x10\"`" + `.

| option | level | meaning | default |
| --- | --- | --- | --- |
`)
	for _, f := range flagTable() {
		name := "`-" + f.Name
		if f.Arg != "" {
			name += " " + f.Arg
		}
		name += "`"
		if f.FileOnly {
			name = "`" + f.Name + "` (file only)"
		}
		def := f.Default
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, f.Level.levelName(), markdownCell(f.ManText()), markdownCell(def))
	}
	b.WriteString("\n## Keys by table\n\n")
	for _, l := range []Level{LevelProcess, LevelTunnel, LevelSession} {
		var keys []string
		for _, k := range FileKeys(l) {
			keys = append(keys, "`"+k+"`")
		}
		fmt.Fprintf(&b, "- %s: %s\n", l.levelName(), strings.Join(keys, " "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
