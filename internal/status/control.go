package status

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The control protocol: a client connects to the unix socket, writes one
// request line and reads one JSON object, after which the server closes
// the connection. The only request is "show"; the answer is
//
//	{"snapshot": {"pid": 1234, "tunnels": [...]}}
//
// or, for a request the server does not know, {"error": "..."}. A client
// that sends nothing within IOTimeout is disconnected.
const (
	RequestShow = "show"
	// IOTimeout bounds each connection on both sides.
	IOTimeout = 5 * time.Second
	// maxRequest is the longest request line read.
	maxRequest = 256
)

type response struct {
	Error    string    `json:"error,omitempty"`
	Snapshot *Snapshot `json:"snapshot,omitempty"`
}

// Serve answers control requests on ln, each connection in its own
// goroutine, calling snap once per "show". It returns nil once ln is
// closed, and never otherwise: a failed accept (such as EMFILE) is retried
// after a pause that grows to a second.
func Serve(ln net.Listener, snap func() Snapshot) error {
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		go handle(c, snap)
	}
}

// handle answers the one request of connection c.
func handle(c net.Conn, snap func() Snapshot) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(IOTimeout))
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest), maxRequest).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return // nothing to answer: the client went away or sent no line
	}
	var r response
	switch req := strings.TrimSpace(line); req {
	case RequestShow:
		s := snap()
		r.Snapshot = &s
	default:
		r.Error = fmt.Sprintf("unknown request %q; this l2tap knows %q", req, RequestShow)
	}
	json.NewEncoder(c).Encode(&r)
}

// Query asks the l2tap listening on the unix socket at path for a
// snapshot. The snapshot's Socket is path.
func Query(path string) (Snapshot, error) {
	c, err := net.DialTimeout("unix", path, IOTimeout)
	if err != nil {
		return Snapshot{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(IOTimeout))
	if _, err := io.WriteString(c, RequestShow+"\n"); err != nil {
		return Snapshot{}, fmt.Errorf("%s: send request: %w", path, err)
	}
	var r response
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return Snapshot{}, fmt.Errorf("%s: read answer: %w", path, err)
	}
	if r.Error != "" {
		return Snapshot{}, fmt.Errorf("%s: %s", path, r.Error)
	}
	if r.Snapshot == nil {
		return Snapshot{}, fmt.Errorf("%s: answer holds no snapshot", path)
	}
	r.Snapshot.Socket = path
	return *r.Snapshot, nil
}
