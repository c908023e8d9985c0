package mount

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/launch"
)

// Build executes p with Go code, as the re-executed stage 1 does: it runs
// the same mount program the launcher's init runs in raw system calls
// (Plan.Program), so both engines build the same tree. It leaves the calling
// process in the new root, with the host root detached.
//
// Preconditions: the caller is in a new mount namespace owned by a user
// namespace in which it holds CAP_SYS_ADMIN, and in its new PID namespace if
// the Plan mounts proc. Mounts, chdir and pivot_root act on the whole
// process in Go (all threads share one fs_struct), so no thread pinning is
// needed.
func Build(p *Plan) error {
	base, err := ScratchDir(func(d string) (bool, error) {
		st, err := os.Lstat(d)
		return err == nil && st.IsDir(), err
	})
	if err != nil {
		return err
	}
	prog := p.Program(base)
	regs := map[int]int{}
	defer func() {
		for _, fd := range regs {
			unix.Close(fd)
		}
	}()
	at := func(r int) int {
		if r < 0 {
			return unix.AT_FDCWD
		}
		return regs[r]
	}
	set := func(r, fd int) {
		if old, ok := regs[r]; ok {
			unix.Close(old)
		}
		regs[r] = fd
	}
	skipIndex := -2
	for _, in := range prog {
		if in.Index == skipIndex {
			continue
		}
		err := run(in, at, set, regs)
		if err != nil && in.SkipOnFail {
			skipIndex = in.Index
			continue
		}
		if err != nil && (in.Ignore == 0 || !errors.Is(err, in.Ignore)) {
			e := fmt.Errorf("%s: %w", in.What, err)
			if in.Index >= 0 {
				for _, op := range p.Ops {
					if op.Index == in.Index {
						return &OpError{Index: in.Index, Op: op, Err: e}
					}
				}
			}
			return e
		}
	}
	return nil
}

// run executes one instruction with the semantics documented on
// launch.InsnOp.
func run(in launch.Insn, at func(int) int, set func(int, int), regs map[int]int) error {
	how := func(flags uint64) *unix.OpenHow {
		return &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	}
	switch in.Op {
	case launch.OpMount:
		return unix.Mount(in.S1, in.S2, in.S3, uintptr(in.Flags), in.S4)
	case launch.OpMkdir:
		return unix.Mkdir(in.S1, uint32(in.Flags))
	case launch.OpPivotRoot:
		return unix.PivotRoot(in.S1, in.S2)
	case launch.OpChdir:
		return unix.Chdir(in.S1)
	case launch.OpUmount, launch.OpDetach:
		return unix.Unmount(in.S1, int(in.Flags))
	case launch.OpOpen:
		fd, err := unix.Openat(at(in.A), in.S1, int(in.Flags), uint32(in.Flags2))
		if err == nil {
			set(in.R, fd)
		}
		return err
	case launch.OpOpenAt2:
		fd, err := unix.Openat2(at(in.A), in.S1, how(in.Flags))
		if err == nil {
			set(in.R, fd)
		}
		return err
	case launch.OpEnsure:
		h := how(unix.O_PATH | unix.O_CLOEXEC)
		fd, err := unix.Openat2(at(in.A), in.S1, h)
		if errors.Is(err, unix.ENOENT) {
			if in.Flags2&1 != 0 {
				err = unix.Mkdirat(at(in.B), in.S2, 0o755)
			} else {
				var f int
				f, err = unix.Openat(at(in.B), in.S2, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(f)
				}
			}
			if err == nil || errors.Is(err, unix.EEXIST) {
				fd, err = unix.Openat2(at(in.A), in.S1, h)
			}
		}
		if err == nil {
			set(in.R, fd)
		}
		return err
	case launch.OpOpenTree:
		fd, err := unix.OpenTree(at(in.A), in.S1, uint(in.Flags))
		if err == nil {
			set(in.R, fd)
		}
		return err
	case launch.OpSetattr:
		return unix.MountSetattr(regs[in.R], in.S1, uint(in.Flags), &unix.MountAttr{Attr_set: in.Flags2})
	case launch.OpFsopen:
		fd, err := unix.Fsopen(in.S1, unix.FSOPEN_CLOEXEC)
		if err == nil {
			set(in.R, fd)
		}
		return err
	case launch.OpFsconfig:
		switch in.Flags {
		case unix.FSCONFIG_SET_STRING:
			return unix.FsconfigSetString(regs[in.R], in.S1, in.S2)
		case unix.FSCONFIG_SET_FLAG:
			return unix.FsconfigSetFlag(regs[in.R], in.S1)
		case unix.FSCONFIG_CMD_CREATE:
			return unix.FsconfigCreate(regs[in.R])
		}
		return fmt.Errorf("fsconfig command %d", in.Flags)
	case launch.OpFsmount:
		fd, err := unix.Fsmount(regs[in.A], unix.FSMOUNT_CLOEXEC, int(in.Flags))
		if err == nil {
			set(in.R, fd)
		}
		return err
	case launch.OpMoveMount:
		return unix.MoveMount(regs[in.A], "", regs[in.R], "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	case launch.OpSymlink:
		return unix.Symlinkat(in.S1, at(in.A), in.S2)
	case launch.OpClose:
		if fd, ok := regs[in.R]; ok {
			unix.Close(fd)
			delete(regs, in.R)
		}
		return nil
	case launch.OpFchdir:
		return unix.Fchdir(regs[in.R])
	case launch.OpFchmod:
		return unix.Fchmod(regs[in.R], uint32(in.Flags))
	case launch.OpRun:
		// cwd = the new root (R), root = the host's: Go's fork chroots
		// and, with no Dir, keeps the inherited working directory.
		if err := unix.Fchdir(regs[in.R]); err != nil {
			return err
		}
		defer unix.Chdir("/")
		cmd := exec.Command("/bin/sh", "-c", in.S1)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: "/old"}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w (%v)", unix.ECANCELED, err)
		}
		return nil
	case launch.OpWrite:
		for b := []byte(in.S1); len(b) > 0; {
			n, err := unix.Write(regs[in.R], b)
			if err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	return fmt.Errorf("unknown instruction %d", in.Op)
}
