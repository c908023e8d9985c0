// Package pivot changes the root filesystem of the calling process's mount
// namespace with pivot_root(2), as arachsys init's pivot(1) does.
//
// # Two forms
//
// Root(NEW, OLD) is the plain system call: NEW becomes the root, and the old
// root is mounted at OLD, a directory at or under NEW, for the caller to
// inspect or unmount.
//
// Detach(NEW) makes NEW the root and removes the old root before it
// returns, without a directory for it and without running any program
// from the new tree (no untrusted umount binary):
//
//	chdir(NEW)
//	pivot_root(".", ".")   // the old root is now stacked on top of NEW at "/"
//	mount(NULL, ".", NULL, MS_SLAVE|MS_REC, NULL)  // its unmount must not propagate back
//	umount2(".", MNT_DETACH)                       // the old root is gone
//	chdir("/")
//
// # Preconditions
//
// The caller needs CAP_SYS_ADMIN in the user namespace that owns its mount
// namespace: in practice, a new mount namespace (unshare -m as root,
// unshare -Urm otherwise) — never the host's, whose root it would replace
// for every process. NEW must be a mount point (bind-mount a directory
// onto itself to make it one), and neither NEW's mount, its parent, nor the
// current root's parent may have shared propagation (mount --make-rprivate /
// first; util-linux unshare does so by default).
//
// The kernel moves the root and working directory of every process in the
// mount namespace that had the old root as its root or working directory;
// Detach also moves this process's working directory to the new root,
// which in Go applies to all of its threads.
//
// # Errors
//
// Failures are *Error values that name the step and the path, wrap the
// errno, and, where the cause can be told from the mount table, a Reason
// (ErrNotMountPoint, ErrShared, ...) and a Hint that says what to do.
package pivot

import (
	"errors"
	"fmt"
)

// ErrUnsupported is returned on systems without pivot_root.
var ErrUnsupported = errors.New("pivot_root needs Linux")

// Reasons, wrapped by *Error when the cause of a failure is known.
var (
	// ErrNoPrivilege: the caller lacks CAP_SYS_ADMIN over its mount
	// namespace.
	ErrNoPrivilege = errors.New("no privilege over this mount namespace")
	// ErrNotMountPoint: NEW is a directory, not the root of a mount.
	ErrNotMountPoint = errors.New("not a mount point")
	// ErrIsRoot: NEW is already the root mount.
	ErrIsRoot = errors.New("already the root")
	// ErrShared: a mount involved has shared propagation.
	ErrShared = errors.New("shared mount propagation")
	// ErrOldNotUnder: OLD is not at or under NEW.
	ErrOldNotUnder = errors.New("put-old directory not under the new root")
	// ErrRootNotMountPoint: the current root is a directory, not a mount
	// (the caller is in a chroot).
	ErrRootNotMountPoint = errors.New("current root is not a mount point")
	// ErrRootfs: the current root is the namespace's first mount (the
	// initramfs rootfs), which cannot be moved.
	ErrRootfs = errors.New("current root is the initial rootfs")
)

// Error is a failed step of Root or Detach.
type Error struct {
	// Op is the step: "chdir", "pivot_root", "mount MS_SLAVE|MS_REC" or
	// "umount2 MNT_DETACH" (the last two act on the old root in Detach).
	Op string
	// Path is NEW as given, or "/" for the final chdir.
	Path string
	// Err is the errno.
	Err error
	// Reason is one of this package's Err* values when the cause is known.
	Reason error
	// Hint says what to do about it, in one sentence naming the paths.
	Hint string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// Unwrap returns the errno and the reason, so that errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Reason}
}
