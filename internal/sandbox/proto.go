package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The privileged helper and the data-path process speak in messages of
// one JSON object each, one message per datagram of a SOCK_SEQPACKET
// socketpair; a reply's descriptors ride along as SCM_RIGHTS. Requests
// name what they want only by the helper's own numbering of the
// configuration it read (generation, tunnel, session), or by the name of a
// TAP the helper itself recorded: never a path, address or setting.

// Op is what a request asks for.
type Op string

const (
	// OpReload asks the helper to read the configuration file again; the
	// reply's Data holds its tunnels and sessions, numbered as the
	// helper numbers them in later requests, under a new Gen.
	OpReload Op = "reload"
	// OpSocket asks for the underlay socket of tunnel Tunnel of Gen.
	OpSocket Op = "socket"
	// OpOpen asks for the endpoint (TAP or VM socket) of session Session
	// of tunnel Tunnel of Gen.
	OpOpen Op = "open"
	// OpRestore asks the helper to give the attached TAP Name the MTU and
	// up/down state it recorded before l2tap changed them.
	OpRestore Op = "restore"
)

// MaxRequest and MaxReply bound a message's size: a request is a few
// fields; a reply carries at most a configuration's tunnels and sessions.
const (
	MaxRequest = 512
	MaxReply   = 1 << 20
	// MaxFiles is the most descriptors a reply carries (a TAP's queues).
	MaxFiles = 256
	// maxIndex bounds a tunnel or session number.
	maxIndex = 1 << 16
)

// Request is a message from the data-path process to the helper.
type Request struct {
	Op      Op     `json:"op"`
	Gen     uint64 `json:"gen,omitempty"`
	Tunnel  int    `json:"tunnel,omitempty"`
	Session int    `json:"session,omitempty"`
	Name    string `json:"name,omitempty"` // OpRestore only
}

// Reply is the helper's answer to one request. Err, when set, says why
// the request was refused or failed, and no descriptor comes with it.
type Reply struct {
	Err   string          `json:"err,omitempty"`
	Gen   uint64          `json:"gen,omitempty"`
	Files int             `json:"files,omitempty"` // descriptors attached, in order
	Data  json.RawMessage `json:"data,omitempty"`  // what the op returns besides
}

// ParseRequest is the one parser of requests: a single JSON object of at
// most MaxRequest bytes with no unknown field and nothing after it, an
// op from the list, and the fields that op takes (others zero) within
// bounds.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) > MaxRequest {
		return r, fmt.Errorf("request of %d bytes, more than %d", len(b), MaxRequest)
	}
	if err := decodeStrict(b, &r); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if r.Tunnel < 0 || r.Tunnel >= maxIndex || r.Session < 0 || r.Session >= maxIndex {
		return Request{}, fmt.Errorf("request %s: tunnel %d, session %d out of range", r.Op, r.Tunnel, r.Session)
	}
	bad := func(field string) (Request, error) {
		return Request{}, fmt.Errorf("request %s: field %s does not belong", r.Op, field)
	}
	switch r.Op {
	case OpReload:
		if r.Gen != 0 || r.Tunnel != 0 || r.Session != 0 {
			return bad("gen, tunnel or session")
		}
		if r.Name != "" {
			return bad("name")
		}
	case OpSocket:
		if r.Session != 0 {
			return bad("session")
		}
		fallthrough
	case OpOpen:
		if r.Gen == 0 {
			return Request{}, fmt.Errorf("request %s: no gen", r.Op)
		}
		if r.Name != "" {
			return bad("name")
		}
	case OpRestore:
		if r.Gen != 0 || r.Tunnel != 0 || r.Session != 0 {
			return bad("gen, tunnel or session")
		}
		if r.Name == "" || len(r.Name) >= 16 {
			return Request{}, fmt.Errorf("request restore: name %q is not a TAP name", r.Name)
		}
	default:
		return Request{}, fmt.Errorf("request: unknown op %q", r.Op)
	}
	return r, nil
}

// ParseReply is the one parser of replies, as ParseRequest is of
// requests: a reply with an error carries neither descriptors nor data.
func ParseReply(b []byte) (Reply, error) {
	var r Reply
	if len(b) > MaxReply {
		return r, fmt.Errorf("reply of %d bytes, more than %d", len(b), MaxReply)
	}
	if err := decodeStrict(b, &r); err != nil {
		return Reply{}, fmt.Errorf("reply: %w", err)
	}
	if r.Files < 0 || r.Files > MaxFiles {
		return Reply{}, fmt.Errorf("reply: %d descriptors, want 0 to %d", r.Files, MaxFiles)
	}
	if r.Err != "" && (r.Files != 0 || len(r.Data) != 0) {
		return Reply{}, errors.New("reply: an error with descriptors or data")
	}
	return r, nil
}

// decodeStrict decodes exactly one JSON object from b into v.
func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
		return errors.New("not a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}
