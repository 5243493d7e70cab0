package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
)

// Show prints the snapshot of the l2tap on the status socket at path,
// or when path is empty of every l2tap with a socket in
// DefaultDir, as text or as a JSON array (one object per process).
// There, sockets nothing answers on (left by an l2tap that was killed)
// are skipped, and any other failure is handed to report and makes the
// result an error once the rest is printed. It fails when no l2tap answers.
func Show(w io.Writer, path string, asJSON bool, report func(error)) error {
	paths := []string{path}
	if path == "" {
		paths = nil
		for _, pattern := range []string{"*.sock", "uid-*/*.sock"} {
			found, err := filepath.Glob(filepath.Join(DefaultDir, pattern))
			if err != nil {
				return err
			}
			paths = append(paths, found...)
		}
	}
	var snaps []Snapshot
	var last error
	failed := 0
	for _, p := range paths {
		s, err := Query(p)
		if err == nil {
			snaps = append(snaps, s)
			continue
		}
		gone := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
		switch {
		case gone && path == "":
			continue
		case errors.Is(err, syscall.ECONNREFUSED):
			err = fmt.Errorf("show -socket %s: no l2tap answers there (connection refused: the l2tap that made it is gone)", p)
		case errors.Is(err, syscall.ENOENT):
			err = fmt.Errorf("show -socket %s: no such socket; give the -control path of the l2tap to ask", p)
		case errors.Is(err, syscall.EACCES):
			err = fmt.Errorf("show: %s: permission denied; run as root, or as the -user that l2tap runs as", p)
		default:
			err = fmt.Errorf("show: %w", err)
		}
		failed++
		last = err
		if path == "" {
			report(err)
		}
	}
	if asJSON && (len(snaps) > 0 || failed == 0) {
		if snaps == nil {
			snaps = []Snapshot{}
		}
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		e.SetEscapeHTML(false) // "udp a -> b", not "-\u003e"
		if err := e.Encode(snaps); err != nil {
			return err
		}
	} else {
		for i, s := range snaps {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := WriteText(w, s); err != nil {
				return err
			}
		}
	}
	switch {
	case failed > 0 && path == "":
		return fmt.Errorf("show: %d of the status sockets in %s could not be asked (see above)", failed, DefaultDir)
	case failed > 0:
		return last
	case len(snaps) == 0:
		return fmt.Errorf("show: no l2tap is running: no status socket in %s answers (for an l2tap started with -control PATH, give -socket PATH)", DefaultDir)
	}
	return nil
}
