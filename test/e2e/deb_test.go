//go:build linux

package e2e

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// debTools are what building, checking and installing the package takes.
var debTools = []string{"make", "git", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-buildpackage", "dh", "lintian"}

// sourceVersion runs scripts/version.sh and returns its NAME=VALUE lines.
func sourceVersion(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, line := range strings.Split(run(t, "./scripts/version.sh"), "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			vars[name] = value
		}
	}
	if vars["debversion"] == "" || vars["commit"] == "" {
		t.Fatalf("scripts/version.sh gave no debversion or commit: %v", vars)
	}
	return vars
}

// makeDeb runs make deb ARCH=arch into a new directory and returns the
// package it built, which must be the one file there, named
// l2tap_VERSION_ARCH.deb.
func makeDeb(t *testing.T, arch, version string) string {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	out, err := exec.Command("make", "deb", "ARCH="+arch, "DEBDIR="+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("make deb ARCH=%s: %v\n%s", arch, err, out)
	}
	t.Logf("make deb ARCH=%s: %v", arch, time.Since(start).Round(time.Millisecond))
	want := filepath.Join(dir, "l2tap_"+version+"_"+arch+".deb")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || filepath.Join(dir, ents[0].Name()) != want {
		t.Fatalf("make deb ARCH=%s wrote %v into DEBDIR, want only %s", arch, ents, filepath.Base(want))
	}
	for field, value := range map[string]string{"Package": "l2tap", "Version": version, "Architecture": arch} {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", want, field)); got != value {
			t.Errorf("%s: %s %q, want %q", filepath.Base(want), field, got, value)
		}
	}
	return want
}

// sha256File is the file's SHA-256 in hex.
func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lintianClean runs lintian on the package: no error and no warning (the
// package's overrides, each with its reason, apply).
func lintianClean(t *testing.T, deb string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("lintian", deb)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("lintian %s: %v, %q%s", filepath.Base(deb), time.Since(start).Round(time.Millisecond), out, stderr.String())
	if err != nil {
		t.Errorf("lintian %s: %v\n%s%s", filepath.Base(deb), err, out, stderr.String())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
}

// dpkg runs dpkg with args, waiting (5 minutes at most) while another dpkg
// or apt holds its lock, and returns its output.
func dpkg(t *testing.T, args ...string) (string, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			return string(out), err
		}
		time.Sleep(time.Second) // polls the lock: dpkg has no option to wait for it
	}
}

// dpkgStatus is dpkg's abbreviated status of the package l2tap ("ii ",
// "rc ", ...), or "" when dpkg does not know it.
func dpkgStatus() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "l2tap").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// accountExists reports whether getent finds name in the database (passwd
// or group), and its entry.
func accountExists(db, name string) (string, bool) {
	out, err := exec.Command("getent", db, name).Output()
	return strings.TrimSpace(string(out)), err == nil
}

// packageAccount reports whether the passwd entry user and the group
// entry group are the system account the package's postinst makes: a
// system user (uid 1-999) with its own group, home /nonexistent and no
// login shell.
func packageAccount(user, group string) bool {
	f := strings.Split(user, ":")
	if len(f) != 7 {
		return false
	}
	uid := atoi(f[2])
	return uid > 0 && uid < 1000 && strings.HasPrefix(group, "l2tap:x:"+f[3]+":") &&
		f[5] == "/nonexistent" && strings.HasSuffix(f[6], "nologin")
}

// processesAs returns the processes with uid as their real, effective or
// saved user ID (those for which userdel refuses to remove the account).
func processesAs(uid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid := atoi(ent.Name())
		if pid < 0 {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(ids); len(f) >= 3 && slices.Contains(f[:3], strconv.Itoa(uid)) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

// removeLeftoverAccount removes the user and group l2tap that a purge left
// while the package is not installed (a process ran as l2tap then, or an
// earlier run of this test stopped between install and purge), as the
// purge's message says: deluser --system l2tap. It fails the test, naming
// the fix, when the account is not the one postinst makes or a process
// still runs as it. Without such an account it does nothing.
func removeLeftoverAccount(t *testing.T) {
	t.Helper()
	user, ok := accountExists("passwd", "l2tap")
	if !ok {
		return
	}
	group, _ := accountExists("group", "l2tap")
	if !packageAccount(user, group) {
		t.Fatalf("a user l2tap exists without the package (%s, group %q), not the system account its postinst makes; this test creates and removes that one: remove this one (deluser l2tap) or run the test on another machine", user, group)
	}
	uid := atoi(strings.Split(user, ":")[2])
	if pids := processesAs(uid); pids != nil {
		t.Fatalf("the user l2tap a purge left (%s) is in use by processes %v: stop them, then deluser --system l2tap", user, pids)
	}
	if out, err := exec.Command("deluser", "--system", "--quiet", "l2tap").CombinedOutput(); err != nil {
		t.Fatalf("removing the user l2tap a purge left (%s): deluser --system l2tap: %v\n%s", user, err, out)
	}
	for _, db := range []string{"passwd", "group"} {
		if entry, ok := accountExists(db, "l2tap"); ok {
			t.Fatalf("deluser --system l2tap left l2tap in %s: %s", db, entry)
		}
	}
	t.Logf("removed the user and group l2tap a purge left: %s", user)
}

// TestDebPackage builds the Debian package twice with make deb (the two
// must be the same bytes), checks it with lintian, and installs it on this
// machine: the version, the manual page, the unit, the zsh completion, the
// system user, a pseudowire brought up by the ifupdown hook between two
// namespaces; then dpkg -r leaves only the configuration files and the user,
// and dpkg -P neither. Installed again, it is purged while a process runs
// as l2tap (debPurgeInUse). The package is purged at the end whatever
// happens, and an account a purge left is removed before and after.
func TestDebPackage(t *testing.T) {
	requireTools(t, true, append(debTools, "man", "systemd-analyze", "zsh", "getent", "deluser",
		"ifup", "ifdown", "unshare", "mount", "start-stop-daemon", "sleep")...)
	// Alone (no t.Parallel): it installs and removes the package on the
	// host.
	if s := dpkgStatus(); s != "" && s != "un " {
		t.Fatalf("the package l2tap is already on this machine (dpkg status %q); this test installs and purges it: dpkg -P l2tap first", s)
	}
	// An account an earlier purge left (see debPurgeInUse) would be taken
	// over by the install, which is to create it.
	removeLeftoverAccount(t)
	// Registered first, so that it runs after the purge at cleanup.
	t.Cleanup(func() {
		if s := dpkgStatus(); s != "" && s != "un " {
			return
		}
		if user, ok := accountExists("passwd", "l2tap"); ok {
			if pids := processesAs(atoi(strings.Split(user, ":")[2])); pids != nil {
				t.Logf("cleanup: the user l2tap stays, in use by processes %v; the next run removes it", pids)
				return
			}
			removeLeftoverAccount(t)
		}
	})
	vars := sourceVersion(t)
	version := vars["debversion"]
	arch := strings.TrimSpace(run(t, "dpkg", "--print-architecture"))

	deb := makeDeb(t, arch, version)
	again := makeDeb(t, arch, version)
	h1, h2 := sha256File(t, deb), sha256File(t, again)
	t.Logf("sha256 of the two builds:\n%s  %s\n%s  %s", h1, deb, h2, again)
	if h1 != h2 {
		t.Errorf("two make deb runs from one commit differ: %s and %s", h1, h2)
	}
	t.Logf("dpkg -c %s:\n%s", filepath.Base(deb), run(t, "dpkg", "-c", deb))
	lintianClean(t, deb)

	start := time.Now()
	if out, err := dpkg(t, "-i", deb); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	t.Logf("dpkg -i: %v", time.Since(start).Round(time.Millisecond))
	const bin = "/usr/sbin/l2tap"
	t.Cleanup(func() {
		for _, pid := range running(bin) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if dpkgStatus() != "" {
			if out, err := dpkg(t, "-P", "l2tap"); err != nil {
				t.Errorf("cleanup: dpkg -P l2tap: %v\n%s", err, out)
			}
		}
	})
	if s := dpkgStatus(); s != "ii " {
		t.Fatalf("after dpkg -i, status %q, want ii", s)
	}

	// What the package holds, as make install PREFIX=/usr lays it out in
	// Debian's places, and which of it are configuration files.
	owned := map[string]bool{}
	for _, path := range strings.Split(strings.TrimSpace(run(t, "dpkg-query", "-L", "l2tap")), "\n") {
		owned[path] = true
	}
	for _, path := range []string{bin, "/usr/share/man/man8/l2tap.8.gz", "/usr/share/bash-completion/completions/l2tap",
		"/usr/share/zsh/vendor-completions/_l2tap", "/lib/systemd/system/l2tap@.service", "/usr/libexec/l2tap/qemu-ifup",
		"/etc/network/if-pre-up.d/l2tap", "/etc/network/if-post-down.d/l2tap", "/etc/l2tap/vm0.conf.example",
		"/usr/share/doc/l2tap/copyright"} {
		if !owned[path] {
			t.Errorf("the package holds no %s", path)
		}
	}
	var conffiles []string
	for _, line := range strings.Split(run(t, "dpkg-query", "-W", "-f=${Conffiles}", "l2tap"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			conffiles = append(conffiles, f[0])
		}
	}
	slices.Sort(conffiles)
	if want := []string{"/etc/l2tap/vm0.conf.example", "/etc/network/if-pre-up.d/l2tap"}; !slices.Equal(conffiles, want) {
		t.Errorf("conffiles %q, want %q", conffiles, want)
	}

	// The system user and group.
	entry, ok := accountExists("passwd", "l2tap")
	if f := strings.Split(entry, ":"); !ok || len(f) != 7 {
		t.Fatalf("after dpkg -i, getent passwd l2tap: %q", entry)
	}
	t.Logf("conffiles %q; getent passwd l2tap: %s", conffiles, entry)
	uid := atoi(strings.Split(entry, ":")[2])
	if group, _ := accountExists("group", "l2tap"); !packageAccount(entry, group) {
		t.Errorf("user l2tap %q, group %q: want a system user (uid 1-999) with its own group, home /nonexistent, no login shell", entry, group)
	}
	if _, err := os.Stat("/nonexistent"); err == nil {
		t.Error("postinst created /nonexistent")
	}

	// -version prints the package version and the commit it was built from.
	out := run(t, bin, "-version")
	t.Logf("%s -version: %s", bin, strings.TrimSpace(out))
	if v := strings.Fields(out); len(v) != 7 || v[1] != version || v[3] != vars["commit"] || v[5] != vars["date"] {
		t.Errorf("%s -version: %q, want version %s, commit %s, date %s", bin, out, version, vars["commit"], vars["date"])
	}
	manPage := strings.TrimSpace(run(t, "man", "-w", "l2tap"))
	t.Logf("man -w l2tap: %s", manPage)
	if out := manPage; out != "/usr/share/man/man8/l2tap.8.gz" {
		t.Errorf("man -w l2tap: %q, want the package's page", out)
	}
	if out := strings.TrimSpace(run(t, "zsh", "-c", "print -rl -- $^fpath/_l2tap(N)")); out != "/usr/share/zsh/vendor-completions/_l2tap" {
		t.Errorf("zsh finds _l2tap in its fpath at %q, want the package's", out)
	}

	// The installed unit, for an instance whose configuration is the
	// package's example.
	unit, err := os.ReadFile("/lib/systemd/system/l2tap@.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart="+bin+" $L2TAP_ARGS\n") {
		t.Errorf("the unit does not run %s $L2TAP_ARGS:\n%s", bin, unit)
	}
	instance := "debtest" + strconv.Itoa(os.Getpid())
	conf := "/etc/l2tap/" + instance + ".conf"
	copyFile(t, "/etc/l2tap/vm0.conf.example", conf, 0o644)
	t.Cleanup(func() { os.Remove(conf) })
	out2, err := exec.Command("systemd-analyze", "verify", "/lib/systemd/system/l2tap@"+instance+".service").CombinedOutput()
	t.Logf("systemd-analyze verify /lib/systemd/system/l2tap@%s.service: %v %q", instance, err, out2)
	if err != nil || strings.Contains(string(out2), "l2tap") {
		t.Errorf("systemd-analyze verify l2tap@%s.service: %v\n%s", instance, err, out2)
	}
	os.Remove(conf)

	debIfupdown(t, bin)

	// dpkg -r: everything but the configuration files goes; the user stays.
	if out, err := dpkg(t, "-r", "l2tap"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	t.Logf("dpkg -r l2tap: status %q", dpkgStatus())
	if s := dpkgStatus(); s != "rc " {
		t.Errorf("after dpkg -r, status %q, want rc (removed, configuration files left)", s)
	}
	for path := range owned {
		_, err := os.Lstat(path)
		switch {
		case slices.Contains(conffiles, path):
			if err != nil {
				t.Errorf("dpkg -r removed the configuration file %s: %v", path, err)
			}
		case err == nil:
			// Directories stay when other packages have files in them
			// (/lib may be a symbolic link to one).
			if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
				t.Errorf("dpkg -r left %s", path)
			}
		}
	}
	for _, dir := range []string{"/usr/libexec/l2tap", "/usr/share/doc/l2tap"} {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("dpkg -r left the directory %s", dir)
		}
	}
	if _, ok := accountExists("passwd", "l2tap"); !ok {
		t.Error("dpkg -r removed the user l2tap; only a purge should")
	}

	// dpkg -P: the configuration files, their directory and the user go.
	purged, err := dpkg(t, "-P", "l2tap")
	if err != nil {
		t.Fatalf("dpkg -P: %v\n%s", err, purged)
	}
	t.Logf("dpkg -P l2tap: status %q", dpkgStatus())
	if s := dpkgStatus(); s != "" && s != "un " {
		t.Errorf("after dpkg -P, status %q", s)
	}
	for _, path := range append(conffiles, "/etc/l2tap") {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("dpkg -P left %s", path)
		}
	}
	// Unless something else on this machine runs as l2tap (an l2tap
	// started as root picks the account while it exists): then the purge
	// leaves it and says so, which debPurgeInUse checks.
	if pids := processesAs(uid); pids != nil && strings.Contains(purged, "l2tap: purge: the user l2tap and its group left") {
		t.Logf("dpkg -P left the user l2tap, in use by processes %v not this test's:\n%s", pids, purged)
	} else {
		for _, db := range []string{"passwd", "group"} {
			if entry, ok := accountExists(db, "l2tap"); ok {
				t.Errorf("dpkg -P left l2tap in %s: %s\n%s", db, entry, purged)
			}
		}
	}

	debPurgeInUse(t, deb)
}

// debPurgeInUse installs the package deb again and purges it while a
// process of the test runs as l2tap, which userdel refuses to remove: dpkg
// -P succeeds, leaves the user and its group and says so, with userdel's
// reason (the process) and the command that removes them, which does once
// the process is gone.
func debPurgeInUse(t *testing.T, deb string) {
	t.Helper()
	if out, err := dpkg(t, "-i", deb); err != nil {
		t.Fatalf("dpkg -i again: %v\n%s", err, out)
	}
	entry, ok := accountExists("passwd", "l2tap")
	f := strings.Split(entry, ":")
	if !ok || len(f) != 7 {
		t.Fatalf("after dpkg -i again, getent passwd l2tap: %q", entry)
	}
	sleep := exec.Command("sleep", "600")
	sleep.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(atoi(f[2])), Gid: uint32(atoi(f[3]))}}
	if err := sleep.Start(); err != nil {
		t.Fatalf("sleep as l2tap: %v", err)
	}
	pid := sleep.Process.Pid
	var once sync.Once
	stop := func() { once.Do(func() { sleep.Process.Kill(); sleep.Wait() }) } // by its PID
	t.Cleanup(stop)

	out, err := dpkg(t, "-P", "l2tap")
	t.Logf("dpkg -P l2tap with process %d running as l2tap: %v\n%s", pid, err, out)
	if err != nil {
		t.Fatalf("dpkg -P with a process running as l2tap: %v\n%s", err, out)
	}
	if s := dpkgStatus(); s != "" && s != "un " {
		t.Errorf("after dpkg -P, status %q", s)
	}
	for _, want := range []string{"l2tap: purge: the user l2tap and its group left",
		"currently used by process", "deluser --system l2tap"} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg -P with process %d running as l2tap: no %q in its output", pid, want)
		}
	}
	for _, db := range []string{"passwd", "group"} {
		if _, ok := accountExists(db, "l2tap"); !ok {
			t.Errorf("dpkg -P removed l2tap from %s while process %d ran as it", db, pid)
		}
	}

	stop()
	if pids := processesAs(atoi(f[2])); pids != nil {
		t.Logf("processes %v not this test's run as l2tap: its removal is left to the cleanup", pids)
		return
	}
	if out, err := exec.Command("deluser", "--system", "--quiet", "l2tap").CombinedOutput(); err != nil {
		t.Errorf("deluser --system l2tap, as the purge said, once process %d ended: %v\n%s", pid, err, out)
	}
	for _, db := range []string{"passwd", "group"} {
		if entry, ok := accountExists(db, "l2tap"); ok {
			t.Errorf("deluser --system l2tap left l2tap in %s: %s", db, entry)
		}
	}
}

// debIfupdown brings a pseudowire up between two namespaces with the
// installed hook: ifup -i FILE in each, in a private mount namespace where
// empty directories hide /usr/local/sbin and /usr/local/bin, so that the
// hook runs the package's l2tap (bin), then pings across and takes both
// ends down with ifdown. The hook's pid and log files are named after the
// namespaces, unique to this test.
func debIfupdown(t *testing.T, bin string) {
	t.Helper()
	empty := t.TempDir()
	ifupdown := func(ns netns, cmd, file, state string) (string, error) {
		const script = `mount --bind "$1" /usr/local/sbin && mount --bind "$1" /usr/local/bin &&
exec ip netns exec "$2" "$3" -i "$4" --state-dir "$5" vm0`
		out, err := exec.Command("unshare", "-m", "sh", "-c", script, "sh", empty, string(ns), cmd, file, state).CombinedOutput()
		return string(out), err
	}
	a, b := vethPair(t, "deb")
	dir := t.TempDir()
	ends := []struct {
		ns          netns
		file, state string
		text        string
	}{
		{a, filepath.Join(dir, "a"), t.TempDir(), stanza("10.1.0.1/24", "192.0.2.1", "192.0.2.2", "l2tap-txsession 10", "l2tap-rxsession 20")},
		{b, filepath.Join(dir, "b"), t.TempDir(), stanza("10.1.0.2/24", "192.0.2.2", "192.0.2.1", "l2tap-txsession 20", "l2tap-rxsession 10")},
	}
	for _, end := range ends {
		if err := os.WriteFile(end.file, []byte(end.text), 0o644); err != nil {
			t.Fatal(err)
		}
		pidfile, log := hookFiles(end.ns)
		t.Cleanup(func() {
			ifupdown(end.ns, "ifdown", end.file, end.state)
			os.Remove(log)
			os.Remove(pidfile)
		})
		start := time.Now()
		if out, err := ifupdown(end.ns, "ifup", end.file, end.state); err != nil {
			t.Fatalf("ifup vm0 in %s: %v\n%s", end.ns, err, out)
		}
		t.Logf("ifup vm0 in %s with the installed hook: %v", end.ns, time.Since(start).Round(time.Millisecond))
		pid, err := os.ReadFile(pidfile)
		if err != nil || !slices.Contains(running(bin), atoi(strings.TrimSpace(string(pid)))) {
			t.Fatalf("after ifup in %s, %s holds %q (%v), not the pid of a running %s (%v)", end.ns, pidfile, pid, err, bin, running(bin))
		}
	}
	if err := a.pingEventually(t, "10.1.0.2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if pingAll(t, overlayPings(a, b)...) {
		t.Logf("pings across the pseudowire: 56 and 1400 bytes, both ways")
	}
	for _, end := range ends {
		if out, err := ifupdown(end.ns, "ifdown", end.file, end.state); err != nil {
			t.Errorf("ifdown vm0 in %s: %v\n%s", end.ns, err, out)
		}
		if out, err := end.ns.cmd("ip", "link", "show", "vm0").CombinedOutput(); err == nil {
			t.Errorf("vm0 still in %s after ifdown:\n%s", end.ns, out)
		}
	}
	if pids := running(bin); pids != nil {
		t.Errorf("%s still runs after both ifdowns: %v", bin, pids)
	}
}

// TestDebCross cross-builds the package for arm64 (make deb ARCH=arm64):
// lintian passes, and the package's l2tap is an arm64 program that prints
// the package version (run under qemu-aarch64).
func TestDebCross(t *testing.T) {
	requireTools(t, true, append(debTools, "qemu-aarch64")...)
	// Beside other tests: a package build and one emulated run, which
	// change nothing on the host (TestDebPackage, which installs, runs
	// alone).
	t.Parallel()
	vars := sourceVersion(t)
	deb := makeDeb(t, "arm64", vars["debversion"])
	lintianClean(t, deb)
	dir := t.TempDir()
	extract := exec.Command("dpkg-deb", "-x", deb, dir)
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "usr/sbin/l2tap")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	machine := f.Machine
	f.Close()
	if machine != elf.EM_AARCH64 {
		t.Errorf("%s is for %v, want EM_AARCH64", bin, machine)
	}
	out, err := exec.Command("qemu-aarch64", bin, "-version").CombinedOutput()
	if v := strings.Fields(string(out)); err != nil || len(v) != 7 || v[1] != vars["debversion"] || v[3] != vars["commit"] {
		t.Errorf("qemu-aarch64 l2tap -version: %v %q, want version %s commit %s", err, out, vars["debversion"], vars["commit"])
	}
}

// TestConfExample: the example configuration the package installs as
// /etc/l2tap/vm0.conf.example sets L2TAP_ARGS once, to the example in the
// unit's comment, which TestServiceUnit starts a pseudowire end with.
func TestConfExample(t *testing.T) {
	read := func(path string) []string {
		t.Helper()
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(text), "\n")
	}
	var set []string
	for _, line := range read("scripts/l2tap.conf.example") {
		if v, ok := strings.CutPrefix(line, "L2TAP_ARGS="); ok {
			set = append(set, v)
		}
	}
	var unit string
	for _, line := range read("scripts/l2tap@.service") {
		if i := strings.Index(line, "'L2TAP_ARGS="); i >= 0 && strings.HasPrefix(line, "#") {
			unit = strings.TrimSuffix(strings.TrimSpace(line[i+len("'L2TAP_ARGS="):]), `' \`)
		}
	}
	if unit == "" {
		t.Fatal("no example L2TAP_ARGS line in the unit's comment")
	}
	if len(set) != 1 || set[0] != unit {
		t.Errorf("scripts/l2tap.conf.example sets L2TAP_ARGS to %q, want once, to the unit's example %q", set, unit)
	}
}
