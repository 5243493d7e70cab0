package config

// A configuration file describes many tunnels and sessions in TOML whose keys
// are the flag names, each in the table of its level in the flag table. Its
// values go through the flags' own value types (SwitchValue, UintValue,
// StringValue) and its options through the checks the command line uses
// (Options.session, Options.process, Options.resolveEnds), so a file and
// a command line cannot disagree on what a setting means.
//
// The file is read with github.com/pelletier/go-toml/v2: its unstable.Parser
// hands over every key and table header with its byte range, hence its line,
// in file order, and its decoder supplies the values with TOML's own rules
// (integer forms, escapes, duplicate keys). BurntSushi/toml keeps key
// positions private, and there all the tables of an array share one entry,
// so the third session's txsession could not be told from the first's.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// fileKeys maps every key a file may hold to its level: every option of
// the flag table but those of the command line only.
var fileKeys = sync.OnceValue(func() map[string]Level {
	m := map[string]Level{}
	for _, f := range flagTable() {
		if f.Level != LevelCommandLine {
			m[f.Name] = f.Level
		}
	}
	return m
})

// tableName is how errors and help name a level's table.
func (l Level) tableName() string {
	switch l {
	case LevelTunnel:
		return "[[tunnel]]"
	case LevelSession:
		return "[[tunnel.session]]"
	}
	return "the top of the file"
}

// cfKey is one "key = value" of the file.
type cfKey struct {
	name string
	line int
	raw  string // the value as written
	val  any    // the value as decoded: int64, bool, string, float64, ...
}

// cfTable is the top of the file, a [[tunnel]] or a [[tunnel.session]].
type cfTable struct {
	level Level
	line  int // of its header; 1 for the top of the file
	keys  []*cfKey
}

func (t *cfTable) key(name string) *cfKey {
	for _, k := range t.keys {
		if k.name == name {
			return k
		}
	}
	return nil
}

type cfTunnel struct {
	cfTable
	sessions []*cfTable
}

// cfFile is a configuration file read but not yet checked.
type cfFile struct {
	name    string
	top     cfTable
	tunnels []*cfTunnel
}

// errorf makes a usage error at a line of the file, in one line even when
// a value quoted in it spans several.
func (f *cfFile) errorf(line int, format string, args ...any) error {
	msg := oneLine.Replace(fmt.Sprintf(format, args...))
	return UsageError{fmt.Errorf("%s:%d: %s", f.name, line, msg)}
}

var oneLine = strings.NewReplacer("\n", `\n`, "\r", `\r`)

// LoadConfigFile reads and checks the configuration file at path, resolving
// host names, and creates nothing. Every error is a UsageError in one line:
// "FILE:LINE: KEY VALUE: what is wrong and the fix".
func LoadConfigFile(path string) (*Config, error) {
	return loadConfigFile(path, nil)
}

// FromFile loads the file that -config names, with the process-wide flags
// of o overriding its top-level keys, and refuses the tunnel and session
// flags that the file replaces: given reports whether the command line
// holds the flag of that name. The Config's Reload reads the file again.
func (o *Options) FromFile(given func(name string) bool) (*Config, error) {
	file := o.ConfigFile.Val
	if file == "" {
		return nil, Usagef("-config needs a file name (e.g. -config /etc/l2tap/l2tap.toml)")
	}
	for _, fl := range Flags(&Options{}) {
		name := fl.Names()[0]
		if level, ok := fileKeys()[name]; ok && level != LevelProcess && given(name) {
			return nil, Usagef("-%s with -config: tunnel and session options go in %s as %s = ... under %s; drop -%s", name, file, name, level.tableName(), name)
		}
	}
	cfg, err := loadConfigFile(file, o)
	if err != nil {
		return nil, err
	}
	cfg.Reload = func() (*Config, error) { return loadConfigFile(file, o) }
	return cfg, nil
}

// loadConfigFile is LoadConfigFile where the process-wide options that are
// set in cmdline, if not nil, override the file's top-level keys.
func loadConfigFile(path string, cmdline *Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Usagef("-config %s: %v", path, err)
	}
	return parseConfig(path, data, cmdline)
}

// parseConfig checks data, the contents of the file name, as
// loadConfigFile does.
func parseConfig(name string, data []byte, cmdline *Options) (*Config, error) {
	f, err := readConfigFile(name, data)
	if err != nil {
		return nil, err
	}
	return f.check(cmdline)
}

// readConfigFile parses data into tables and keys, rejecting what is not
// TOML and what a configuration file cannot hold, in file order.
func readConfigFile(name string, data []byte) (*cfFile, error) {
	f := &cfFile{name: name, top: cfTable{level: LevelProcess, line: 1}}
	var p unstable.Parser
	p.Reset(data)
	cur := &f.top
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, path, ln := keyPath(&p, e)
			// Compared by parts: ["tunnel.session"] quoted is another table.
			isTunnel := slices.Equal(parts, []string{"tunnel"})
			isSession := slices.Equal(parts, []string{"tunnel", "session"})
			switch {
			case e.Kind == unstable.ArrayTable && isTunnel:
				t := &cfTunnel{cfTable: cfTable{level: LevelTunnel, line: ln}}
				f.tunnels = append(f.tunnels, t)
				cur = &t.cfTable
			case e.Kind == unstable.ArrayTable && isSession:
				if len(f.tunnels) == 0 {
					return nil, f.errorf(ln, "[[tunnel.session]] before any [[tunnel]]: put each session under the [[tunnel]] whose socket carries it")
				}
				t := f.tunnels[len(f.tunnels)-1]
				s := &cfTable{level: LevelSession, line: ln}
				t.sessions = append(t.sessions, s)
				cur = s
			case isTunnel || isSession:
				return nil, f.errorf(ln, "[%s]: write [[%s]], an array of tables: a file may hold many", path, path)
			default:
				header := "[" + path + "]"
				if e.Kind == unstable.ArrayTable {
					header = "[" + header + "]"
				}
				return nil, f.errorf(ln, "%s: unknown table; a file holds top-level keys, then [[tunnel]] tables, each followed by its [[tunnel.session]] tables", header)
			}
		case unstable.KeyValue:
			parts, written, ln := keyPath(&p, e)
			k := &cfKey{name: strings.Join(parts, "."), line: ln, raw: valueText(&p, e)}
			if secretKey(k.name) {
				k.raw = hiddenValue
			}
			if len(parts) > 1 {
				return nil, f.errorf(k.line, "%s %s: unknown key; dotted keys are not used, each key stands in its own table", written, k.raw)
			}
			if err := f.place(k, cur); err != nil {
				return nil, err
			}
			if prev := cur.key(k.name); prev != nil {
				return nil, f.errorf(k.line, "%s %s: given twice in one table (first at line %d); keep one", k.name, k.raw, prev.line)
			}
			cur.keys = append(cur.keys, k)
		}
	}
	if p.Error() != nil {
		return nil, f.syntaxError(data, p.Error())
	}

	// The values, decoded by the same library's rules. The parser above has
	// made sure the only tables are the ones expected.
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		return nil, f.syntaxError(data, err)
	}
	fill := func(t *cfTable, vals map[string]any) {
		for _, k := range t.keys {
			k.val = vals[k.name]
		}
	}
	fill(&f.top, m)
	tunnels, _ := m["tunnel"].([]any)
	for i, t := range f.tunnels {
		tm := mapAt(tunnels, i)
		fill(&t.cfTable, tm)
		sessions, _ := tm["session"].([]any)
		for j, s := range t.sessions {
			fill(s, mapAt(sessions, j))
		}
	}
	return f, nil
}

// hiddenValue stands for a secret's value in messages.
const hiddenValue = "(value hidden)"

// secretKey reports whether the value of key name may be a secret, and so
// is never printed: secret, a key that mentions it (tunnel.secret, a
// misspelt secret_key) but secret-file (a path), and an unknown key
// taken for a misspelling of secret (secert).
func secretKey(name string) bool {
	n := strings.ToLower(name)
	if n == "secret-file" {
		return false
	}
	if strings.Contains(n, "secret") {
		return true
	}
	_, known := fileKeys()[name]
	return !known && suggestKey(name) == "secret"
}

// valueText returns the value of key-value e as written, on one line and
// at most 40 bytes long, for messages.
func valueText(p *unstable.Parser, e *unstable.Node) string {
	// The value runs from after the key and its "=" to the end of e.
	var last *unstable.Node
	for it := e.Key(); it.Next(); {
		last = it.Node()
	}
	from, to := last.Raw.Offset+last.Raw.Length, e.Raw.Offset+e.Raw.Length
	if from > to {
		return ""
	}
	s := string(p.Data()[from:to])
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "="))
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Join(strings.Fields(s), " ")
	}
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// mapAt returns a[i] as a table, or nil.
func mapAt(a []any, i int) map[string]any {
	if i < len(a) {
		m, _ := a[i].(map[string]any)
		return m
	}
	return nil
}

// keyPath returns the parts of the key of a key-value or table header, the
// key as written, and the line it is on.
func keyPath(p *unstable.Parser, e *unstable.Node) (parts []string, written string, line int) {
	var raw []string
	for it := e.Key(); it.Next(); {
		n := it.Node()
		if line == 0 {
			line = p.Shape(n.Raw).Start.Line
		}
		parts = append(parts, string(n.Data))
		raw = append(raw, string(p.Raw(n.Raw)))
	}
	return parts, strings.Join(raw, "."), line
}

// place checks that key k may stand in table t.
func (f *cfFile) place(k *cfKey, t *cfTable) error {
	level, ok := fileKeys()[k.name]
	switch {
	case k.name == "config":
		return f.errorf(k.line, "config %s: a configuration file cannot name another; drop this key", k.raw)
	case k.name == "tunnel" && t.level == LevelProcess, k.name == "session" && t.level == LevelTunnel:
		return f.errorf(k.line, "%s %s: write each %s as a [[%s]] table", k.name, k.raw, k.name, map[string]string{"tunnel": "tunnel", "session": "tunnel.session"}[k.name])
	case !ok:
		if s := suggestKey(k.name); s != "" {
			return f.errorf(k.line, "%s %s: unknown key; did you mean %s?", k.name, k.raw, s)
		}
		return f.errorf(k.line, "%s %s: unknown key; the keys are the flag names without the dash (l2tap -help)", k.name, k.raw)
	case level == t.level:
		return nil
	case level == LevelProcess:
		return f.errorf(k.line, "%s %s: a process-wide key; put it at the top of the file, before the first [[tunnel]]", k.name, k.raw)
	case level == LevelTunnel:
		return f.errorf(k.line, "%s %s: a tunnel key (all sessions of a tunnel share its socket); put it in %s", k.name, k.raw, level.tableName())
	default:
		return f.errorf(k.line, "%s %s: a session key; put it in a %s", k.name, k.raw, level.tableName())
	}
}

// suggestKey returns the known key that name is most likely a misspelling
// of, or "".
func suggestKey(name string) string {
	trimmed := strings.ToLower(strings.TrimLeft(name, "-"))
	if _, ok := fileKeys()[trimmed]; ok {
		return trimmed
	}
	best, bestD := "", 3
	if len(trimmed) < 5 {
		bestD = 2
	}
	for k := range fileKeys() {
		if d := editDistance(trimmed, k); d < bestD || (d == bestD && best != "" && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// syntaxError reports what the TOML library found wrong, at its line.
func (f *cfFile) syntaxError(data []byte, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		// The parser's errors carry a position only through the decoder.
		if err2 := toml.Unmarshal(data, new(map[string]any)); err2 != nil {
			err = err2
		}
		if !errors.As(err, &de) {
			return Usagef("%s: %s", f.name, strings.TrimPrefix(err.Error(), "toml: "))
		}
	}
	line, _ := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	if strings.Contains(msg, "too large") {
		msg += `; write numbers above 0x7fffffffffffffff as strings (txcookie = "0xffffffffffffffff")`
	}
	if k := de.Key(); len(k) > 0 && !strings.Contains(msg, strings.Join(k, ".")) {
		msg = strings.Join(k, ".") + ": " + msg
	}
	if key := keyAt(data, line); secretKey(key) {
		// The parser quotes the character it stumbled on: of a secret.
		msg = quotedChar.ReplaceAllString(msg, "(hidden)")
		if !strings.HasPrefix(msg, key+":") {
			msg = key + ": " + msg
		}
		msg += `; write it as a quoted TOML string: in single quotes it is taken as written, in double quotes \ starts an escape`
	}
	return f.errorf(line, "%s", msg)
}

// quotedChar is how go-toml's errors quote a character: U+0054 'T'.
var quotedChar = regexp.MustCompile(`U\+[0-9A-Fa-f]{4,6}( '(\\'|[^'])*')?`)

// keyLine matches the start of a key-value line: the key, bare or quoted,
// dotted or not.
var keyLine = regexp.MustCompile(`^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=`)

// keyAt returns the key whose value line (1-based) of data is part of:
// the key of the nearest key-value line at or above it ("" if none), as
// a multi-line value continues below its key.
func keyAt(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	for i := min(line, len(lines)) - 1; i >= 0; i-- {
		if m := keyLine.FindStringSubmatch(lines[i]); m != nil {
			return strings.NewReplacer(`"`, "", "'", "", " ", "", "\t", "").Replace(m[1])
		}
	}
	return ""
}

// flagValues returns o's option values by name, with their limits set.
func flagValues(o *Options) map[string]value {
	m := map[string]value{}
	for _, f := range flagTable() {
		m[f.Name] = f.valueIn(o)
	}
	return m
}

// set gives each key of t to the flag of the same name in o, as the
// command line would.
func (f *cfFile) set(o *Options, t *cfTable) error {
	values := flagValues(o)
	for _, k := range t.keys {
		v := values[k.name]
		var s string
		var want string
		switch x := k.val.(type) {
		case int64:
			switch v.(type) {
			case *UintValue:
				s = strconv.FormatInt(x, 10)
			case *StringValue:
				if LookupFlag(k.name).NameOrNumber {
					s = strconv.FormatInt(x, 10)
				} else {
					want = "a string"
				}
			default:
				want = "true or false"
			}
		case bool:
			if _, ok := v.(*SwitchValue); ok {
				s = strconv.FormatBool(x)
			} else {
				want = kindWant(v, k.name)
			}
		case string:
			s = x
		default:
			want = kindWant(v, k.name)
		}
		if want != "" {
			return f.errorf(k.line, "%s %s: want %s", k.name, k.raw, want)
		}
		if err := v.Set(s); err != nil {
			return f.errorf(k.line, "%s %s: %v", k.name, k.raw, err)
		}
	}
	return nil
}

// kindWant says which TOML values the flag v takes.
func kindWant(v value, name string) string {
	switch v.(type) {
	case *UintValue:
		return `an integer, or a string such as "0x10"`
	case *SwitchValue:
		return "true or false"
	}
	if LookupFlag(name).NameOrNumber {
		return "a name or a number"
	}
	return "a string"
}

// check turns the file into a Config with the command line's checks, then
// checks the sessions against each other.
func (f *cfFile) check(cmdline *Options) (*Config, error) {
	var po Options
	if err := f.set(&po, &f.top); err != nil {
		return nil, err
	}
	if cmdline != nil {
		// The process-wide flags given with -config win over the file.
		for _, f := range flagTable() {
			if f.Level == LevelProcess && f.field(cmdline).given() {
				copyValue(f.field(&po), f.field(cmdline))
			}
		}
	}
	c, err := po.process()
	if err != nil {
		var oe *optionError
		if errors.As(err, &oe) && cmdline != nil && isSet(cmdline, oe.Key) {
			return nil, err // the command line's value: a flag error
		}
		return nil, f.optionError(err, &f.top)
	}

	if len(f.tunnels) == 0 {
		return nil, Usagef("%s: no [[tunnel]]: describe at least one tunnel and its [[tunnel.session]] tables (see the README)", f.name)
	}
	for _, t := range f.tunnels {
		if len(t.sessions) == 0 {
			return nil, f.errorf(t.line, "[[tunnel]] without a [[tunnel.session]]: add its sessions below it (txsession at least), or remove it")
		}
		var base Options
		if err := f.set(&base, &t.cfTable); err != nil {
			return nil, err
		}
		tc := TunnelConfig{}
		for i, s := range t.sessions {
			o := base
			if err := f.set(&o, s); err != nil {
				return nil, err
			}
			ep, sc, err := o.session()
			if err != nil {
				return nil, f.optionError(err, s, &t.cfTable)
			}
			if i == 0 {
				// Every session of a tunnel has the tunnel's keys, so
				// the same ends.
				if err := base.resolveEnds(&ep); err != nil {
					return nil, f.optionError(err, &t.cfTable)
				}
				tc.Ends = ep
				if tc.Keepalive, tc.Dynamic, err = base.tunnelControl(sc.Circuit != ""); err != nil {
					return nil, f.optionError(err, &t.cfTable, s)
				}
				if k := t.key("secret"); k != nil {
					warnMode(f.name, fmt.Sprintf("%s:%d: secret", f.name, k.line))
				}
			} else if err := f.sameKind(t, s, &sc, &tc.Sessions[0]); err != nil {
				return nil, err
			}
			tc.Sessions = append(tc.Sessions, sc)
		}
		c.Tunnels = append(c.Tunnels, tc)
	}
	if err := f.crossCheck(c); err != nil {
		return nil, err
	}
	return c, nil
}

// sameKind refuses a session s of tunnel t that is dynamic (circuit)
// where the tunnel's first session, first, is static, or the reverse.
func (f *cfFile) sameKind(t *cfTunnel, s *cfTable, sc, first *SessionConfig) error {
	if (sc.Circuit == "") == (first.Circuit == "") {
		return nil
	}
	k := s.key("circuit")
	if k == nil {
		k = t.sessions[0].key("circuit")
		return f.errorf(s.line, "[[tunnel.session]] without circuit: the tunnel's session at line %d has circuit %s, so its sessions are negotiated; give this one a circuit too, or put it under a static [[tunnel]]", t.sessions[0].line, k.raw)
	}
	return f.errorf(k.line, "circuit %s: the tunnel's session at line %d is static (txsession); a tunnel's sessions are all dynamic or all static: put this one under a [[tunnel]] of its own", k.raw, t.sessions[0].line)
}

// isSet reports whether option name was given in o.
func isSet(o *Options, name string) bool {
	f := LookupFlag(name)
	return f != nil && f.field(o).given()
}

// copyValue sets dst, a value of Options, to src, of the same type.
func copyValue(dst, src value) {
	switch d := dst.(type) {
	case *SwitchValue:
		*d = *src.(*SwitchValue)
	case *UintValue:
		*d = *src.(*UintValue)
	case *StringValue:
		*d = *src.(*StringValue)
	}
}

// optionError places an error of the shared checks in the file: at the line
// of the key it names, looked up in tables (innermost first), or of the
// table that should hold a missing key; and it spells flags as keys.
func (f *cfFile) optionError(err error, tables ...*cfTable) error {
	var oe *optionError
	if !errors.As(err, &oe) {
		return err
	}
	// A key that is there but empty or zero ("src = \"\"") is at fault
	// even when the check calls it missing.
	line := 0
	for _, t := range tables {
		if k := t.key(oe.Key); k != nil {
			line = k.line
			break
		}
	}
	if line == 0 {
		level := fileKeys()[oe.Key]
		for _, t := range tables {
			if t.level == level {
				line = t.line
			}
		}
	}
	if line == 0 {
		line = tables[0].line
	}
	return f.errorf(line, "%s", keySpelling(oe.msg))
}

// keySpelling rewrites "-flag" as "flag" in a message for a file.
func keySpelling(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		if msg[i] == '-' && (i == 0 || !isWordByte(msg[i-1])) {
			j := i + 1
			for j < len(msg) && isWordByte(msg[j]) {
				j++
			}
			if _, ok := fileKeys()[msg[i+1:j]]; ok {
				continue // drop the dash
			}
		}
		b.WriteByte(msg[i])
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// crossCheck finds sessions that the engine could not tell apart, or TAPs
// claimed twice: every tunnel is one socket that demultiplexes by session
// ID.
func (f *cfFile) crossCheck(c *Config) error {
	type where struct {
		t    *cfTunnel
		s    *cfTable
		line int
	}
	ifnames := map[string]where{}
	udpEnds := map[[2]netip.AddrPort]*cfTunnel{}
	type ipKey struct {
		local netip.Addr
		rx    uint32
	}
	ipRx := map[ipKey]where{}
	pcaps := map[string]where{}
	sockets := map[string]where{}
	macs := map[string]where{}
	for ti, t := range f.tunnels {
		tc := &c.Tunnels[ti]
		ep := tc.Ends
		if ep.UDP {
			k := [2]netip.AddrPort{netip.AddrPortFrom(ep.Local, ep.LocalPort), netip.AddrPortFrom(ep.Remote, ep.RemotePort)}
			if prev, ok := udpEnds[k]; ok {
				return f.errorf(t.line, "[[tunnel]] %s to %s: the tunnel at line %d has the same local and peer address and port, so one socket would carry both; put both tunnels' sessions under one [[tunnel]]", k[0], k[1], prev.line)
			}
			udpEnds[k] = t
		}
		rx := map[uint32]where{}
		circuits := map[string]where{}
		for si, s := range t.sessions {
			sc := &tc.Sessions[si]
			if sc.Circuit != "" {
				// Negotiated IDs never clash; circuit names must not.
				k := s.key("circuit")
				if prev, ok := circuits[sc.Circuit]; ok {
					return f.errorf(k.line, "circuit %s: the session at line %d names this circuit too; give each session of a tunnel its own circuit", k.raw, prev.s.line)
				}
				circuits[sc.Circuit] = where{t, s, k.line}
			}
			// The key that set the session's receive ID.
			rxName, rxRaw, rxLine := "rxsession", "", s.line
			if k := s.key("rxsession"); k != nil {
				rxRaw, rxLine = k.raw, k.line
			} else if k := s.key("txsession"); k != nil {
				rxName, rxRaw, rxLine = "txsession", k.raw+" (also the rxsession)", k.line
			}
			id := sc.Header.RxSession
			if sc.Circuit != "" {
				// negotiated: no receive ID to check
			} else if prev, ok := rx[id]; ok {
				return f.errorf(rxLine, "%s %s: the session at line %d of this tunnel receives session ID %d too; give each session of a tunnel its own rxsession", rxName, rxRaw, prev.s.line, id)
			}
			rx[id] = where{t, s, rxLine}
			if !ep.UDP && sc.Circuit == "" {
				k := ipKey{ep.Local, id}
				if prev, ok := ipRx[k]; ok {
					return f.errorf(rxLine, "%s %s: the session at line %d also receives session ID %d at %s; IP encapsulation has one socket per local address, so session IDs must differ across its tunnels", rxName, rxRaw, prev.s.line, id, ep.Local)
				}
				ipRx[k] = where{t, s, rxLine}
			}
			if p := sc.Capture.Path; p != "" {
				abs, _ := filepath.Abs(p)
				line := s.line
				if k := s.key("pcap"); k != nil {
					line = k.line
				}
				if prev, ok := pcaps[abs]; ok {
					return f.errorf(line, "pcap %q: the session at line %d captures to this file too; give each session its own file", p, prev.s.line)
				}
				pcaps[abs] = where{t, s, line}
			}
			if p := sc.Socket.Path; p != "" {
				abs, _ := filepath.Abs(p)
				line := s.key("socket").line
				if prev, ok := sockets[abs]; ok {
					return f.errorf(line, "socket %q: the session at line %d listens on this socket too; give each session its own", p, prev.s.line)
				}
				sockets[abs] = where{t, s, line}
				continue // no TAP
			}
			if p := sc.VhostUser.Path; p != "" {
				abs, _ := filepath.Abs(p)
				line := s.key("vhost-user").line
				if prev, ok := sockets[abs]; ok {
					return f.errorf(line, "vhost-user %q: the session at line %d uses this socket too; give each session its own", p, prev.s.line)
				}
				sockets[abs] = where{t, s, line}
				continue // no TAP
			}
			if mac := fixedMAC(&sc.TAP); mac != "" {
				k := s.key("mac")
				if prev, ok := macs[mac]; ok {
					return f.errorf(k.line, "mac %s: the session at line %d gives its TAP this MAC too; give each TAP its own (or leave mac out: persistent MACs differ by TAP name)", k.raw, prev.s.line)
				}
				macs[mac] = where{t, s, k.line}
			}
			name := sc.TAP.Name
			if strings.Contains(name, "%") {
				continue // a pattern: the kernel picks a free name each time
			}
			line := s.line
			if k := s.key("ifname"); k != nil {
				line = k.line
			}
			if prev, ok := ifnames[name]; ok {
				return f.errorf(line, "ifname %q: the session at line %d has this TAP too; give each session its own ifname (or a pattern with %%d)", name, prev.s.line)
			}
			ifnames[name] = where{t, s, line}
		}
	}
	return nil
}
