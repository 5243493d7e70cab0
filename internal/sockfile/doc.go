// Package sockfile puts a unix socket file at a path with an owner and a
// mode, without giving another account that may write to the path's
// directory a moment to make l2tap, running as root, change any other
// file.
//
// Binding a socket creates its file with the caller's owner; setting its
// owner and mode afterwards by path (chown, chmod) follows whatever is at
// the path by then, which someone who may write to the directory can
// have swapped for a symbolic link to any file. Linux cannot set either
// through the socket's descriptor (fchown and fchmod on a socket change
// the socket inode, not the file). So, on Linux, Place binds in a fresh
// directory that only l2tap's user may enter, made beside the path (one
// filesystem, so that a rename moves it), sets the owner and mode there,
// where nobody else can reach the file, and renames it into place; every
// step after the directory's creation goes through descriptors of the two
// directories, never through a path another account could change.
// Elsewhere it binds at the path and sets owner and mode by path (Windows
// has neither: the directory's ACL decides).
package sockfile
