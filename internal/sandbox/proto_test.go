package sandbox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Request
		err  string // "" when it parses
	}{
		{in: `{"op":"reload"}`, want: Request{Op: OpReload}},
		{in: ` {"op":"open","gen":3,"tunnel":1,"session":2} `, want: Request{Op: OpOpen, Gen: 3, Tunnel: 1, Session: 2}},
		{in: `{"op":"socket","gen":1,"tunnel":4}`, want: Request{Op: OpSocket, Gen: 1, Tunnel: 4}},
		{in: `{"op":"restore","name":"tap0"}`, want: Request{Op: OpRestore, Name: "tap0"}},
		{in: ``, err: "not a JSON object"},
		{in: `[]`, err: "not a JSON object"},
		{in: `{"op":"open","gen":1}{"op":"reload"}`, err: "data after the object"},
		{in: `{"op":"format"}`, err: `unknown op "format"`},
		{in: `{"op":"open","gen":1,"path":"/etc/shadow"}`, err: `unknown field "path"`},
		{in: `{"op":"open","tunnel":1}`, err: "no gen"},
		{in: `{"op":"open","gen":1,"tunnel":-1}`, err: "out of range"},
		{in: `{"op":"open","gen":1,"session":65536}`, err: "out of range"},
		{in: `{"op":"open","gen":1,"name":"eth0"}`, err: "field name does not belong"},
		{in: `{"op":"socket","gen":1,"session":1}`, err: "field session does not belong"},
		{in: `{"op":"reload","gen":2}`, err: "does not belong"},
		{in: `{"op":"reload","name":"x"}`, err: "field name does not belong"},
		{in: `{"op":"restore"}`, err: "is not a TAP name"},
		{in: `{"op":"restore","name":"a-name-longer-than-15"}`, err: "is not a TAP name"},
		{in: `{"op":"restore","name":"tap0","tunnel":1}`, err: "does not belong"},
		{in: `{"op":"open","gen":"1"}`, err: "cannot unmarshal"},
		{in: `{"op":"reload","op":"open"}`, err: "no gen"}, // the last key wins: open, without gen
		{in: `{"op":"reload"` + strings.Repeat(" ", MaxRequest) + `}`, err: "more than"},
	} {
		got, err := ParseRequest([]byte(c.in))
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: got %+v, %v; want %+v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: got %+v, %v; want an error with %q", c.in, got, err, c.err)
		case c.err != "" && got != (Request{}):
			t.Errorf("%s: refused, but returned %+v", c.in, got)
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, c := range []struct {
		in  string
		err string
	}{
		{in: `{}`},
		{in: `{"gen":2,"files":3,"data":{"mtu":1500}}`},
		{in: `{"err":"no such session"}`},
		{in: `{"err":"x","files":1}`, err: "an error with descriptors or data"},
		{in: `{"err":"x","data":[1]}`, err: "an error with descriptors or data"},
		{in: `{"files":-1}`, err: "descriptors, want"},
		{in: `{"files":257}`, err: "descriptors, want"},
		{in: `{"files":1,"fd":3}`, err: `unknown field "fd"`},
		{in: `{} {}`, err: "data after the object"},
		{in: `null`, err: "not a JSON object"},
	} {
		_, err := ParseReply([]byte(c.in))
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want error %q", c.in, err, c.err)
		}
	}
}

// FuzzRequest: any bytes either parse into a request that marshals and
// parses back equal, or are refused with nothing returned.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{`{"op":"reload"}`, `{"op":"open","gen":3,"tunnel":1,"session":2}`,
		`{"op":"socket","gen":1,"tunnel":4}`, `{"op":"restore","name":"tap0"}`, `{"op":"open","gen":1,"path":"/"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if r != (Request{}) {
				t.Fatalf("refused %q but returned %+v", b, r)
			}
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseRequest(again)
		if err != nil || r2 != r {
			t.Fatalf("%q parsed to %+v, which reads back as %+v, %v", b, r, r2, err)
		}
	})
}

// FuzzReply: as FuzzRequest, for replies.
func FuzzReply(f *testing.F) {
	for _, s := range []string{`{}`, `{"gen":2,"files":3,"data":{"mtu":1500}}`, `{"err":"no"}`, `{"err":"x","files":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		if r.Err != "" && (r.Files != 0 || len(r.Data) != 0) {
			t.Fatalf("%q: an error reply with descriptors or data: %+v", b, r)
		}
		again, err := json.Marshal(r)
		if err != nil {
			return // data that is JSON only to the lenient decoder
		}
		r2, err := ParseReply(again)
		if err != nil || r2.Err != r.Err || r2.Gen != r.Gen || r2.Files != r.Files {
			t.Fatalf("%q parsed to %+v, which reads back as %+v, %v", b, r, r2, err)
		}
		var d1, d2 any
		json.Unmarshal(r.Data, &d1)
		json.Unmarshal(r2.Data, &d2)
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("%q: data %s reads back as %s", b, r.Data, r2.Data)
		}
	})
}
