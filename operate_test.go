//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/test/testenv"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/daemon"
)

// cliFlagNames returns the name of every option l2tap accepts, -help
// included, as "-name".
func cliFlagNames() []string {
	var names []string
	for _, fl := range newApp(&config.Options{}).Flags {
		names = append(names, "-"+fl.Names()[0])
	}
	return append(names, "-help")
}

// showFlagNames is the same for l2tap show.
func showFlagNames() []string {
	var names []string
	for _, fl := range showCommand().Flags {
		names = append(names, "-"+fl.Names()[0])
	}
	return append(names, "-help")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestManPageCurrent fails when docs/l2tap.8 is not what `l2tap man`
// writes from the current flags and counters: run make man.
func TestManPageCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := writeManPage(&b, newApp(&config.Options{})); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("docs/l2tap.8")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), committed) {
		t.Fatal("docs/l2tap.8 differs from what the flag definitions give: run make man and commit docs/l2tap.8")
	}
	page := b.String()
	for _, name := range append(cliFlagNames(), showFlagNames()...) {
		if !strings.Contains(page, `.B \`+name+"\n") && !strings.Contains(page, `.BI \`+name+` "`) {
			t.Errorf("man page has no entry for %s", name)
		}
	}
	for _, name := range daemon.CounterNames() {
		if !strings.Contains(page, ".B "+roffEscape(name)+"\n") {
			t.Errorf("man page has no entry for counter %s", name)
		}
	}
}

// TestManPageCounters checks that the counters the page explains are
// exactly those l2tap prints.
func TestManPageCounters(t *testing.T) {
	names := daemon.CounterNames()
	for _, n := range []string{"rx_packets", "tx_bytes", "rx_cookie_discards", "rx_wrong_source", daemon.ProcsRaised} {
		if !slices.Contains(names, n) {
			t.Errorf("daemon.CounterNames() lacks %s: %v", n, names)
		}
	}
	daemon.CounterDocs["a_counter_l2tap_never_prints"] = "x"
	err := writeManPage(&bytes.Buffer{}, newApp(&config.Options{}))
	delete(daemon.CounterDocs, "a_counter_l2tap_never_prints")
	if err == nil {
		t.Error("writeManPage accepted a description of a counter l2tap does not print")
	}
	saved := daemon.CounterDocs["rx_bytes"]
	delete(daemon.CounterDocs, "rx_bytes")
	err = writeManPage(&bytes.Buffer{}, newApp(&config.Options{}))
	daemon.CounterDocs["rx_bytes"] = saved
	if err == nil || !strings.Contains(err.Error(), "rx_bytes") {
		t.Errorf("writeManPage with rx_bytes undescribed: err %v, want one naming rx_bytes", err)
	}
}

// TestManPageRenders runs groff with every warning on: the page must
// render without one, and show every option and section.
func TestManPageRenders(t *testing.T) {
	testenv.RequireTools(t, false, "groff")
	cmd := exec.Command("groff", "-ww", "-man", "-Tutf8", "docs/l2tap.8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("groff: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("groff -ww warns:\n%s", stderr.String())
	}
	// Strip the overstrike that -Tutf8 uses for bold and italics.
	text := regexp.MustCompile(".\b").ReplaceAllString(stdout.String(), "")
	for _, want := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "COUNTERS", "SIGNALS", "EXIT STATUS", "PEERS", "EXAMPLES", "FILES", "SEE ALSO", "-offload MODE", "-version", "rx_cookie_discards", "ip l2tp add session"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestBashCompletion(t *testing.T) {
	testenv.RequireTools(t, false, "bash")
	if got, want := sorted(testenv.BashComplete(t, nil, "l2tap", "-")), sorted(cliFlagNames()); !slices.Equal(got, want) {
		t.Errorf("l2tap -<TAB>: %v\nthe options are %v: update scripts/completions/l2tap.bash", got, want)
	}
	if got, want := sorted(testenv.BashComplete(t, nil, "l2tap", "show", "-")), sorted(showFlagNames()); !slices.Equal(got, want) {
		t.Errorf("l2tap show -<TAB>: %v, want %v", got, want)
	}
	dir := t.TempDir()
	for _, f := range []string{"a.toml", "b.prof"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"l2tap", "-offload", ""}, []string{"auto", "full", "off"}},
		{[]string{"l2tap", "-offload", "f"}, []string{"full"}},
		{[]string{"l2tap", "-sched", ""}, []string{"batch", "normal"}},
		{[]string{"l2tap", "--sched", "n"}, []string{"normal"}},
		{[]string{"l2tap", "-seccomp", "=", ""}, []string{"on", "off"}},
		{[]string{"l2tap", "-seccomp", "=", "of"}, []string{"off"}},
		{[]string{"l2tap", "-seccomp", "="}, []string{"on", "off"}},
		{[]string{"l2tap", "-seccomp=o"}, []string{"-seccomp=on", "-seccomp=off"}},
		{[]string{"l2tap", "-offload=a"}, []string{"-offload=auto"}},
		{[]string{"l2tap", "-config", dir + "/a"}, []string{dir + "/a.toml"}},
		{[]string{"l2tap", "-cpuprofile", dir + "/b"}, []string{dir + "/b.prof"}},
		{[]string{"l2tap", "-memprofile", dir + "/b"}, []string{dir + "/b.prof"}},
		{[]string{"l2tap", "show", "-socket", dir + "/a"}, []string{dir + "/a.toml"}},
		{[]string{"l2tap", "show", "-json=o"}, []string{"-json=on", "-json=off"}},
		{[]string{"l2tap", "sh"}, []string{"show"}},
		{[]string{"l2tap", "-udp", "-of"}, []string{"-offload", "-offset"}},
		{[]string{"l2tap", "-src", ""}, nil},
	} {
		if got := sorted(testenv.BashComplete(t, nil, tc.words...)); !slices.Equal(got, sorted(tc.want)) {
			t.Errorf("complete %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

// zshSpecs runs the zsh completion function with _arguments and its
// helpers replaced by stubs that print the option specifications they
// are given, one per line.
func zshSpecs(t *testing.T, words ...string) []string {
	t.Helper()
	script := `_arguments() { shift 2; printf '%s\n' "$@"; }
words=("$@"); CURRENT=$#
source scripts/completions/_l2tap`
	out, err := exec.Command("zsh", append([]string{"-f", "-c", script, "zsh"}, words...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("zsh completion of %q: %v\n%s", words, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestZshCompletion(t *testing.T) {
	testenv.RequireTools(t, false, "zsh")
	if out, err := exec.Command("zsh", "-n", "scripts/completions/_l2tap").CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	optName := regexp.MustCompile(`^(-[a-z0-9-]+?)[=\[]`)
	names := func(specs []string) (names []string, byName map[string]string) {
		byName = map[string]string{}
		for _, s := range specs {
			if m := optName.FindStringSubmatch(s); m != nil {
				names = append(names, m[1])
				byName[m[1]] = s
			}
		}
		return sorted(names), byName
	}
	specs := zshSpecs(t, "l2tap", "-")
	got, byName := names(specs)
	if want := sorted(cliFlagNames()); !slices.Equal(got, want) {
		t.Errorf("zsh options %v\nthe options are %v: update scripts/completions/_l2tap", got, want)
	}
	for name, want := range map[string]string{
		"-offload": ":(auto full off)", "-sched": ":(batch normal)", "-seccomp": ":(on off)",
		"-master": ":_l2tap_bridges", "-config": ":_files", "-cpuprofile": ":_files", "-memprofile": ":_files",
	} {
		if !strings.HasSuffix(byName[name], want) {
			t.Errorf("zsh spec for %s is %q, want it to end in %q", name, byName[name], want)
		}
	}
	if !slices.Contains(specs, "1:command:(show)") {
		t.Errorf("zsh specs offer no show command: %q", specs)
	}
	got, _ = names(zshSpecs(t, "l2tap", "show", "-"))
	if want := sorted(showFlagNames()); !slices.Equal(got, want) {
		t.Errorf("zsh show options %v, want %v", got, want)
	}
}

func TestFormatVersion(t *testing.T) {
	vcs := func(modified string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2024-05-06T07:08:09Z"},
			{Key: "vcs.modified", Value: modified},
		}}
	}
	noVCS := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}
	stamp := versionStamp{"0~git20250101.010203.fedcba9", "fedcba9876543210fedcba9876543210fedcba98+dirty", "2025-01-01T01:02:03Z"}
	for _, c := range []struct {
		name  string
		bi    *debug.BuildInfo
		stamp versionStamp
		want  string
	}{
		{"vcs dirty", vcs("true"), versionStamp{}, "l2tap v1.2.3 commit 0123456789abcdef0123456789abcdef01234567+dirty date 2024-05-06T07:08:09Z go1.99"},
		{"vcs clean", vcs("false"), versionStamp{}, "l2tap v1.2.3 commit 0123456789abcdef0123456789abcdef01234567 date 2024-05-06T07:08:09Z go1.99"},
		{"nothing", nil, versionStamp{}, "l2tap unknown commit unknown date unknown unknown"},
		{"no vcs", noVCS, versionStamp{}, "l2tap (devel) commit unknown date unknown go1.99"},
		{"stamped", noVCS, stamp, "l2tap 0~git20250101.010203.fedcba9 commit fedcba9876543210fedcba9876543210fedcba98+dirty date 2025-01-01T01:02:03Z go1.99"},
		// The stamp wins over Go's record, whose +dirty does not apply to it.
		{"stamped over vcs", vcs("true"), versionStamp{"v2.0.0", "fedcba9876543210fedcba9876543210fedcba98", "2025-01-01T01:02:03Z"},
			"l2tap v2.0.0 commit fedcba9876543210fedcba9876543210fedcba98 date 2025-01-01T01:02:03Z go1.99"},
		{"version only", vcs("false"), versionStamp{version: "v2.0.0"}, "l2tap v2.0.0 commit 0123456789abcdef0123456789abcdef01234567 date 2024-05-06T07:08:09Z go1.99"},
	} {
		if got := formatVersion(c.bi, c.stamp); got != c.want {
			t.Errorf("%s: formatVersion = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestVersionNotAFileKey: -version exists on the command line only; a
// configuration file that gives it is refused.
func TestVersionNotAFileKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l2tap.toml")
	file := "version = true\n[[tunnel]]\nsrc = \"192.0.2.1\"\ndst = \"192.0.2.2\"\n[[tunnel.session]]\ntxsession = 1\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.LoadConfigFile(path)
	if err == nil || !strings.Contains(err.Error(), ":1: version") || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("a file with version = true: err %v, want an unknown key error on line 1", err)
	}
}
