package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"

	"github.com/l2tap/l2tap/internal/config"
)

// startCPUProfile writes a CPU profile to path until the returned function
// is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, config.Usagef("-cpuprofile %s: %v", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// heapProfile is the -memprofile file. It is opened during setup, so that
// writing it later needs neither the right to create files in its
// directory (-user) nor a system call the seccomp filter forbids; each
// write replaces what the file held.
type heapProfile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// openHeapProfile creates (or truncates) the heap profile file at path.
func openHeapProfile(path string) (*heapProfile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, config.Usagef("-memprofile %s: %v", path, err)
	}
	return &heapProfile{path: path, f: f}, nil
}

// write runs a garbage collection, so that the profile's in-use figures
// are those of this moment, and replaces the file's content with the heap
// profile; it logs the live heap it saw. A nil heapProfile writes nothing.
func (h *heapProfile) write() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var b bytes.Buffer
	err := pprof.Lookup("heap").WriteTo(&b, 0)
	if err == nil {
		_, err = h.f.Seek(0, 0)
	}
	if err == nil {
		_, err = h.f.Write(b.Bytes())
	}
	if err == nil {
		err = h.f.Truncate(int64(b.Len()))
	}
	if err != nil {
		slog.Warn("heap profile not written", "file", h.path, "err", err.Error())
		return
	}
	slog.Info("heap profile written", "file", h.path, "heap_bytes", ms.HeapAlloc)
}

// close writes the profile a last time and closes the file.
func (h *heapProfile) close() {
	if h == nil {
		return
	}
	h.write()
	h.f.Close()
}
