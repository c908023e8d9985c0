package cove

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/internal/procfile"
)

// nsGetOwnerUID is NS_GET_OWNER_UID, _IO(0xb7, 0x4): the uid that owns a
// user namespace, seen from the caller's.
const nsGetOwnerUID = 0xb704

// joinOrder is the order namespaces are joined in: the user namespace
// first (it grants the capabilities the others need), the mount namespace
// last.
var joinOrder = []struct {
	name string
	flag int
}{
	{"user", unix.CLONE_NEWUSER}, {"cgroup", unix.CLONE_NEWCGROUP}, {"ipc", unix.CLONE_NEWIPC},
	{"uts", unix.CLONE_NEWUTS}, {"net", unix.CLONE_NEWNET}, {"pid", unix.CLONE_NEWPID},
	{"time", unix.CLONE_NEWTIME}, {"mnt", unix.CLONE_NEWNS},
}

// joinTarget is the set of namespaces of a process to join.
type joinTarget struct {
	ns        []launch.Namespace
	files     []*os.File
	fork      bool // a PID or time namespace: the program must be born there
	setgroups bool // setgroups(2) is allowed in the target user namespace
}

func (j *joinTarget) close() {
	for _, f := range j.files {
		f.Close()
	}
}

// openJoin opens every namespace of pid that differs from ours, after
// checking that the caller owns the target's user namespace.
//
// Preconditions: runs before any setns; all fds are opened here, because
// after joining a mount namespace /proc would be the target's.
func openJoin(pid int) (*joinTarget, error) {
	j := &joinTarget{}
	ok := false
	defer func() {
		if !ok {
			j.close()
		}
	}()
	dir := "/proc/" + strconv.Itoa(pid) + "/ns/"
	for _, n := range joinOrder {
		f, err := os.Open(dir + n.name)
		if errors.Is(err, os.ErrNotExist) && n.name != "user" && n.name != "mnt" {
			continue // a kernel without that namespace type
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("process %d does not exist", pid)
			}
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("process %d does not belong to you (cannot open its %s namespace)", pid, n.name)
			}
			return nil, err
		}
		var theirs, ours unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &theirs); err != nil {
			f.Close()
			return nil, fmt.Errorf("stat %s namespace of %d: %w", n.name, pid, err)
		}
		if err := unix.Stat("/proc/self/ns/"+n.name, &ours); err == nil && ours.Ino == theirs.Ino && ours.Dev == theirs.Dev {
			f.Close()
			continue // already ours: setns would fail (user) or do nothing
		}
		if n.name == "user" && os.Getuid() != 0 {
			var owner uint32
			_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), nsGetOwnerUID, uintptr(unsafe.Pointer(&owner)))
			if errno != 0 || int(owner) != os.Getuid() {
				f.Close()
				return nil, fmt.Errorf("process %d does not belong to you: its user namespace is owned by uid %d", pid, owner)
			}
		}
		j.files = append(j.files, f)
		j.ns = append(j.ns, launch.Namespace{FD: int(f.Fd()), Type: n.flag})
		if n.flag == unix.CLONE_NEWPID || n.flag == unix.CLONE_NEWTIME {
			j.fork = true
		}
	}
	if sg, err := procfile.Read("/proc/" + strconv.Itoa(pid) + "/setgroups"); err == nil {
		j.setgroups = strings.TrimSpace(string(sg)) == "allow"
	}
	ok = true
	return j, nil
}
