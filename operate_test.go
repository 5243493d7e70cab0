//go:build linux

package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

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
	if err := writeManPage(&b); err != nil {
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
	err := writeManPage(&bytes.Buffer{})
	delete(daemon.CounterDocs, "a_counter_l2tap_never_prints")
	if err == nil {
		t.Error("writeManPage accepted a description of a counter l2tap does not print")
	}
	saved := daemon.CounterDocs["rx_bytes"]
	delete(daemon.CounterDocs, "rx_bytes")
	err = writeManPage(&bytes.Buffer{})
	daemon.CounterDocs["rx_bytes"] = saved
	if err == nil || !strings.Contains(err.Error(), "rx_bytes") {
		t.Errorf("writeManPage with rx_bytes undescribed: err %v, want one naming rx_bytes", err)
	}
}

// TestManPageRenders runs groff with every warning on: the page must
// render without one, and show every option and section.
func TestManPageRenders(t *testing.T) {
	requireTools(t, false, "groff")
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

// bashComplete sources the bash completion, completes the last of words
// and returns COMPREPLY. wrap, if any, runs bash (ip netns exec ...).
func bashComplete(t *testing.T, wrap []string, words ...string) []string {
	t.Helper()
	script := `source scripts/completions/l2tap.bash
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_l2tap
printf '%s\n' "${COMPREPLY[@]}"`
	args := append(append(wrap, "bash", "--norc", "-c", script, "bash"), words...)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	var reply []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if l != "" {
			reply = append(reply, l)
		}
	}
	return reply
}

func TestBashCompletion(t *testing.T) {
	requireTools(t, false, "bash")
	if got, want := sorted(bashComplete(t, nil, "l2tap", "-")), sorted(cliFlagNames()); !slices.Equal(got, want) {
		t.Errorf("l2tap -<TAB>: %v\nthe options are %v: update scripts/completions/l2tap.bash", got, want)
	}
	if got, want := sorted(bashComplete(t, nil, "l2tap", "show", "-")), sorted(showFlagNames()); !slices.Equal(got, want) {
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
		if got := sorted(bashComplete(t, nil, tc.words...)); !slices.Equal(got, sorted(tc.want)) {
			t.Errorf("complete %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestBashCompletionBridges completes -master with the bridges of a
// namespace of its own, where a bridge and a plain interface are made.
func TestBashCompletionBridges(t *testing.T) {
	requireTools(t, true, "bash", "ip")
	ns := newNetns(t, "cbr")
	ns.ip(t, "link", "add", "brtest0", "type", "bridge")
	ns.ip(t, "link", "add", "brtest1", "type", "bridge")
	ns.ip(t, "link", "add", "vtest0", "type", "veth", "peer", "name", "vtest1")
	wrap := []string{"ip", "netns", "exec", string(ns)}
	if got, want := sorted(bashComplete(t, wrap, "l2tap", "-master", "")), []string{"brtest0", "brtest1"}; !slices.Equal(got, want) {
		t.Errorf("l2tap -master <TAB> in a namespace with two bridges and a veth pair: %q, want %q", got, want)
	}
	if got, want := bashComplete(t, wrap, "l2tap", "-master", "brtest1"), []string{"brtest1"}; !slices.Equal(got, want) {
		t.Errorf("l2tap -master brtest1<TAB>: %q, want %q", got, want)
	}
	if got, want := sorted(bashComplete(t, wrap, "l2tap", "-ifname", "")), []string{"brtest0", "brtest1", "lo", "vtest0", "vtest1"}; !slices.Equal(got, want) {
		t.Errorf("l2tap -ifname <TAB>: %q, want %q", got, want)
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
	requireTools(t, false, "zsh")
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

// TestVersion builds l2tap with VCS stamping on and runs -version: in a
// git checkout it names HEAD, whether the work tree has changes, and the
// commit's date. Go stamps nothing in a git worktree (its .git is a file,
// which Go does not look for), where the line must say so.
func TestVersion(t *testing.T) {
	requireTools(t, false, "git")
	bin := filepath.Join(t.TempDir(), "l2tap")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("l2tap -version: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`^l2tap (\S+) commit ([0-9a-f]{40}|unknown)(\+dirty)? date (\S+) (go\S+)\n$`)
	m := re.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("l2tap -version printed %q, want one line matching %s", out, re)
	}
	if out2, err := exec.Command(bin, "-version", "-udp").CombinedOutput(); err != nil || !bytes.Equal(out2, out) {
		t.Errorf("l2tap -version -udp: %v %q, want %q", err, out2, out)
	}
	top := strings.TrimSpace(run(t, "git", "rev-parse", "--show-toplevel"))
	if fi, err := os.Stat(filepath.Join(top, ".git")); err != nil || !fi.IsDir() {
		t.Logf("%s is a git worktree: Go records no VCS information", top)
		if m[2] != "unknown" || m[4] != "unknown" {
			t.Errorf("no VCS information, yet -version printed %q", out)
		}
		return
	}
	head := strings.TrimSpace(run(t, "git", "rev-parse", "HEAD"))
	if m[2] != head {
		t.Errorf("commit %s, HEAD is %s", m[2], head)
	}
	if !strings.Contains(m[1], head[:12]) && strings.TrimSpace(run(t, "git", "tag", "--points-at", "HEAD")) == "" {
		t.Errorf("module version %q does not name HEAD %s", m[1], head[:12])
	}
	date, err := time.Parse(time.RFC3339, m[4])
	if err != nil {
		t.Fatalf("date %q: %v", m[4], err)
	}
	commitDate, err := time.Parse(time.RFC3339, strings.TrimSpace(run(t, "git", "log", "-1", "--format=%cI", "HEAD")))
	if err != nil {
		t.Fatal(err)
	}
	if !date.Equal(commitDate) {
		t.Errorf("date %s, HEAD was committed %s", date, commitDate)
	}
	dirty := strings.TrimSpace(run(t, "git", "status", "--porcelain")) != ""
	if (m[3] != "") != dirty {
		t.Errorf("+dirty is %q, the work tree has changes: %v", m[3], dirty)
	}
}

// TestVersionStamped: make build stamps the version from git describe, the
// commit and its date, in this checkout (a clone or a worktree, which Go
// itself does not stamp) and in a tarball made by git archive (from its
// VERSION file): -version prints no "unknown".
func TestVersionStamped(t *testing.T) {
	requireTools(t, false, "make", "git", "tar")
	head := strings.TrimSpace(run(t, "git", "rev-parse", "HEAD"))
	date := strings.TrimSpace(run(t, "git", "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", "HEAD"))
	describe := strings.TrimSpace(run(t, "git", "describe", "--tags", "--always", "--dirty"))
	commit := head
	if strings.HasSuffix(describe, "-dirty") {
		commit += "+dirty"
	}
	tarball := t.TempDir()
	archive := exec.Command("sh", "-c", `git archive HEAD | tar -x -C "$1"`, "sh", tarball)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	undescribed := strings.TrimSpace(run(t, "git", "describe", "--tags", "--always", "HEAD"))
	for _, c := range []struct {
		name, dir, version, commit string
	}{
		{"checkout", ".", describe, commit},
		{"git archive", tarball, undescribed, head},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "l2tap")
			mk := exec.Command("make", "build", "BIN="+bin)
			mk.Dir = c.dir
			if out, err := mk.CombinedOutput(); err != nil {
				t.Fatalf("make build in %s: %v\n%s", c.dir, err, out)
			}
			out, err := exec.Command(bin, "-version").CombinedOutput()
			if err != nil {
				t.Fatalf("-version: %v\n%s", err, out)
			}
			f := strings.Fields(string(out))
			if want := []string{"l2tap", c.version, "commit", c.commit, "date", date}; len(f) != 7 || !slices.Equal(f[:6], want) {
				t.Errorf("-version printed %q, want %q and the Go version", out, strings.Join(want, " "))
			}
			if strings.Contains(string(out), "unknown") {
				t.Errorf("-version printed %q", out)
			}
		})
	}
}

// TestInstall installs into a temporary DESTDIR, checks every file, and
// uninstalls: nothing may be left.
func TestInstall(t *testing.T) {
	requireTools(t, false, "make", "install", "sed")
	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "l2tap")
	for _, prefix := range []string{"/usr/local", "/opt/l2tap"} {
		t.Run(strings.ReplaceAll(prefix, "/", "_"), func(t *testing.T) {
			mk := func(target string) {
				t.Helper()
				out, err := exec.Command("make", target, "DESTDIR="+dest, "PREFIX="+prefix, "BIN="+bin).CombinedOutput()
				if err != nil {
					t.Fatalf("make %s: %v\n%s", target, err, out)
				}
			}
			mk("install")
			want := map[string]fs.FileMode{
				prefix + "/bin/l2tap":                               0o755,
				prefix + "/share/man/man8/l2tap.8":                  0o644,
				prefix + "/share/bash-completion/completions/l2tap": 0o644,
				prefix + "/share/zsh/site-functions/_l2tap":         0o644,
				prefix + "/lib/systemd/system/l2tap@.service":       0o644,
				prefix + "/libexec/l2tap/qemu-ifup":                 0o755,
			}
			found := map[string]bool{}
			err := filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel := strings.TrimPrefix(path, dest)
				mode, ok := want[rel]
				if !ok {
					t.Errorf("make install wrote %s, which it should not", rel)
					return nil
				}
				found[rel] = true
				fi, err := d.Info()
				if err != nil {
					return err
				}
				if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
					t.Errorf("%s: mode %v, want a regular file %v", rel, fi.Mode(), mode)
				}
				if fi.Size() == 0 {
					t.Errorf("%s is empty", rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for f := range want {
				if !found[f] {
					t.Errorf("make install did not write %s", f)
				}
			}
			unit, err := os.ReadFile(filepath.Join(dest, prefix, "lib/systemd/system/l2tap@.service"))
			if err != nil {
				t.Fatal(err)
			}
			execStart := regexp.MustCompile(`(?m)^ExecStart=(\S+)`).FindAllSubmatch(unit, -1)
			if len(execStart) != 1 || string(execStart[0][1]) != prefix+"/bin/l2tap" {
				t.Errorf("unit's ExecStart lines %q, want one running %s/bin/l2tap", execStart, prefix)
			}
			page, err := os.ReadFile(filepath.Join(dest, prefix, "share/man/man8/l2tap.8"))
			if err != nil {
				t.Fatal(err)
			}
			committed, _ := os.ReadFile("docs/l2tap.8")
			if !bytes.Equal(page, committed) {
				t.Error("installed man page differs from docs/l2tap.8")
			}
			if out, err := exec.Command(filepath.Join(dest, prefix, "bin/l2tap"), "-version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "l2tap ") {
				t.Errorf("installed l2tap -version: %v %q", err, out)
			}

			mk("uninstall")
			err = filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("make uninstall left %s", strings.TrimPrefix(path, dest))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dest, prefix, "libexec/l2tap")); !os.IsNotExist(err) {
				t.Errorf("make uninstall left the directory %s/libexec/l2tap (%v)", prefix, err)
			}
		})
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
