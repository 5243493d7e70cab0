package main

import "os"

// maxSocketPath is the longest path a unix socket address holds (Windows'
// sun_path has 108 bytes too).
const maxSocketPath = 107

// umask does nothing: Windows has no file mode creation mask (a control
// socket's access is its directory's ACL).
func umask(int) int { return 0 }

// inode reports no inode: Windows' file IDs are not in FileInfo.
func inode(os.FileInfo) (uint64, bool) { return 0, false }
