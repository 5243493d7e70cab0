//go:build linux

package kernelpeer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Image is a bootable guest: a kernel and its initramfs.
type Image struct {
	Kernel string // path to vmlinuz
	Initrd string // path to the gzip cpio initramfs
}

// BuildImage runs dir/build.sh, which downloads (once) and packs the guest
// image under dir/.cache, and returns the paths it reports. A failing
// build is reported as ErrMissingPrereq, since its usual cause is that
// Debian's packages cannot be fetched; the script's output is included.
func BuildImage(ctx context.Context, dir string) (Image, error) {
	script, err := filepath.Abs(filepath.Join(dir, "build.sh"))
	if err != nil {
		return Image{}, fmt.Errorf("locate build.sh: %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Image{}, fmt.Errorf("%w: %s failed: %v\n%s", ErrMissingPrereq, script, err, stderr.String())
	}
	var img Image
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "VMLINUZ":
			img.Kernel = val
		case "INITRAMFS":
			img.Initrd = val
		}
	}
	if img.Kernel == "" || img.Initrd == "" {
		return Image{}, fmt.Errorf("%s did not report VMLINUZ and INITRAMFS:\n%s", script, stdout.String())
	}
	return img, nil
}
