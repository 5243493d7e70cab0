//go:build linux

package daemon

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/config"
	"github.com/l2tap/l2tap/internal/engine"
	"github.com/l2tap/l2tap/internal/sandbox"
	"github.com/l2tap/l2tap/internal/tap"
	"github.com/l2tap/l2tap/internal/vmsocket"
	"golang.org/x/sys/unix"
)

// helperFile writes a configuration with a static tunnel of two sessions
// (a TAP, a VM socket in dir) and a dynamic tunnel with a secret, and
// returns a helper state reading it, as runHelper holds it.
func helperFile(t *testing.T, dir string) *helperState {
	t.Helper()
	path := filepath.Join(dir, "l2tap.toml")
	conf := `control = "off"
[[tunnel]]
src = "127.0.0.1"
dst = "127.0.0.2"
udp = true
srcport = 17010
dstport = 17010
  [[tunnel.session]]
  txsession = 1
  ifname = "ph0"
  [[tunnel.session]]
  txsession = 2
  socket = "` + filepath.Join(dir, "vm.sock") + `"
[[tunnel]]
src = "127.0.0.1"
dst = "127.0.0.3"
secret = "TOPSECRETVALUE"
  [[tunnel.session]]
  circuit = "vm1"
`
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func() (*config.Config, error) { return config.LoadConfigFile(path) }
	cfg, err := read()
	if err != nil {
		t.Fatal(err)
	}
	return &helperState{open: helperTestOpener{newFakeOpener()}, read: read, cfg: cfg, attached: sandbox.NewAttachedTAPs()}
}

// helperTestOpener opens for the helper what these tests ask of it: a VM
// socket's file, made for real (vmsocket.Bind), and the path MTU (1500);
// it adopts nothing, which is the data path's side.
type helperTestOpener struct{ *fakeOpener }

func (helperTestOpener) BindVMSocket(sc *config.SessionConfig) (*os.File, error) {
	return vmsocket.Bind(vmsocket.Config{Path: sc.Socket.Path, Type: sc.Socket.Type, UID: sc.TAP.Owner, GID: sc.TAP.Group})
}

func (helperTestOpener) AdoptSocket(config.TunnelEnds, bool, *os.File) (engine.Underlay, error) {
	return nil, errors.New("test: the helper adopts nothing")
}

func (helperTestOpener) AdoptTAP(config.TAPConfig, tap.Facts, []*os.File, func()) (Device, error) {
	return nil, errors.New("test: the helper adopts nothing")
}

func (helperTestOpener) AdoptVMSocket(*config.SessionConfig, int, *os.File) (Device, error) {
	return nil, errors.New("test: the helper adopts nothing")
}

func (helperTestOpener) BindVhostUser(sc *config.SessionConfig) (*os.File, error) {
	return vmsocket.Bind(vmsocket.Config{Path: sc.VhostUser.Path, UID: sc.TAP.Owner, GID: sc.TAP.Group})
}

func (helperTestOpener) AdoptVhostUser(*config.SessionConfig, int, *os.File) (Device, error) {
	return nil, errors.New("test: the helper adopts nothing")
}

// TestHelperPolicy: the helper answers only requests that number a
// session or tunnel of the configuration it read last, never a dynamic
// tunnel's, restores only TAPs it recorded, and sends a reload's
// tunnels without a dynamic tunnel's secret.
func TestHelperPolicy(t *testing.T) {
	dir := t.TempDir()
	st := helperFile(t, dir)
	refused := func(req sandbox.Request, want string) {
		t.Helper()
		r, files := st.handle(req)
		if r.Err == "" || !strings.Contains(r.Err, want) || len(files) != 0 {
			t.Errorf("%+v: %+v, %d files; want refused with %q", req, r, len(files), want)
		}
		sandbox.CloseFiles(files)
	}
	// Nothing is opened from the configuration at start: that was setup's.
	refused(sandbox.Request{Op: sandbox.OpOpen, Gen: 0}, "not the configuration read last")

	r, files := st.handle(sandbox.Request{Op: sandbox.OpReload})
	if r.Err != "" || len(files) != 0 || r.Gen != 1 {
		t.Fatalf("reload: %+v, %d files", r, len(files))
	}
	if strings.Contains(string(r.Data), "TOPSECRET") || strings.Contains(string(r.Data), "VE9QU0VDUkVU") {
		t.Errorf("the reload reply carries the dynamic tunnel's secret: %s", r.Data)
	}
	var wire []wireTunnel
	if err := json.Unmarshal(r.Data, &wire); err != nil {
		t.Fatal(err)
	}
	if len(wire) != 2 || wire[0].Dynamic || !wire[1].Dynamic || len(wire[1].Tunnel.Sessions) != 0 {
		t.Fatalf("reload data: %+v", wire)
	}
	if !reflect.DeepEqual(wire[0].Tunnel, st.cfg.Tunnels[0]) {
		t.Errorf("the static tunnel does not survive the trip:\n got %+v\nwant %+v", wire[0].Tunnel, st.cfg.Tunnels[0])
	}

	refused(sandbox.Request{Op: sandbox.OpOpen, Gen: 2}, "not the configuration read last")
	refused(sandbox.Request{Op: sandbox.OpOpen, Gen: 1, Tunnel: 2}, "no tunnel 2")
	refused(sandbox.Request{Op: sandbox.OpOpen, Gen: 1, Session: 2}, "no session 2")
	refused(sandbox.Request{Op: sandbox.OpOpen, Gen: 1, Tunnel: 1}, "dynamic")
	refused(sandbox.Request{Op: sandbox.OpSocket, Gen: 1, Tunnel: 1}, "dynamic")
	for _, name := range []string{"lo", "ph0", "eth0"} {
		refused(sandbox.Request{Op: sandbox.OpRestore, Name: name}, "not one l2tap attached to")
	}
	if _, err := os.Lstat(filepath.Join(dir, "vm.sock")); err == nil {
		t.Error("a refused request made the configured socket")
	}

	// The VM socket of session 1: made where the file says, and handed over.
	r, files = st.handle(sandbox.Request{Op: sandbox.OpOpen, Gen: 1, Session: 1})
	if r.Err != "" || len(files) != 1 {
		t.Fatalf("open the VM socket: %+v, %d files", r, len(files))
	}
	defer sandbox.CloseFiles(files)
	if typ, err := unix.GetsockoptInt(int(files[0].Fd()), unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		t.Errorf("descriptor handed over: type %d, %v; want a stream socket", typ, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "vm.sock")); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("configured socket: %v, %v", fi, err)
	}
}

// TestHelperAttack plays a data path taken over: over the socketpair it
// sends what it likes, and gets the helper to open or create nothing the
// configuration does not name. The directory is checked after each
// attempt: only the configured socket ever appears in it, and only when
// its session is asked for by number.
func TestHelperAttack(t *testing.T) {
	dir := t.TempDir()
	st := helperFile(t, dir)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sandbox.Serve(fds[1], st.handle); unix.Close(fds[1]) }()
	defer func() {
		unix.Close(fds[0])
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	planted := filepath.Join(dir, "planted")
	ask := func(raw string) sandbox.Reply {
		t.Helper()
		if err := unix.Sendmsg(fds[0], []byte(raw), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		buf, oob := make([]byte, sandbox.MaxReply), make([]byte, 256)
		n, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, 0)
		for err == unix.EINTR { // qemu-user (make cross) may return it
			n, oobn, _, _, err = unix.Recvmsg(fds[0], buf, oob, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		if oobn != 0 {
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
		}
		r, err := sandbox.ParseReply(buf[:n])
		if err != nil {
			t.Fatalf("%s: reply %q: %v", raw, buf[:n], err)
		}
		return r
	}
	entries := func() []string {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	for _, raw := range []string{
		`{"op":"open","gen":1,"path":"` + planted + `"}`,
		`{"op":"open","gen":1,"socket":"` + planted + `"}`,
		`{"op":"open","gen":1,"tunnel":0,"session":0,"ifname":"evil0"}`,
		`{"op":"restore","name":"lo"}`,
		`{"op":"open","gen":0,"session":1}`,
		`{"op":"socket","gen":1,"tunnel":1}`,
		`{"op":"reload","data":{"tunnel":{"Sessions":[{"Socket":{"Path":"` + planted + `"}}]}}}`,
		`{"op":"open","gen":1,"session":1}`, // before any reload, gen 1 is no configuration
	} {
		if r := ask(raw); r.Err == "" {
			t.Errorf("%s: answered %+v, want refused", raw, r)
		}
		if names := entries(); !reflect.DeepEqual(names, []string{"l2tap.toml"}) {
			t.Fatalf("after %s the directory holds %v", raw, names)
		}
	}
	// The same session asked for properly: the configured socket, only.
	if r := ask(`{"op":"reload"}`); r.Err != "" {
		t.Fatalf("reload: %s", r.Err)
	}
	if r := ask(`{"op":"open","gen":1,"session":1}`); r.Err != "" || r.Files != 1 {
		t.Fatalf("open: %+v", r)
	}
	if names := entries(); !reflect.DeepEqual(names, []string{"l2tap.toml", "vm.sock"}) {
		t.Errorf("after the proper request the directory holds %v", names)
	}
}

// TestHelperVhostUser: the helper binds a vhost-user server's socket where
// the file says and hands it over, listening; for a client, which
// connects by itself, it hands over nothing and makes nothing, only the
// MTU the guest should use.
func TestHelperVhostUser(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l2tap.toml")
	srv, cli := filepath.Join(dir, "server.vhost"), filepath.Join(dir, "client.vhost")
	conf := `control = "off"
[[tunnel]]
src = "127.0.0.1"
dst = "127.0.0.2"
udp = true
srcport = 17010
dstport = 17010
  [[tunnel.session]]
  txsession = 1
  vhost-user = "` + srv + `"
  [[tunnel.session]]
  txsession = 2
  vhost-user = "` + cli + `"
  vhost-user-mode = "client"
`
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func() (*config.Config, error) { return config.LoadConfigFile(path) }
	cfg, err := read()
	if err != nil {
		t.Fatal(err)
	}
	st := &helperState{open: helperTestOpener{newFakeOpener()}, read: read, cfg: cfg, attached: sandbox.NewAttachedTAPs()}
	if r, files := st.handle(sandbox.Request{Op: sandbox.OpReload}); r.Err != "" || len(files) != 0 {
		t.Fatalf("reload: %+v, %d files", r, len(files))
	}

	r, files := st.handle(sandbox.Request{Op: sandbox.OpOpen, Gen: 1, Session: 0})
	if r.Err != "" || len(files) != 1 {
		t.Fatalf("open the server's socket: %+v, %d files", r, len(files))
	}
	defer sandbox.CloseFiles(files)
	if acc, err := unix.GetsockoptInt(int(files[0].Fd()), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc != 1 {
		t.Errorf("descriptor handed over: listening %d, %v; want a listening socket", acc, err)
	}
	if fi, err := os.Lstat(srv); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("server's socket: %v, %v", fi, err)
	}

	r, files = st.handle(sandbox.Request{Op: sandbox.OpOpen, Gen: 1, Session: 1})
	sandbox.CloseFiles(files)
	var d endpointReply
	if r.Err != "" || len(files) != 0 || json.Unmarshal(r.Data, &d) != nil || d.MTU == 0 {
		t.Fatalf("open the client: %+v (%+v), %d files; want its MTU and no descriptor", r, d, len(files))
	}
	if _, err := os.Lstat(cli); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the helper made something at the client's path: %v", err)
	}
}
