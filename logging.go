package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// newLogger returns the logger every part of l2tap writes through (it is
// made slog's default, which the engine uses). In text mode a line is
// "l2tap: MESSAGE key=value ...", with no time or level, as l2tap has
// always logged (journald adds both); with asJSON it is one JSON object
// per line from slog's JSON handler: time, level, msg and the same keys.
func newLogger(w io.Writer, asJSON bool) *slog.Logger {
	if asJSON {
		// The JSON lines carry the local time, whose zone the time
		// package reads from /etc/localtime on first use: read it now,
		// in setup, as the seccomp filter forbids opening files later.
		time.Now().Zone()
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(&textHandler{mu: &sync.Mutex{}, w: w})
}

// textHandler writes "l2tap: MESSAGE key=value ..." lines. Values with
// spaces, quotes or equals signs are quoted as Go strings.
type textHandler struct {
	mu     *sync.Mutex // one line at a time, shared by derived handlers
	w      io.Writer
	attrs  string // pre-rendered attributes of WithAttrs
	prefix string // group names of WithGroup, each followed by a dot
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("l2tap: ")
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		appendAttr(&b, h.prefix, a)
	}
	c := *h
	c.attrs += b.String()
	return &c
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

// appendAttr writes " key=value", groups flattened to "group.key=value".
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	if a.Equal(slog.Attr{}) {
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	s := v.String()
	if needsQuote(s) {
		s = strconv.Quote(s)
	}
	b.WriteString(s)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}

// printError writes err, the command's answer, on stderr: as the line
// "l2tap: ERROR" under the text logger, so that a bad flag reads as one
// line naming it, and as a JSON record with the constant message "error"
// and err as an attribute under -log-format json.
func printError(err error) {
	if _, ok := slog.Default().Handler().(*textHandler); ok {
		fmt.Fprintf(os.Stderr, "l2tap: %s\n", err)
		return
	}
	slog.Error("error", "err", err.Error())
}
