package main

import "os"

// inode reports no inode: Windows' file IDs are not in FileInfo.
func inode(os.FileInfo) (uint64, bool) { return 0, false }
