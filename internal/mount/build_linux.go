package mount

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/spec"
)

// scratchDirs are tried in order as the place where the new root is
// assembled; the first existing directory wins. It only needs to exist: a
// tmpfs is mounted over it in the private mount namespace.
var scratchDirs = [...]string{"/tmp", "/mnt", "/run", "/var/tmp"}

// builder holds the two roots while a Plan runs: old is the host root, new is
// the sandbox root under construction. Both are O_PATH directory fds.
type builder struct {
	old, new int
}

// Build executes p and makes the new root the root and working directory of
// the calling process. The host root is detached when it returns.
//
// Preconditions: the caller is in a new mount namespace owned by a user
// namespace in which it holds CAP_SYS_ADMIN, and in its new PID namespace if
// the Plan mounts proc. Mounts, chdir and pivot_root act on the whole
// process in Go (all threads share one fs_struct), so no thread pinning is
// needed.
func Build(p *Plan) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	base := ""
	for _, d := range scratchDirs {
		if st, err := os.Lstat(d); err == nil && st.IsDir() {
			base = d
			break
		}
	}
	if base == "" {
		return fmt.Errorf("no scratch directory for the new root (tried %s)", strings.Join(scratchDirs[:], ", "))
	}
	if err := unix.Mount("tmpfs", base, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return fmt.Errorf("mount scratch tmpfs on %s: %w", base, err)
	}
	for _, d := range []string{"new", "old"} {
		if err := unix.Mkdir(base+"/"+d, 0o700); err != nil {
			return fmt.Errorf("mkdir %s/%s: %w", base, d, err)
		}
	}
	if err := unix.Mount("tmpfs", base+"/new", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount root tmpfs: %w", err)
	}
	// Move the host root aside: from here on it is /old, and nothing resolves
	// through it by accident.
	if err := unix.PivotRoot(base, base+"/old"); err != nil {
		return fmt.Errorf("pivot_root to scratch: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	b := &builder{old: -1, new: -1}
	defer b.close()
	var err error
	if b.old, err = unix.Open("/old", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	if b.new, err = unix.Open("/new", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	for _, op := range p.Ops {
		if err := b.apply(op); err != nil {
			return &OpError{Index: op.Index, Op: op, Err: err}
		}
	}
	// The root directory itself is read-only: the program can write only
	// where a writable mount says so.
	if err := setattr(b.new, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false); err != nil {
		return fmt.Errorf("make the new root read-only: %w", err)
	}
	if err := unix.Fchdir(b.new); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching it
	// leaves no path back to the host (a chroot would leave one).
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into new root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in new root: %w", err)
	}
	return nil
}

func (b *builder) close() {
	for _, fd := range []int{b.old, b.new} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (b *builder) apply(op Op) error {
	switch op.Type {
	case spec.Bind, spec.ROBind, spec.DevBind:
		attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
		switch op.Type {
		case spec.ROBind:
			attr |= unix.MOUNT_ATTR_RDONLY
		case spec.DevBind:
			attr = unix.MOUNT_ATTR_NOSUID
		}
		return b.bind(op.Src, op.Dst, op.SrcIsDir, attr)
	case spec.Tmpfs:
		opts := []string{"mode=" + fmt.Sprintf("%o", op.Mode)}
		if op.Size > 0 {
			opts = append(opts, fmt.Sprintf("size=%d", op.Size))
		}
		return b.newMount("tmpfs", op.Dst, opts, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	case spec.Proc:
		return b.newMount("proc", op.Dst, nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	case spec.Dev:
		return b.dev(op.Dst)
	case spec.Dir:
		fd, err := b.target(op.Dst, true)
		if err != nil {
			return err
		}
		unix.Close(fd)
		// fchmod needs a real (not O_PATH) descriptor.
		dfd, err := openat2(b.new, op.Dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		return unix.Fchmod(dfd, op.Mode)
	case spec.Symlink:
		return b.symlink(op.Src, op.Dst)
	case spec.File:
		return b.file(op.Dst, op.Data, op.Mode)
	case spec.RemountRO:
		fd, err := b.resolve(op.Dst)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		err = setattr(fd, unix.MOUNT_ATTR_RDONLY, true)
		if errors.Is(err, unix.EINVAL) {
			return errors.New("not a mount point")
		}
		return err
	}
	return fmt.Errorf("unknown operation %q", op.Type)
}

// bind clones the host tree at src (resolved inside the host root) and
// attaches it at dst inside the new root with the given mount attributes,
// applied recursively before the tree becomes visible.
func (b *builder) bind(src, dst string, isDir bool, attr uint64) error {
	sfd, err := openat2(b.old, src, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer unix.Close(sfd)
	tree, err := unix.OpenTree(sfd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("clone source tree: %w", err)
	}
	defer unix.Close(tree)
	if err := setattr(tree, attr, true); err != nil {
		return fmt.Errorf("set mount attributes: %w", err)
	}
	return b.attach(tree, dst, isDir)
}

// newMount creates a new filesystem instance of type fstype with the given
// options and attaches it at dst.
func (b *builder) newMount(fstype, dst string, opts []string, attr int) error {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fsfd)
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fsfd, k, v)
		} else {
			err = unix.FsconfigSetFlag(fsfd, k)
		}
		if err != nil {
			return fmt.Errorf("%s option %s: %w", fstype, o, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("create %s: %w", fstype, err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	defer unix.Close(mfd)
	return b.attach(mfd, dst, true)
}

// attach moves the detached mount mfd onto dst, creating dst (a directory or
// an empty file) when missing.
func (b *builder) attach(mfd int, dst string, isDir bool) error {
	tfd, err := b.target(dst, isDir)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	if err := unix.MoveMount(mfd, "", tfd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}

// dev builds a minimal /dev at dst.
func (b *builder) dev(dst string) error {
	if err := b.newMount("tmpfs", dst, []string{"mode=755"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC); err != nil {
		return err
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := b.bind("/dev/"+n, path.Join(dst, n), false, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC); err != nil {
			return fmt.Errorf("/dev/%s: %w", n, err)
		}
	}
	if err := b.newMount("devpts", path.Join(dst, "pts"), []string{"newinstance", "ptmxmode=0666", "mode=620"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC); err != nil {
		return err
	}
	if err := b.newMount("tmpfs", path.Join(dst, "shm"), []string{"mode=1777"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV); err != nil {
		return err
	}
	links := [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
	}
	for _, l := range links {
		if err := b.symlink(l[0], path.Join(dst, l[1])); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) symlink(target, dst string) error {
	dir, name := path.Split(dst)
	pfd, err := b.target(dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	err = unix.Symlinkat(target, pfd, name)
	if errors.Is(err, unix.EEXIST) {
		// An identical link is fine (e.g. a profile repeating the default's).
		if cur, rerr := readlinkat(pfd, name); rerr == nil && cur == target {
			return nil
		}
	}
	return err
}

func (b *builder) file(dst, data string, mode uint32) error {
	dir, name := path.Split(dst)
	pfd, err := b.target(dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	fd, err := unix.Openat(pfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for buf := []byte(data); len(buf) > 0; {
		n, err := unix.Write(fd, buf)
		if err != nil {
			return err
		}
		buf = buf[n:]
	}
	return unix.Fchmod(fd, mode)
}

// resolve opens an existing path inside the new root.
func (b *builder) resolve(p string) (int, error) {
	return openat2(b.new, p, unix.O_PATH|unix.O_CLOEXEC)
}

// target opens p inside the new root, creating missing components: every
// parent as a directory, the last as a directory when isDir and as an empty
// file otherwise. Each component is resolved from the new root with
// RESOLVE_IN_ROOT, so symlinks, absolute or with "..", never lead outside.
func (b *builder) target(p string, isDir bool) (int, error) {
	comps := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	parent, err := unix.Dup(b.new)
	if err != nil {
		return -1, err
	}
	for i, c := range comps {
		prefix := "/" + strings.Join(comps[:i+1], "/")
		fd, err := openat2(b.new, prefix, unix.O_PATH|unix.O_CLOEXEC)
		if errors.Is(err, unix.ENOENT) {
			last := i == len(comps)-1
			if !last || isDir {
				err = unix.Mkdirat(parent, c, 0o755)
			} else {
				var f int
				f, err = unix.Openat(parent, c, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(f)
				}
			}
			if err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(parent)
				return -1, fmt.Errorf("create %s: %w", prefix, err)
			}
			fd, err = openat2(b.new, prefix, unix.O_PATH|unix.O_CLOEXEC)
		}
		unix.Close(parent)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", prefix, err)
		}
		parent = fd
	}
	return parent, nil
}

// openat2 opens p below dirfd as if dirfd were the root directory: ".."
// and absolute symlinks stop at dirfd, and magic /proc links are refused.
func openat2(dirfd int, p string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(dirfd, p, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

func setattr(fd int, set uint64, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(fd, "", uint(flags), &unix.MountAttr{Attr_set: set})
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
