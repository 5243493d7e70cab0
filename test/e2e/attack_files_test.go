//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// raceStarts is how many times each kind of file is made under attack,
// from an empty directory and again on what the racer left.
const raceStarts = 50

// TestAttackFileRace starts l2tap as root with -user nobody 2*raceStarts
// times for each file it makes in a directory nobody may write to: the
// -pcap capture file, a -socket file (with -owner nobody) and a -control
// socket. Meanwhile a racer running as nobody watches each directory with
// inotify and, as fast as it can, renames every new file away and puts a
// symbolic link to a root-owned file in its place (and a new private
// directory, one to a directory of its own holding such a link), as the
// -user account could to make l2tap chown, chmod or truncate any file.
// Every other start finds the link left by the last one at the name.
// No target may change (owner, mode, size, content), and nothing may be
// created beside them.
func TestAttackFileRace(t *testing.T) {
	requireTools(t, true, "ip")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	a, _ := vethPair(t, "af")
	bin := l2tapBinary(t)

	// Root's files the racer points its links at, in a directory of root's.
	targets := mkdirOwned(t, 0, 0, 0o755)
	// Each kind's directory, nobody's, and one for the racer's own things.
	type kind struct {
		name, file string
		args       []string
		dir        string
		target     string
		evil       string   // a directory of nobody's with a link "s" to the target
		started    int      // raced starts that got ready
		refused    []string // and the first line of those that did not
		// Starts that found the racer's leftovers: ready, refused.
		leftReady   int
		leftRefused []string
	}
	kinds := []*kind{
		{name: "pcap", file: "c.pcap", args: []string{"-ifname", "afp0", "-txsession", "1", "-control", "off"}},
		{name: "socket", file: "vm.sock", args: []string{"-txsession", "2", "-owner", "nobody", "-control", "off"}},
		{name: "control", file: "ctl.sock", args: []string{"-ifname", "afc0", "-txsession", "3"}},
	}
	var spec []string
	before := map[string]fileState{}
	for _, k := range kinds {
		k.dir = mkdirOwned(t, uid, gid, 0o755)
		k.target = filepath.Join(targets, k.name)
		if err := os.WriteFile(k.target, []byte("root's "+k.name+" target\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		k.evil = mkdirOwned(t, uid, gid, 0o755)
		if err := os.Symlink(k.target, filepath.Join(k.evil, "s")); err != nil {
			t.Fatal(err)
		}
		opt := map[string]string{"pcap": "-pcap", "socket": "-socket", "control": "-control"}[k.name]
		k.args = append([]string{"-src", "192.0.2.1", "-dst", "192.0.2.2", "-user", "nobody", opt, filepath.Join(k.dir, k.file)}, k.args...)
		spec = append(spec, k.dir+":"+k.target+":"+k.evil)
		before[k.target] = statFile(t, k.target)
	}

	// The test binary run as nobody: copied where nobody may run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	racerBin := filepath.Join(mkdirOwned(t, 0, 0, 0o755), "racer.test")
	if err := os.WriteFile(racerBin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	racer := exec.Command(racerBin, "-test.run", "^TestAttackFileRacer$", "-test.count=1", "-test.v")
	racer.Env = append(os.Environ(), "L2TAP_RACE="+strings.Join(spec, ";"))
	racer.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	stdin, err := racer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var racerOut syncBuffer
	racer.Stdout, racer.Stderr = &racerOut, &racerOut
	if err := racer.Start(); err != nil {
		t.Fatal(err)
	}
	stopRacer := sync.OnceFunc(func() { stdin.Close(); racer.Wait() })
	t.Cleanup(stopRacer)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(racerOut.String(), "racer: watching"); {
		if time.Now().After(deadline) {
			t.Fatalf("racer not watching after 10s:\n%s", racerOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	begin := time.Now()
	var wg sync.WaitGroup
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * raceStarts {
				// Even starts race the file's creation in an empty
				// directory; odd ones find what the racer left at the
				// name after the last (a link to the target).
				if i%2 == 0 {
					clearDir(t, k.dir)
				}
				ready, out := startStop(a, bin, k.args)
				switch {
				case ready && i%2 == 0:
					k.started++
				case ready:
					k.leftReady++
				case i%2 == 0:
					k.refused = append(k.refused, firstLine(out))
				default:
					k.leftRefused = append(k.leftRefused, firstLine(out))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	stopRacer()
	swaps := map[string]int{}
	for _, m := range regexp.MustCompile(`racer: (\S+) files=(\d+) dirs=(\d+)`).FindAllStringSubmatch(racerOut.String(), -1) {
		f, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		swaps[m[1]] = f + d
		t.Logf("racer in %s: %s files and %s private directories swapped for links", m[1], m[2], m[3])
	}

	changed := 0
	for _, k := range kinds {
		if got := statFile(t, k.target); got != before[k.target] {
			changed++
			t.Errorf("%s: target %s changed: %v, was %v", k.name, k.target, got, before[k.target])
		}
		t.Logf("%s: %d raced starts, %d ready, %d refused; %d starts on the racer's leftovers, %d ready, %d refused; racer's swaps %d",
			k.name, raceStarts, k.started, len(k.refused), raceStarts, k.leftReady, len(k.leftRefused), swaps[k.dir])
		for _, r := range []struct {
			what  string
			lines []string
		}{{"raced", k.refused}, {"on leftovers", k.leftRefused}} {
			counts := map[string]int{}
			for _, l := range r.lines {
				counts[l]++
			}
			for l, n := range counts {
				t.Logf("%s: %s start refused %d times: %s", k.name, r.what, n, l)
			}
		}
		if swaps[k.dir] == 0 {
			t.Errorf("%s: the racer swapped nothing in %s: the test proves nothing\n%s", k.name, k.dir, racerOut.String())
		}
		if k.started == 0 {
			t.Errorf("%s: no start got ready: %q", k.name, k.refused)
		}
	}
	if ents, err := os.ReadDir(targets); err != nil || len(ents) != len(kinds) {
		t.Errorf("targets' directory: %d entries (%v), want the %d targets alone", len(ents), err, len(kinds))
	}
	t.Logf("%d starts of each kind in %v: %d targets changed", 2*raceStarts, elapsed.Round(time.Millisecond), changed)
}

// TestAttackFileRacer is the racer TestAttackFileRace runs as nobody: for
// every DIR:TARGET:EVIL in L2TAP_RACE it watches DIR and replaces each new
// entry there with a symbolic link, to TARGET for a file, to EVIL for a
// directory (l2tap's private directory for a socket), until its standard
// input closes; then it prints how many it replaced in each DIR.
func TestAttackFileRacer(t *testing.T) {
	spec := os.Getenv("L2TAP_RACE")
	if spec == "" {
		t.Skip("helper process for TestAttackFileRace")
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	type watch struct {
		dir, target, evil string
		files, dirs       atomic.Int64
	}
	watches := map[int]*watch{}
	var order []*watch
	for _, s := range strings.Split(spec, ";") {
		f := strings.Split(s, ":")
		wd, err := unix.InotifyAddWatch(fd, f[0], unix.IN_CREATE|unix.IN_MOVED_TO)
		if err != nil {
			t.Fatal(err)
		}
		w := &watch{dir: f[0], target: f[1], evil: f[2]}
		watches[wd] = w
		order = append(order, w)
	}
	go func() {
		// The racer's own links raise events too: one each, skipped.
		own := map[string]int{}
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil {
				if err == unix.EINTR {
					continue
				}
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				off += unix.SizeofInotifyEvent + int(ev.Len)
				w := watches[int(ev.Wd)]
				if w == nil || strings.HasSuffix(name, ".moved") {
					continue
				}
				p := filepath.Join(w.dir, name)
				if own[p] > 0 {
					own[p]--
					continue
				}
				if unix.Rename(p, p+".moved") != nil {
					continue
				}
				to := w.target
				if ev.Mask&unix.IN_ISDIR != 0 {
					to = w.evil
				}
				if unix.Symlink(to, p) != nil {
					continue
				}
				own[p]++
				if to == w.evil {
					w.dirs.Add(1)
				} else {
					w.files.Add(1)
				}
			}
		}
	}()
	fmt.Println("racer: watching")
	io.Copy(io.Discard, os.Stdin)
	for _, w := range order {
		fmt.Printf("racer: %s files=%d dirs=%d\n", w.dir, w.files.Load(), w.dirs.Load())
	}
}

// fileState is what the race must not change about a target.
type fileState struct {
	uid, gid uint32
	mode     uint32
	size     int64
	content  string
}

func (s fileState) String() string {
	return fmt.Sprintf("uid %d gid %d mode %o size %d content %q", s.uid, s.gid, s.mode, s.size, s.content)
}

func statFile(t *testing.T, path string) fileState {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{st.Uid, st.Gid, st.Mode, st.Size, string(b)}
}

// mkdirOwned makes a directory under the system's temporary directory
// (reachable by every user, unlike t.TempDir's), owned by uid and gid.
func mkdirOwned(t *testing.T, uid, gid int, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "l2tap-race-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clearDir removes everything in dir: each start begins with nothing
// there, so that the racer races the file's creation rather than l2tap
// refusing a link left by the last start.
func clearDir(t *testing.T, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Error(err)
		return
	}
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// startStop starts l2tap in ns with args and stops it with SIGTERM once
// ready. It reports whether it got ready, and its output.
func startStop(ns netns, bin string, args []string) (bool, string) {
	cmd := ns.cmd(bin, args...)
	var out bytes.Buffer
	cmd.Stdout = io.Discard
	pr, pw, err := os.Pipe()
	if err != nil {
		return false, err.Error()
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return false, err.Error()
	}
	pw.Close()
	readyc := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !sent && strings.HasPrefix(sc.Text(), "l2tap: ready") {
				readyc <- true
				sent = true
			}
		}
		if !sent {
			readyc <- false
		}
		pr.Close()
	}()
	var ready bool
	select {
	case ready = <-readyc:
	case <-time.After(10 * time.Second):
	}
	if ready {
		cmd.Process.Signal(syscall.SIGTERM)
	} else {
		cmd.Process.Kill()
	}
	err = cmd.Wait()
	<-done
	var exit *exec.ExitError
	if ready && err != nil && !errors.As(err, &exit) {
		return false, err.Error()
	}
	return ready, out.String()
}

// firstLine is s's first line, its temporary names made general, so that
// refusals can be counted by kind.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return regexp.MustCompile(`l2tap-race-\d+|\.l2tap-[0-9a-f]+`).ReplaceAllString(line, "…")
}
