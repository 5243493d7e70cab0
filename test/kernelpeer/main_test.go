//go:build linux

package kernelpeer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/l2tap/l2tap/test/testenv"
)

// env is the state shared by every test: one namespace, one booted guest
// and one l2tap binary for the whole run, set up by the first test that
// needs them.
var env struct {
	once     sync.Once
	workDir  string
	setupErr error // why the guest is unavailable; nil when it runs
	ns       *Netns
	guest    *Guest
	l2tapBin string
	l2tapErr error // why l2tap could not be built
	bootTime time.Duration
	image    Image // the guest's, for guests booted by a test
}

// underlayTap is the namespace's TAP that backs the guest's NIC.
const underlayTap = "kptap0"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	workDir, err := os.MkdirTemp("", "kernelpeer-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernelpeer:", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	defer teardown()

	// Clean up on SIGINT/SIGTERM too; deferred calls do not run on signals.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		teardown()
		_ = os.RemoveAll(workDir)
		fmt.Fprintf(os.Stderr, "kernelpeer: %v, cleaned up\n", s)
		os.Exit(2)
	}()

	env.workDir = workDir
	return m.Run()
}

// setup builds and boots everything, recording failures in env.
func setup() {
	workDir := env.workDir
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	if err := CheckHost(); err != nil {
		env.setupErr = err
		return
	}
	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		env.setupErr = err
		return
	}
	env.l2tapBin = os.Getenv("L2TAP_BIN")
	if env.l2tapBin == "" {
		env.l2tapBin, env.l2tapErr = testenv.BuildL2tap(ctx, repoRoot, workDir)
	}
	img, err := BuildImage(ctx, ".")
	if err != nil {
		env.setupErr = fmt.Errorf("build guest image: %w", err)
		return
	}
	env.ns, err = CreateNetns(ctx)
	if err != nil {
		env.setupErr = fmt.Errorf("create namespace: %w", err)
		return
	}
	cfg := GuestConfig{Image: img, Netns: env.ns, TapName: underlayTap, WorkDir: workDir}
	start := time.Now()
	env.guest, err = bootGuest(ctx, cfg, os.Getenv("KERNELPEER_ACCEL"))
	if err != nil {
		env.setupErr = fmt.Errorf("boot guest: %w", err)
		return
	}
	env.bootTime = time.Since(start)
	env.image = img
}

// bootGuest boots with accel: "tcg" or "" (software emulation, works
// everywhere), "kvm", or "auto" (KVM if the guest is up within 20 s,
// otherwise TCG).
func bootGuest(ctx context.Context, cfg GuestConfig, accel string) (*Guest, error) {
	if accel != "auto" {
		cfg.Accel = accel
		return Boot(ctx, cfg)
	}
	if _, err := os.Stat("/dev/kvm"); err == nil {
		kvm := cfg
		kvm.Accel, kvm.BootTimeout = "kvm", 20*time.Second
		g, err := Boot(ctx, kvm)
		if err == nil {
			return g, nil
		}
		fmt.Fprintf(os.Stderr, "kernelpeer: KVM boot failed, using TCG: %v\n", firstLine(err.Error()))
	}
	cfg.Accel = "tcg"
	return Boot(ctx, cfg)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// teardown stops the guest and deletes the namespace; idempotent.
func teardown() {
	if env.guest != nil {
		_ = env.guest.Close()
	}
	if env.ns != nil {
		_ = env.ns.Delete()
		env.ns = nil
	}
}

// needGuest stops the test unless the guest is running: it fails when the
// cause is a bug or when CI=true, and skips when a prerequisite is
// missing on a developer machine.
func needGuest(t *testing.T) *Guest {
	t.Helper()
	if testing.Short() {
		t.Skip("-short (make unit): the kernel peer needs root and boots a VM")
	}
	env.once.Do(setup)
	if env.setupErr != nil {
		if errors.Is(env.setupErr, ErrMissingPrereq) && !testenv.InCI() {
			t.Skipf("kernel peer unavailable: %v", env.setupErr)
		}
		t.Fatalf("kernel peer unavailable: %v", env.setupErr)
	}
	return env.guest
}

// needL2tap is needGuest plus a built l2tap binary.
func needL2tap(t *testing.T) (*Guest, string) {
	t.Helper()
	g := needGuest(t)
	if env.l2tapErr != nil {
		t.Fatalf("l2tap unavailable: %v", env.l2tapErr)
	}
	return g, env.l2tapBin
}
