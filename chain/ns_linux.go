package chain

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// nsFile is a namespace file opened before any namespace is joined (after joining a mount
// namespace, the caller's paths may no longer resolve).
type nsFile struct {
	path   string
	fd     int
	nstype int // CLONE_NEW*
}

// nsTypeNames words a CLONE_NEW* flag.
func nsTypeName(t int) string {
	switch t {
	case unix.CLONE_NEWNS:
		return "mount"
	case unix.CLONE_NEWNET:
		return "network"
	case unix.CLONE_NEWUTS:
		return "uts"
	case unix.CLONE_NEWIPC:
		return "ipc"
	case unix.CLONE_NEWPID:
		return "pid"
	case unix.CLONE_NEWCGROUP:
		return "cgroup"
	case unix.CLONE_NEWTIME:
		return "time"
	case unix.CLONE_NEWUSER:
		return "user"
	}
	return fmt.Sprintf("type %#x", t)
}

// openNamespace opens path and finds which namespace it is. A user namespace is refused: the
// kernel only lets a single-threaded process join one, and a Go program always has several
// threads.
func openNamespace(path string) (nsFile, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nsFile{}, stepErr("setns "+path, err)
	}
	t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		unix.Close(fd)
		return nsFile{}, stepErr("setns "+path, fmt.Errorf("not a namespace file: %w", err))
	}
	if t == unix.CLONE_NEWUSER {
		unix.Close(fd)
		return nsFile{}, stepErr("setns "+path, fmt.Errorf("cannot join a user namespace from cove exec: the kernel refuses setns(CLONE_NEWUSER) in a multithreaded process such as a Go program; use cove inject TARGET, which enters from a single-threaded child"))
	}
	return nsFile{path: path, fd: fd, nstype: t}, nil
}

// join enters the namespace. For a mount namespace the thread first stops sharing its
// filesystem attributes (root, cwd, umask) with the rest of the Go runtime, which setns requires.
//
// Preconditions: runs on the locked thread that will exec; for a mount namespace, that thread's
// root, cwd and umask diverge from the other threads' from here on, which is fine because only
// it survives exec.
func (n nsFile) join() error {
	if n.nstype == unix.CLONE_NEWNS {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return stepErr("setns "+n.path, fmt.Errorf("unshare filesystem attributes: %w", err))
		}
	}
	if err := unix.Setns(n.fd, n.nstype); err != nil {
		return stepErr(fmt.Sprintf("setns %s (%s namespace)", n.path, nsTypeName(n.nstype)), err)
	}
	unix.Close(n.fd)
	return nil
}
