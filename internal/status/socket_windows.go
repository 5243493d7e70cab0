package status

import "os"

// MaxSocketPath is the longest path a unix socket address holds (Windows'
// sun_path has 108 bytes too).
const MaxSocketPath = 107

// inode reports no inode: Windows' file IDs are not in FileInfo.
func inode(os.FileInfo) (uint64, bool) { return 0, false }
