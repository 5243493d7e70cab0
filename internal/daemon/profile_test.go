//go:build linux

package daemon

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2tap/l2tap/internal/config"
)

// TestHeapProfile: -memprofile's file is created at once, each write
// replaces what it held (a longer old content is cut off, not left behind
// the new profile), and a path that cannot be created is a usage error
// naming the flag.
func TestHeapProfile(t *testing.T) {
	quietLogs(t)
	path := filepath.Join(t.TempDir(), "heap.prof")
	h, err := openHeapProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("not created at open: %v", err)
	}
	// Longer content than a profile of this process, as a profile taken
	// when more was live would be.
	if _, err := h.f.Write(bytes.Repeat([]byte{0xee}, 8<<20)); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		h.write()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) >= 8<<20 {
			t.Fatalf("write %d: the file is %d bytes: the old content was not cut off", round, len(b))
		}
		// pprof's format: one gzip stream, nothing after it.
		br := bytes.NewReader(b)
		z, err := gzip.NewReader(br)
		if err != nil {
			t.Fatalf("write %d: not gzip: %v", round, err)
		}
		z.Multistream(false)
		if _, err := io.Copy(io.Discard, z); err != nil {
			t.Fatalf("write %d: the profile does not decompress: %v", round, err)
		}
		if br.Len() != 0 {
			t.Fatalf("write %d: %d bytes after the profile", round, br.Len())
		}
	}
	h.close()

	_, err = openHeapProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "heap.prof"))
	var ue config.UsageError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "-memprofile ") {
		t.Errorf("a path in a missing directory: %v, want a usage error naming -memprofile", err)
	}
}
