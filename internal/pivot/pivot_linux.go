package pivot

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is pivot_root(newRoot, putOld): newRoot becomes the root of the
// caller's mount namespace and the old root is mounted at putOld, which
// must be at or under newRoot. Paths are taken as the kernel takes them
// (relative to the working directory). See the package documentation for
// the preconditions.
func Root(newRoot, putOld string) error {
	if err := unix.PivotRoot(newRoot, putOld); err != nil {
		return diagnose(newRoot, putOld, err)
	}
	return nil
}

// Detach makes newRoot the root of the caller's mount namespace and
// detaches the old root, as described in the package documentation. On
// return the old root is unreachable from this mount namespace and the
// working directory is the new "/".
//
// If the pivot itself fails, the working directory is restored. If a step
// after it fails (MS_SLAVE or the detach), the pivot has happened and the
// old root is still mounted on top of the new one; the error says which
// step.
func Detach(newRoot string) error {
	if newRoot == "" {
		return &Error{Op: "chdir", Path: newRoot, Err: unix.ENOENT}
	}
	back, backErr := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if backErr == nil {
		defer unix.Close(back)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return &Error{Op: "chdir", Path: newRoot, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		if backErr == nil {
			unix.Fchdir(back)
		}
		return diagnose(newRoot, "", err)
	}
	// The old root sits on top of the new one at "/", and "." resolves
	// to the topmost mount: these two act on the old root.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &Error{Op: "mount MS_SLAVE|MS_REC", Path: newRoot, Err: err,
			Hint: "the pivot happened but the old root could not be made a slave, so it was not detached"}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &Error{Op: "umount2 MNT_DETACH", Path: newRoot, Err: err,
			Hint: "the pivot happened but the old root is still mounted on top of the new one"}
	}
	if err := unix.Chdir("/"); err != nil {
		return &Error{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// diagnose turns a failed chdir or pivot_root into an *Error with the
// reason and a hint when the mount table tells them. putOld is "" for
// Detach.
func diagnose(newRoot, putOld string, errno error) *Error {
	e := &Error{Op: "pivot_root", Path: newRoot, Err: errno}
	switch errno {
	case unix.EPERM:
		e.Reason = ErrNoPrivilege
		e.Hint = "pivot_root needs CAP_SYS_ADMIN in the user namespace that owns this mount namespace: " +
			"run it in a new mount namespace (unshare -Urm, or unshare -m as root)"
	case unix.ENOENT, unix.ENOTDIR:
		e.Hint = explainMissing(newRoot, putOld)
	case unix.EINVAL, unix.EBUSY:
		e.Hint, e.Reason = explainInvalid(newRoot, putOld)
	}
	return e
}

// explainMissing says which of the paths does not exist or is not a
// directory.
func explainMissing(paths ...string) string {
	for _, p := range paths {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return p + " does not exist"
		case err != nil:
			return fmt.Sprintf("%s: %v", p, errors.Unwrap(err))
		case !st.IsDir():
			return p + " is not a directory"
		}
	}
	return ""
}

// mountOf returns the id of the mount path is on and whether path is that
// mount's root.
func mountOf(path string) (id uint64, isRoot bool, err error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_NO_AUTOMOUNT, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, false, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 || stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return 0, false, errors.New("statx has no mount id (Linux < 5.8)")
	}
	return stx.Mnt_id, stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	parent uint64
	point  string
	shared bool
	fstype string
}

func readMountinfo() (map[uint64]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts := map[uint64]mountInfo{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 6 || len(tail) < 1 {
			continue
		}
		id, err1 := strconv.ParseUint(fields[0], 10, 64)
		parent, err2 := strconv.ParseUint(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		m := mountInfo{parent: parent, point: fields[4], fstype: tail[0]}
		for _, opt := range fields[6:] {
			if strings.HasPrefix(opt, "shared:") {
				m.shared = true
			}
		}
		mounts[id] = m
	}
	return mounts, sc.Err()
}

// explainInvalid finds which of pivot_root's EINVAL and EBUSY conditions
// holds, checking them in the kernel's order.
func explainInvalid(newRoot, putOld string) (hint string, reason error) {
	newID, newIsRoot, err := mountOf(newRoot)
	if err != nil {
		return "", nil
	}
	rootID, rootIsRoot, err := mountOf("/")
	if err != nil {
		return "", nil
	}
	oldID := newID
	if putOld != "" {
		if oldID, _, err = mountOf(putOld); err != nil {
			return "", nil
		}
	}
	mounts, _ := readMountinfo()
	shared := func(id uint64, what string) string {
		if m, ok := mounts[id]; ok && m.shared {
			return fmt.Sprintf("%s (mounted at %s) has shared propagation: make the mounts private first (mount --make-rprivate /)", what, m.point)
		}
		return ""
	}
	for _, h := range []string{
		shared(oldID, "the put-old directory's mount"),
		shared(mounts[newID].parent, "the mount containing "+newRoot),
		shared(mounts[rootID].parent, "the current root's parent mount"),
	} {
		if h != "" {
			return h, ErrShared
		}
	}
	bindHint := fmt.Sprintf("%s is not a mount point: bind-mount it onto itself first (mount --bind %s %s)", newRoot, newRoot, newRoot)
	if newID == rootID {
		if !newIsRoot {
			return bindHint, ErrNotMountPoint
		}
		return newRoot + " is already the root", ErrIsRoot
	}
	if !rootIsRoot {
		return "the current root is a directory, not a mount point (a chroot?): pivot from outside the chroot, or bind-mount its directory onto itself and chroot into that", ErrRootNotMountPoint
	}
	if m, ok := mounts[rootID]; ok && (m.fstype == "rootfs" || m.parent == rootID) {
		return "the current root is the namespace's initial rootfs, which cannot be pivoted away: use switch_root (delete and overmount) instead", ErrRootfs
	}
	if !newIsRoot {
		return bindHint, ErrNotMountPoint
	}
	if putOld != "" && !under(putOld, newRoot) {
		return fmt.Sprintf("%s is not at or under %s: OLD must be a directory inside NEW", putOld, newRoot), ErrOldNotUnder
	}
	return fmt.Sprintf("if %s was mounted in a more privileged mount namespace (locked), bind-mount it onto itself first (mount --bind %s %s)", newRoot, newRoot, newRoot), nil
}

// under reports whether path is at or under dir, after resolving both.
func under(path, dir string) bool {
	p, err1 := filepath.EvalSymlinks(path)
	d, err2 := filepath.EvalSymlinks(dir)
	if err1 != nil || err2 != nil {
		return true // cannot tell: do not claim it is not
	}
	p, _ = filepath.Abs(p)
	d, _ = filepath.Abs(d)
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
