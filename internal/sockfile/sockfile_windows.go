package sockfile

import "os"

// Place binds at path. Windows has no owner or mode bits for the file: its
// directory's ACL decides who may connect.
func Place(path string, uid, gid int, mode os.FileMode, bind func(name string) error) error {
	return bind(path)
}
