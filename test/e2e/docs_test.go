//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The examples of the README and docs/*.md are fenced code blocks whose
// info string says how this file checks them:
//
//	```sh       commands: every l2tap command is run (see runCommand);
//	            mkdir, echo and chmod (writing a secret file) are run too, any
//	            other command fails the test as not covered
//	```toml     a configuration file: l2tap -config FILE is run; a first
//	            line "# /etc/l2tap/NAME" names the file for the commands (a
//	            norun file is written there too, for the commands to refuse)
//	```console  "$ l2tap ..." lines, each followed by the output it must print
//	```interfaces  an /etc/network/interfaces file: the l2tap-FLAG VALUE lines
//	            of each stanza are run as the ifupdown hook runs them
//
// A block that cannot run here says why after "norun:" in its info string
// (```xml norun: read by libvirt); the l2tap commands of a norun sh block
// are still run. text and xml blocks are always norun.

// docBlock is one fenced code block of a document.
type docBlock struct {
	file  string // path relative to the repository
	line  int    // of the opening fence
	lang  string // the info string's first word
	norun string // the reason after "norun:", empty if the block runs
	text  string // the lines between the fences
}

func (b docBlock) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docFiles are the documents whose examples are checked.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, files...)
}

// readDocBlocks returns the fenced code blocks of the document at path;
// an unterminated block is an error.
func readDocBlocks(path string) ([]docBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var blocks []docBlock
	var cur *docBlock
	var body []string
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			if cur != nil {
				body = append(body, line)
			}
			continue
		}
		if cur != nil {
			cur.text = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur, body = nil, nil
			continue
		}
		info := strings.TrimSpace(strings.TrimLeft(line, " `"))
		b := docBlock{file: path, line: i + 1}
		b.lang, b.norun, _ = strings.Cut(info, " ")
		if b.norun != "" {
			reason, ok := strings.CutPrefix(strings.TrimSpace(b.norun), "norun:")
			if !ok {
				return nil, fmt.Errorf("%s:%d: info string %q: after the language only \"norun: REASON\" is understood", path, i+1, info)
			}
			b.norun = strings.TrimSpace(reason)
			if b.norun == "" {
				return nil, fmt.Errorf("%s:%d: norun without a reason", path, i+1)
			}
		}
		cur = &b
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: the block at line %d is not closed", path, cur.line)
	}
	return blocks, nil
}

// shellWords splits one command into words as sh would for the plain
// quoting the examples use (single and double quotes, no expansions).
func shellWords(cmd string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// shellCommands splits a sh block into its simple commands: continuation
// lines joined, comments dropped, split at ;, &&, | and a trailing &.
func shellCommands(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var cmds []string
	for _, line := range strings.Split(text, "\n") {
		var cur strings.Builder
		var quote rune
		flush := func() {
			if s := strings.TrimSpace(cur.String()); s != "" {
				cmds = append(cmds, s)
			}
			cur.Reset()
		}
		rs := []rune(line)
		for i := 0; i < len(rs); i++ {
			r := rs[i]
			switch {
			case quote != 0:
				if r == quote {
					quote = 0
				}
				cur.WriteRune(r)
			case r == '\'' || r == '"':
				quote = r
				cur.WriteRune(r)
			case r == '#' && (i == 0 || unicode.IsSpace(rs[i-1])):
				i = len(rs)
			case r == ';' || r == '|' || r == '&':
				if r != ';' && i+1 < len(rs) && rs[i+1] == r {
					i++
				}
				flush()
			default:
				cur.WriteRune(r)
			}
		}
		flush()
	}
	return cmds
}

// withoutRedirections drops sh redirections (>FILE, 2>FILE, > FILE) from
// a command's words.
func withoutRedirections(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		w := strings.TrimLeft(words[i], "012")
		if strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") {
			if w == ">" || w == ">>" || w == "<" {
				i++
			}
			continue
		}
		out = append(out, words[i])
	}
	return out
}

// consoleCommand is one "$ command" of a console block and the output
// shown after it.
type consoleCommand struct {
	cmd    string
	output string
}

func consoleCommands(text string) []consoleCommand {
	var cmds []consoleCommand
	for _, line := range strings.Split(text, "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			if i := strings.Index(cmd, " #"); i >= 0 {
				cmd = cmd[:i]
			}
			cmds = append(cmds, consoleCommand{cmd: strings.TrimSpace(cmd)})
			continue
		}
		if len(cmds) > 0 && line != "" {
			c := &cmds[len(cmds)-1]
			c.output += line + "\n"
		}
	}
	return cmds
}

// docHelpers are the commands other than l2tap a runnable sh block may
// hold: they write the secret files the examples read, below the
// runner's root.
var docHelpers = []string{"mkdir", "echo", "chmod"}

// checkDocBlock reports what makes a block uncovered: an unknown
// language, a text block without a reason, a command the test cannot run.
func checkDocBlock(b docBlock) error {
	switch b.lang {
	case "sh", "toml", "console", "interfaces":
	case "text", "xml":
		if b.norun == "" {
			return fmt.Errorf("%s: a %s block is not run: say why with \"```%s norun: REASON\"", b, b.lang, b.lang)
		}
	case "":
		return fmt.Errorf("%s: a block without a language: give sh, toml, console, interfaces, text or xml (and norun: REASON if it cannot run)", b)
	default:
		return fmt.Errorf("%s: language %q: the docs test knows sh, toml, console, interfaces, text and xml", b, b.lang)
	}
	if b.norun != "" {
		return nil
	}
	switch b.lang {
	case "sh":
		for _, c := range shellCommands(b.text) {
			w := shellWords(c)
			if len(w) == 0 || w[0] == "l2tap" || slices.Contains(docHelpers, w[0]) {
				continue
			}
			return fmt.Errorf("%s: %q is not run by the docs test: run it from the test, or mark the block \"```sh norun: REASON\"", b, c)
		}
	case "console":
		cmds := consoleCommands(b.text)
		if len(cmds) == 0 {
			return fmt.Errorf("%s: a console block without a \"$ \" command", b)
		}
		for _, c := range cmds {
			if w := shellWords(c.cmd); len(w) == 0 || w[0] != "l2tap" {
				return fmt.Errorf("%s: console command %q is not l2tap: mark the block norun with a reason", b, c.cmd)
			}
		}
	}
	return nil
}

// headingSlug is the anchor GitHub gives a heading.
func headingSlug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// docAnchors are the anchors of a markdown file's headings (outside code
// blocks).
func docAnchors(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			inCode = !inCode
			continue
		}
		if !inCode && strings.HasPrefix(line, "#") {
			anchors[headingSlug(strings.TrimLeft(line, "#"))] = true
		}
	}
	return anchors, nil
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsBlocks checks, without running anything, that every code block
// of the README and docs/ is covered by TestDocsExamples or says why not,
// that every relative link leads to a file (and heading) that exists, and
// the README's shape: short, with the test command .ci/run relies on.
func TestDocsBlocks(t *testing.T) {
	files := docFiles(t)
	for _, want := range []string{"configuration", "operations", "peers", "performance", "design"} {
		if !slices.Contains(files, "docs/"+want+".md") {
			t.Errorf("docs/%s.md is missing", want)
		}
	}
	counts := map[string]int{}
	for _, f := range files {
		blocks, err := readDocBlocks(f)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range blocks {
			if err := checkDocBlock(b); err != nil {
				t.Error(err)
			}
			if b.norun != "" {
				counts["norun "+b.lang]++
			} else {
				counts[b.lang]++
			}
		}
	}
	t.Logf("blocks: %v", counts)
	// A reason that names the test running such an example must name one
	// that exists, wherever the tests move.
	var tests strings.Builder
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := os.ReadFile(path)
		tests.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		blocks, _ := readDocBlocks(f)
		for _, b := range blocks {
			for _, name := range regexp.MustCompile(`\bTest[A-Z]\w*`).FindAllString(b.norun, -1) {
				if !strings.Contains(tests.String(), "func "+name+"(") {
					t.Errorf("%s: norun names %s, which no test file defines", b, name)
				}
			}
		}
	}
	for _, lang := range []string{"sh", "toml", "console"} {
		if counts[lang] == 0 {
			t.Errorf("no runnable %s block in the docs: the examples would go unchecked", lang)
		}
	}

	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(string(data), "")
		text = regexp.MustCompile("`[^`\n]*`").ReplaceAllString(text, "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := f
			if file != "" {
				path = filepath.Join(filepath.Dir(f), file)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: link %s: %v", f, target, err)
				continue
			}
			if anchor == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			anchors, err := docAnchors(path)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors[anchor] {
				t.Errorf("%s: link %s: %s has no heading with that anchor", f, target, path)
			}
		}
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 250 {
		t.Errorf("README.md has %d lines; keep it at 250 at most and move details into docs/", n)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^make test\b`).Match(ci) || !strings.Contains(string(ci), "README") {
		t.Errorf(".ci/run no longer runs the README's test command (make test)")
	}
	if !regexp.MustCompile("(?m)^make test +# ").Match(readme) {
		t.Errorf("README.md lost its \"make test   # ...\" line, the test command .ci/run runs")
	}
	for _, link := range []string{"docs/options.md", "docs/l2tap.8"} {
		if !strings.Contains(string(readme), "("+link+")") {
			t.Errorf("README.md does not link %s", link)
		}
	}
}

// TestShellCommands pins the splitting the docs test relies on.
func TestShellCommands(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"# host a\nl2tap -udp \\\n  -src 192.0.2.1 &\n", []string{"l2tap -udp    -src 192.0.2.1"}},
		{"echo 'a # b; c' > /x; chmod 600 /x", []string{"echo 'a # b; c' > /x", "chmod 600 /x"}},
		{"ip link add br type bridge && ip link set br up", []string{"ip link add br type bridge", "ip link set br up"}},
		{"l2tap show -json | jq '.[0] | {tap}'", []string{"l2tap show -json", "jq '.[0] | {tap}'"}},
		{"make test   # every test", []string{"make test"}},
	} {
		if got := shellCommands(c.in); !slices.Equal(got, c.want) {
			t.Errorf("shellCommands(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got, want := hookCommands("auto vm0\niface vm0 inet static\n    address 10.1.0.1/24\n    l2tap-udp on\n    l2tap-src 192.0.2.1\n\niface vm1 inet manual\n    pre-up true\n"), []string{"l2tap -src=192.0.2.1 -udp=on -ifname=vm0"}; !slices.Equal(got, want) {
		t.Errorf("hookCommands = %q, want %q", got, want)
	}
	r := &docRunner{root: "/tmp/x1"}
	for in, want := range map[string]string{
		"mkdir -p /etc/l2tap /run/l2tap":         "mkdir -p /tmp/x1/etc/l2tap /tmp/x1/run/l2tap",
		"echo s > /etc/l2tap/b.secret":           "echo s > /tmp/x1/etc/l2tap/b.secret",
		`secret-file = "/etc/l2tap/b.secret"`:    `secret-file = "/tmp/x1/etc/l2tap/b.secret"`,
		"-pcap=/var/tmp/vm0.pcap /etc/l2tapx /x": "-pcap=/tmp/x1/var/tmp/vm0.pcap /etc/l2tapx /x",
	} {
		if got := r.local(in); got != want {
			t.Errorf("local(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := withoutRedirections(shellWords(`l2tap -config "/etc/a b.toml" 2>log.json >counters.json`)), []string{"l2tap", "-config", "/etc/a b.toml"}; !slices.Equal(got, want) {
		t.Errorf("words = %q, want %q", got, want)
	}
	for _, bad := range []docBlock{
		{file: "x.md", line: 1, lang: "sh", text: "qemu-system-x86_64 -m 1G"},
		{file: "x.md", line: 1, lang: "text", text: "output"},
		{file: "x.md", line: 1, lang: "", text: "l2tap -help"},
		{file: "x.md", line: 1, lang: "console", text: "$ ip link\n1: lo"},
	} {
		if checkDocBlock(bad) == nil {
			t.Errorf("%s block %q passes as covered", bad.lang, bad.text)
		}
	}
}

// docRunner runs the examples in two namespaces joined as the examples'
// hosts a (192.0.2.1, 2001:db8::1) and b (192.0.2.2, 2001:db8::2).
type docRunner struct {
	bin  string
	a, b netns
	root string // stands in for /: the examples' /etc/l2tap, /run/l2tap and /var/tmp are below it
	// ran counts what was run: l2tap commands, files, output comparisons, pairs.
	ran map[string]int
}

// hostPaths are the directories of the examples' files, moved below root.
var hostPaths = []string{"/etc/l2tap/", "/run/l2tap/", "/var/tmp/"}

// hostPath matches the examples' directories (see hostPaths) where a path
// starts: the start of a word, or after = or a quote.
var hostPath = regexp.MustCompile(`(^|[\s="'>])(/etc/l2tap|/run/l2tap|/var/tmp)(/|$|[\s"'])`)

// local moves the examples' paths in s below the runner's root.
func (r *docRunner) local(s string) string {
	// Twice: a match takes the character after the path, which may be
	// where the next path starts. A moved path is not matched again.
	for range 2 {
		s = hostPath.ReplaceAllString(s, "${1}"+r.root+"${2}${3}")
	}
	return s
}

var (
	srcAddr   = regexp.MustCompile(`(?m)(?:-src[=\s]\s*|^\s*src\s*=\s*")([0-9a-f.:]+)`)
	masterArg = regexp.MustCompile(`(?m)(?:-master[=\s]\s*|^\s*master\s*=\s*")([A-Za-z0-9_.-]+)`)
	ifnameArg = regexp.MustCompile(`-ifname[=\s]\s*(\S+)`)
	secretArg = regexp.MustCompile(`(?m)(?:-secret-file[=\s]\s*|^\s*secret-file\s*=\s*")([^"\s]+)`)
)

// host is the namespace an example runs in: b for host b's addresses.
func (r *docRunner) host(text string) netns {
	if m := srcAddr.FindStringSubmatch(text); m != nil && (m[1] == "192.0.2.2" || m[1] == "2001:db8::2") {
		return r.b
	}
	return r.a
}

// prepare creates what an example expects on its host: the bridges it
// names and the secret files it reads.
func (r *docRunner) prepare(t *testing.T, ns netns, text string) {
	t.Helper()
	for _, m := range masterArg.FindAllStringSubmatch(text, -1) {
		if exec.Command("ip", "-n", string(ns), "link", "show", m[1]).Run() != nil {
			ns.ip(t, "link", "add", m[1], "type", "bridge")
			ns.ip(t, "link", "set", m[1], "up")
		}
	}
	for _, m := range secretArg.FindAllStringSubmatch(text, -1) {
		path := r.local(m[1])
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(path, []byte("a docs example's shared secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// l2tapArgs are an l2tap command's arguments with the paths moved.
func (r *docRunner) l2tapArgs(cmd string) []string {
	w := withoutRedirections(shellWords(cmd))[1:]
	for i := range w {
		w[i] = r.local(w[i])
	}
	return w
}

// isDaemon tells an l2tap command that runs a pseudowire from one that
// answers and exits (show, -version, -help, man).
func isDaemon(args []string) bool {
	if len(args) > 0 && (args[0] == "show" || args[0] == "man") {
		return false
	}
	return !slices.ContainsFunc(args, func(a string) bool {
		return a == "-version" || a == "-help" || a == "--help" || a == "-h"
	})
}

// runOnce runs an l2tap command that exits in ns and returns its output
// and exit code.
func (r *docRunner) runOnce(t *testing.T, ns netns, args []string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", string(ns), r.bin}, args...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("l2tap %s: still running after 30s\n%s", strings.Join(args, " "), out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// runCommand runs one l2tap command of an example: a pseudowire is started
// in its host's namespace, must log its ready line and stops cleanly on
// SIGTERM; show and the like must accept their options (show exits 1 when
// no l2tap answers, 2 on a bad option).
func (r *docRunner) runCommand(t *testing.T, cmd string) {
	t.Helper()
	args := r.l2tapArgs(cmd)
	ns := r.host(cmd)
	r.prepare(t, ns, cmd)
	r.ran["l2tap commands"]++
	if isDaemon(args) {
		p := startL2tap(t, ns, args...)
		p.stop(t)
		return
	}
	out, code := r.runOnce(t, ns, args)
	if code == 2 || code != 0 && !(args[0] == "show" && code == 1) {
		t.Errorf("%s: exit code %d\n%s", cmd, code, out)
	}
}

// runPair starts host a's and host b's l2tap of an example together, gives
// their TAPs (or the bridges they join) the overlay addresses 10.1.0.1 and
// 10.1.0.2 and pings across: the example's pseudowire must carry.
func (r *docRunner) runPair(t *testing.T, cmdA, cmdB string) {
	t.Helper()
	var procs []*proc
	for _, c := range []struct {
		cmd  string
		ns   netns
		addr string
	}{{cmdA, r.a, "10.1.0.1/24"}, {cmdB, r.b, "10.1.0.2/24"}} {
		r.prepare(t, c.ns, c.cmd)
		procs = append(procs, startL2tap(t, c.ns, r.l2tapArgs(c.cmd)...))
		dev := ifnameArg.FindStringSubmatch(c.cmd)
		if dev == nil {
			t.Fatalf("pair example %q names no -ifname to address", c.cmd)
		}
		if m := masterArg.FindStringSubmatch(c.cmd); m != nil {
			dev[1] = m[1]
		}
		if c.ns == r.b {
			// Both namespaces share this machine's /etc/machine-id, so two
			// TAPs of one name get the same persistent MAC; two hosts would not.
			c.ns.ip(t, "link", "set", dev[1], "address", "02:00:5e:10:00:02")
		}
		c.ns.ip(t, "addr", "add", c.addr, "dev", dev[1])
		// A bridge outlives the example; its address must not.
		defer exec.Command("ip", "-n", string(c.ns), "addr", "del", c.addr, "dev", dev[1]).Run()
	}
	if err := r.a.pingEventually(t, "10.1.0.2", 20*time.Second); err != nil {
		t.Errorf("the pseudowire of %q and %q carries no ping: %v\nhost a:\n%s\nhost b:\n%s", cmdA, cmdB, err, procs[0].stderr.String(), procs[1].stderr.String())
	}
	for _, p := range procs {
		p.stop(t)
	}
	r.ran["l2tap commands"] += 2
	r.ran["pseudowires pinged"]++
}

// runSh runs a sh block: helper commands, then its l2tap commands, the two
// ends of a pseudowire together when it shows both.
func (r *docRunner) runSh(t *testing.T, b docBlock) {
	var l2tap []string
	for _, c := range shellCommands(b.text) {
		w := shellWords(c)
		switch {
		case w[0] == "l2tap":
			l2tap = append(l2tap, c)
		case b.norun == "" && slices.Contains(docHelpers, w[0]):
			for _, word := range shellWords(r.local(c))[1:] {
				if word = strings.TrimLeft(word, "012<>"); strings.HasPrefix(word, "/") && !strings.HasPrefix(word, r.root+"/") {
					t.Fatalf("%s: %s is outside %s, the examples' directories the test moves", c, word, strings.Join(hostPaths, ", "))
				}
			}
			if out, err := exec.Command("sh", "-c", r.local(c)).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", c, err, out)
			}
		}
	}
	if len(l2tap) == 2 && b.norun == "" && r.host(l2tap[0]) != r.host(l2tap[1]) &&
		isDaemon(r.l2tapArgs(l2tap[0])) && isDaemon(r.l2tapArgs(l2tap[1])) {
		cmdA, cmdB := l2tap[0], l2tap[1]
		if r.host(cmdA) == r.b {
			cmdA, cmdB = cmdB, cmdA
		}
		r.runPair(t, cmdA, cmdB)
		return
	}
	for _, c := range l2tap {
		r.runCommand(t, c)
	}
}

// hookCommands are the l2tap commands the ifupdown hook
// (scripts/ifupdown/l2tap) runs for the stanzas of an interfaces file:
// each l2tap-FLAG VALUE line becomes -FLAG=VALUE, and -ifname is the
// interface's name unless l2tap-config is given.
func hookCommands(text string) []string {
	var cmds []string
	var iface string
	var args []string
	var config bool
	flush := func() {
		if len(args) > 0 {
			slices.Sort(args)
			if !config {
				args = append(args, "-ifname="+iface)
			}
			cmds = append(cmds, "l2tap "+strings.Join(args, " "))
		}
		args, config = nil, false
	}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "iface":
			flush()
			iface = f[1]
		case len(f) >= 1 && strings.HasPrefix(f[0], "l2tap-"):
			flag := strings.TrimPrefix(f[0], "l2tap-")
			config = config || flag == "config"
			if len(f) == 1 {
				args = append(args, "-"+flag)
			} else {
				args = append(args, "-"+flag+"="+strings.Join(f[1:], " "))
			}
		}
	}
	flush()
	return cmds
}

// tomlPath is where a toml block is written: the path its first line
// names ("# /etc/l2tap/NAME"), else a file of its own.
func (r *docRunner) tomlPath(b docBlock) string {
	first, _, _ := strings.Cut(b.text, "\n")
	if p, ok := strings.CutPrefix(first, "# /"); ok && !strings.ContainsAny(p, " \t") {
		return r.local("/" + p)
	}
	return filepath.Join(r.root, fmt.Sprintf("%s-%d.toml", strings.ReplaceAll(b.file, "/", "-"), b.line))
}

// TestDocsExamples runs the examples of the README and docs/ (see the top
// of this file): each l2tap command and configuration file to its ready
// line, the two ends of an example's pseudowire together with a ping
// across, and each console example against the output it shows.
func TestDocsExamples(t *testing.T) {
	requireTools(t, true, "ip", "ping", "sh")
	var blocks []docBlock
	for _, f := range docFiles(t) {
		bs, err := readDocBlocks(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	r := &docRunner{bin: l2tapBinary(t), root: t.TempDir(), ran: map[string]int{}}
	r.a, r.b = vethPair(t, "dx")
	// The accounts l2tap switches to must reach the files below root.
	for d := r.root; d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(d, st.Mode().Perm()|0o005); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range hostPaths {
		if err := os.MkdirAll(r.local(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The files first, so that the commands find the ones they name.
	for _, b := range blocks {
		if b.lang == "toml" {
			if err := os.WriteFile(r.tomlPath(b), []byte(r.local(b.text)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, b := range blocks {
		hasL2tap := slices.ContainsFunc(shellCommands(b.text), func(c string) bool { w := shellWords(c); return len(w) > 0 && w[0] == "l2tap" })
		if b.norun != "" && !(b.lang == "sh" && hasL2tap) {
			r.ran["norun blocks"]++
			continue
		}
		t.Run(b.String(), func(t *testing.T) {
			switch b.lang {
			case "sh":
				r.runSh(t, b)
			case "toml":
				path := r.tomlPath(b)
				ns := r.host(b.text)
				r.prepare(t, ns, b.text)
				p := startL2tap(t, ns, "-config", path)
				p.stop(t)
				r.ran["configuration files"]++
			case "interfaces":
				cmds := hookCommands(b.text)
				if len(cmds) == 0 {
					t.Fatalf("%s: no stanza with l2tap- lines", b)
				}
				for _, c := range cmds {
					r.runCommand(t, c)
				}
			case "console":
				for _, c := range consoleCommands(b.text) {
					out, _ := r.runOnce(t, r.host(c.cmd), r.l2tapArgs(c.cmd))
					// The example's paths, as l2tap names them, moved back.
					out = strings.ReplaceAll(out, r.root+"/", "/")
					if out != c.output {
						t.Errorf("$ %s\nprints:\n%sthe example shows:\n%s", c.cmd, out, c.output)
					}
					r.ran["outputs compared"]++
				}
			default:
				t.Fatalf("%s: language %q (see TestDocsBlocks)", b, b.lang)
			}
		})
		if b.norun == "" {
			r.ran["blocks run"]++
		} else {
			r.ran["norun blocks whose l2tap commands ran"]++
		}
	}
	t.Logf("%d blocks: %v", len(blocks), r.ran)
}
