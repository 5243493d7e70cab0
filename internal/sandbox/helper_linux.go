//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// HelperEnv is the environment variable that starts l2tap as the
// privileged helper: its value is the descriptor of the helper's end of
// the socketpair. StartHelper sets it; nothing else should.
const HelperEnv = "L2TAP_PRIVSEP_FD"

// Client is the data-path process's end of the socketpair to the helper.
// Its calls are serialized: one request, one reply.
type Client struct {
	mu  sync.Mutex
	fd  int
	Pid int // the helper's process ID
}

// StartHelper starts the helper: this program again (/proc/self/exe, so
// the very binary running, never a path looked up) with the same
// arguments and HelperEnv set, holding one end of a new SOCK_SEQPACKET
// socketpair. It returns once the helper has said it is ready (its first
// message, an empty reply), so that whatever the helper records at its
// start is recorded before the caller changes anything. Go cannot fork
// without exec safely; the re-exec is the fork.
func StartHelper() (*Client, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("privileged helper: socketpair: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "privsep")
	defer theirs.Close()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), HelperEnv+"=3")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("privileged helper: start: %w", err)
	}
	// Not waited for: the helper outlives this process by the moment it
	// takes to see the socketpair close, and the filter the data path
	// runs under forbids waiting.
	c := &Client{fd: fds[0], Pid: cmd.Process.Pid}
	r, files, err := c.receive()
	closeAll(files)
	if err == nil && r.Err != "" {
		err = errors.New(r.Err)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("privileged helper: %w", err)
	}
	return c, nil
}

// Call sends req and returns the helper's reply with its descriptors. A
// reply with Err set is returned as an error.
func (c *Client) Call(req Request) (Reply, []*os.File, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := unix.Sendmsg(c.fd, b, nil, nil, unix.MSG_NOSIGNAL); err != nil {
		return Reply{}, nil, fmt.Errorf("privileged helper: send %s: %w", req.Op, err)
	}
	r, files, err := c.receive()
	if err != nil {
		return Reply{}, nil, fmt.Errorf("privileged helper: %s: %w", req.Op, err)
	}
	if r.Err != "" {
		return r, nil, errors.New(r.Err)
	}
	return r, files, nil
}

// receive reads one reply and its descriptors.
func (c *Client) receive() (Reply, []*os.File, error) {
	b, files, err := recvMessage(c.fd, MaxReply, MaxFiles)
	if err != nil {
		return Reply{}, nil, err
	}
	r, err := ParseReply(b)
	if err == nil && r.Files != len(files) {
		err = fmt.Errorf("reply announces %d descriptors and carries %d", r.Files, len(files))
	}
	if err != nil {
		closeAll(files)
		return Reply{}, nil, err
	}
	return r, files, nil
}

// Close closes the data path's end: the helper, reading end of file,
// restores what it recorded and exits.
func (c *Client) Close() error { return unix.Close(c.fd) }

// Handler answers one request in the helper: a reply (Files is filled in
// from files) and the descriptors to send, which Serve closes once sent.
type Handler func(Request) (Reply, []*os.File)

// HelperFD returns the helper's end of the socketpair when this process
// was started as the helper (HelperEnv set to a descriptor number).
func HelperFD() (int, bool) {
	v, ok := os.LookupEnv(HelperEnv)
	if !ok {
		return 0, false
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return 0, false
	}
	unix.CloseOnExec(fd)
	return fd, true
}

// Ready tells the data-path process that the helper has started.
func Ready(fd int, err error) error {
	var r Reply
	if err != nil {
		r.Err = err.Error()
	}
	return sendReply(fd, r, nil)
}

// Serve answers requests on fd until the other end closes it (it then
// returns nil) or the socket fails. A request that does not parse is
// refused with an error reply; descriptors sent along with a request are
// closed unread.
func Serve(fd int, h Handler) error {
	for {
		b, files, err := recvMessage(fd, MaxRequest, 0)
		closeAll(files)
		if errors.Is(err, errEOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, errTruncated) {
				if err := sendReply(fd, Reply{Err: err.Error()}, nil); err != nil {
					return err
				}
				continue
			}
			return err
		}
		req, err := ParseRequest(b)
		var r Reply
		var out []*os.File
		if err != nil {
			r.Err = err.Error()
		} else {
			r, out = h(req)
		}
		err = sendReply(fd, r, out)
		closeAll(out)
		if err != nil {
			return err
		}
	}
}

func sendReply(fd int, r Reply, files []*os.File) error {
	r.Files = len(files)
	if r.Err != "" {
		r.Files, r.Data = 0, nil
		files = nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, b, oob, nil, unix.MSG_NOSIGNAL)
}

var (
	errEOF       = errors.New("the other end closed the socket")
	errTruncated = errors.New("message or descriptors truncated")
)

// recvMessage reads one message of at most max bytes and at most
// maxFiles descriptors. Descriptors received are close-on-exec.
func recvMessage(fd, max, maxFiles int) ([]byte, []*os.File, error) {
	buf := make([]byte, max+1)
	oob := make([]byte, unix.CmsgSpace(4*(maxFiles+1)))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		files, ferr := parseRights(oob[:oobn])
		if n == 0 && oobn == 0 {
			return nil, nil, errEOF
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > max || len(files) > maxFiles {
			closeAll(files)
			return nil, nil, errTruncated
		}
		if ferr != nil {
			closeAll(files)
			return nil, nil, ferr
		}
		return buf[:n], files, nil
	}
}

// parseRights returns the descriptors of SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "privsep"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// RunHelper is the helper's life once started (see StartHelper): it
// ignores ignore (the signals meant for the data path: the helper ends
// with its end of the socketpair), keeps HelperCaps alone, installs its
// seccomp filter when seccomp is set, tells the data path it is Ready (or
// why not), serves h until the data path's end closes, and then restores
// the TAPs of attached still recorded, however the data path ended.
// attached holds what was recorded before anything was changed.
func RunHelper(fd int, seccomp bool, attached *AttachedTAPs, h Handler, ignore ...os.Signal) error {
	signal.Ignore(ignore...)
	err := Confine(HelperCaps)
	if err == nil && seccomp {
		err = InstallHelper()
	}
	if rerr := Ready(fd, err); err != nil || rerr != nil {
		return errors.Join(err, rerr)
	}
	err = Serve(fd, h)
	attached.RestoreAll()
	return err
}

// NewReply makes the helper's reply of generation gen with data (as JSON)
// and files; on error it closes files.
func NewReply(gen uint64, data any, files []*os.File) (Reply, []*os.File, error) {
	b, err := json.Marshal(data)
	if err != nil {
		CloseFiles(files)
		return Reply{}, nil, err
	}
	return Reply{Gen: gen, Data: b}, files, nil
}

// CloseFiles closes every file of files: descriptors received and not
// kept.
func CloseFiles(files []*os.File) { closeAll(files) }
