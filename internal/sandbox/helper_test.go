//go:build linux

package sandbox

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pair returns a Client and a served helper end on a new socketpair, the
// helper answering with h; closing the client ends Serve, whose error
// comes on the channel.
func pair(t *testing.T, h Handler) (*Client, int, <-chan error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(fds[1], h); unix.Close(fds[1]) }()
	c := &Client{fd: fds[0]}
	t.Cleanup(func() { c.Close() })
	return c, fds[0], done
}

// TestServe passes requests and descriptors both ways: a descriptor the
// helper sends arrives and works; one it sends is closed on its side; a
// request that does not parse, or carries descriptors, is refused and the
// next one answered;
// closing the client ends Serve without error.
func TestServe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var got []Request
	c, raw, done := pair(t, func(req Request) (Reply, []*os.File) {
		got = append(got, req)
		if req.Op == OpOpen {
			return Reply{Gen: req.Gen, Data: []byte(`{"ok":true}`)}, []*os.File{w}
		}
		return Reply{Err: "refused"}, []*os.File{w2}
	})

	reply, files, err := c.Call(Request{Op: OpOpen, Gen: 7, Tunnel: 1})
	if err != nil || reply.Gen != 7 || reply.Files != 1 || len(files) != 1 || string(reply.Data) != `{"ok":true}` {
		t.Fatalf("open: %+v, %d files, %v", reply, len(files), err)
	}
	if _, err := files[0].Write([]byte("x")); err != nil {
		t.Fatalf("write to the descriptor received: %v", err)
	}
	files[0].Close()
	buf := make([]byte, 1)
	if n, err := r.Read(buf); n != 1 || buf[0] != 'x' {
		t.Fatalf("read %d %q, %v", n, buf, err)
	}

	// An error reply carries no descriptor, though the handler gave one.
	if _, files, err := c.Call(Request{Op: OpReload}); err == nil || err.Error() != "refused" || len(files) != 0 {
		t.Errorf("refused request: %v, %d files", err, len(files))
	}

	// Raw bytes a data path taken over might send: refused, no handler.
	for _, bad := range []string{`{"op":"open","gen":1,"path":"/etc/shadow"}`, `garbage`, strings.Repeat("x", MaxRequest+10)} {
		if err := unix.Sendmsg(raw, []byte(bad), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		reply, files, err := c.receive()
		if err != nil || reply.Err == "" || len(files) != 0 {
			t.Errorf("%.40q: %+v, %d files, %v; want refused", bad, reply, len(files), err)
		}
	}
	// Serve answers one request at a time: by now it has closed what it
	// sent for the first request, and what it did not send for the second.
	for _, f := range []*os.File{w, w2} {
		if err := f.Close(); err == nil {
			t.Error("Serve left a descriptor of the handler's open")
		}
	}

	// A request carrying descriptors is refused, and they are closed.
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	if err := unix.Sendmsg(raw, []byte(`{"op":"open","gen":1}`), unix.UnixRights(int(pw.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if reply, _, err := c.receive(); err != nil || reply.Err == "" {
		t.Errorf("a request with a descriptor: %+v, %v; want refused", reply, err)
	}
	if n, _ := pr.Read(buf); n != 0 {
		t.Errorf("the pipe's write end is open somewhere: read %d", n)
	}
	if len(got) != 2 {
		t.Errorf("handler saw %d requests, want the 2 that parse: %+v", len(got), got)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve after the client closed: %v", err)
	}
}
