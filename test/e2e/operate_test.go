//go:build linux

package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/l2tap/l2tap/test/testenv"
)

// TestBashCompletionBridges completes -master with the bridges of a
// namespace of its own, where a bridge and a plain interface are made.
func TestBashCompletionBridges(t *testing.T) {
	requireTools(t, true, "bash", "ip")
	ns := newNetns(t, "cbr")
	ns.ip(t, "link", "add", "brtest0", "type", "bridge")
	ns.ip(t, "link", "add", "brtest1", "type", "bridge")
	ns.ip(t, "link", "add", "vtest0", "type", "veth", "peer", "name", "vtest1")
	wrap := []string{"ip", "netns", "exec", string(ns)}
	if got, want := slices.Sorted(slices.Values(testenv.BashComplete(t, wrap, "l2tap", "-master", ""))), []string{"brtest0", "brtest1"}; !slices.Equal(got, want) {
		t.Errorf("l2tap -master <TAB> in a namespace with two bridges and a veth pair: %q, want %q", got, want)
	}
	if got, want := testenv.BashComplete(t, wrap, "l2tap", "-master", "brtest1"), []string{"brtest1"}; !slices.Equal(got, want) {
		t.Errorf("l2tap -master brtest1<TAB>: %q, want %q", got, want)
	}
	if got, want := slices.Sorted(slices.Values(testenv.BashComplete(t, wrap, "l2tap", "-ifname", ""))), []string{"brtest0", "brtest1", "lo", "vtest0", "vtest1"}; !slices.Equal(got, want) {
		t.Errorf("l2tap -ifname <TAB>: %q, want %q", got, want)
	}
}

// TestVersion builds l2tap with VCS stamping on and runs -version: in a
// git checkout it names HEAD, whether the work tree has changes, and the
// commit's date. Go stamps nothing in a git worktree (its .git is a file,
// which Go does not look for), where the line must say so.
func TestVersion(t *testing.T) {
	requireTools(t, false, "git")
	// Beside other tests: a build and one run; no time bound.
	t.Parallel()
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
	// Beside other tests: two builds and their -version; no time bound.
	t.Parallel()
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
	// Beside other tests: a build installed into a DESTDIR of its own; no
	// time bound.
	t.Parallel()
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
