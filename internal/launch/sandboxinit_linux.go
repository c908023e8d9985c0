package launch

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The code of a sandbox init and of the children it starts. It runs either
// in a forked copy of the caller (forkExec) or in the caller's own address
// space, on a stack of its own, entered from rawClone3 without a g. Either
// way it follows the rules of the child in forkExec, and more: every
// function is //go:nosplit, and nothing is written into memory the caller
// shares but integers (no pointer stores, hence no write barriers), because
// the caller's runtime goes on running beside it.

// futex(2) operations on a word of the memory the init shares with its
// program (FUTEX_WAIT and FUTEX_WAKE with FUTEX_PRIVATE_FLAG).
const (
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
)

// Kinds of child a sandbox init starts (spawnChild).
const (
	childProgram = iota
	childHook
)

// sandboxInit is the sandbox init: PID 1 of the new namespaces. It waits for
// its id maps, sets itself up, runs the mount program, starts the program,
// reports, then reaps and forwards signals until the program exits.
//
// It returns only in a forked child of a forked init (the init does not share
// the caller's memory), with the kind of child to run: the caller, at the
// top of the child's stack, runs it. This keeps every chain of nosplit calls
// short. The init itself never returns.
//
//go:nosplit
//go:norace
//go:nocheckptr
func sandboxInit(p *prepared) int {
	var k int
	initSetup(p)
	if p.sb.st.netHelper {
		startNetHelper(p)
	}
	if k = initMounts(p); k >= 0 {
		return k
	}
	if p.sb.st.netHelper {
		joinNet(p)
	}
	initNet(p)
	if k = initProgram(p); k >= 0 {
		return k
	}
	reaper(p.sb.st)
	return -1 // not reached
}

// initEntry is where an init that shares the caller's memory starts, on its
// own stack (rawClone3), with its initState. sandboxInit never returns
// there.
//
//go:nosplit
//go:norace
//go:nocheckptr
func initEntry(arg unsafe.Pointer) {
	st := (*initState)(arg)
	initWait(st)
	sandboxInit(st.pr)
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	}
}

// initWait blocks every signal for good (the init takes the ones it handles
// with rt_sigtimedwait, and no handler of the caller's may ever run in it),
// then waits for the parent's go-ahead: its id maps are written.
//
//go:nosplit
//go:norace
//go:nocheckptr
func initWait(st *initState) {
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&st.allMask)), 0, 8, 0, 0)
	r1, _, err1 := syscall.RawSyscall(syscall.SYS_READ, uintptr(st.sync), uintptr(unsafe.Pointer(&st.buf[0])), 1)
	if err1 != 0 || r1 != 1 {
		initFail(st, StepSync, 0, err1)
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(st.sync), 0, 0)
}

// initSetup keeps only the fds the init needs,
// writes its own /proc files, takes its inside identity with every
// capability, and arranges to hear of stage 0's death.
//
//go:nosplit
//go:norace
//go:nocheckptr
func initSetup(p *prepared) {
	var (
		r1   uintptr
		err1 syscall.Errno
		i    int
		fd   int
		fd2  uintptr
		sb   *preparedSandbox
		st   *initState
	)
	sb = p.sb
	st = sb.st

	// Keep only the fds the init and the program need, copied to sb.high,
	// sb.high+1, ...: above every fd number the parent named (so no source
	// is overwritten), replacing whatever the caller had at those numbers.
	// Then everything else is closed: the init must not hold copies of the
	// caller's other fds (a pipe held open here would never see EOF
	// elsewhere; another sandbox's control socket would never hang up).
	fd = sb.high
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] < 0 {
			continue
		}
		_, _, err1 = syscall.RawSyscall(syscall.SYS_DUP3, uintptr(p.fd[i]), uintptr(fd), unix.O_CLOEXEC)
		if err1 != 0 {
			initFail(st, StepFiles, i, err1)
		}
		p.fd[i] = fd
		fd++
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_DUP3, uintptr(st.ctl), uintptr(fd), unix.O_CLOEXEC)
	if err1 != 0 {
		initFail(st, StepFiles, 0, err1)
	}
	st.ctl = fd
	fd++
	if p.landlock >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_DUP3, uintptr(p.landlock), uintptr(fd), unix.O_CLOEXEC)
		if err1 != 0 {
			initFail(st, StepLandlock, 0, err1)
		}
		p.landlock = fd
		fd++
	}
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, 0, uintptr(sb.high-1), 0)
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(fd), ^uintptr(0)>>1, 0)
	p.nextfd = fd

	// Files the init writes about itself (its OOM score, which the program
	// inherits) go first: a uid change makes the process non-dumpable, and
	// then its /proc files belong to root. (Never with a shared address
	// space: StartSandbox forks such an init.)
	for i = 0; i < len(sb.writes); i++ {
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_OPENAT, atFdcwd, uintptr(unsafe.Pointer(sb.writes[i].path)), unix.O_WRONLY|unix.O_CLOEXEC)
		if err1 == 0 && len(sb.writes[i].data) > 0 {
			fd2 = r1
			_, _, err1 = syscall.RawSyscall(syscall.SYS_WRITE, fd2, uintptr(unsafe.Pointer(&sb.writes[i].data[0])), uintptr(len(sb.writes[i].data)))
			syscall.RawSyscall(syscall.SYS_CLOSE, fd2, 0, 0)
		}
		if err1 != 0 {
			initFail(st, StepWrite, i, err1)
		}
	}

	// Become the init's inside identity, keeping every capability of the
	// new user namespace (a root caller's init starts as an unmapped uid).
	_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0)
	if err1 != 0 {
		initFail(st, StepInitCreds, 0, err1)
	}
	if sb.clearGroups {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0)
		if err1 != 0 {
			initFail(st, StepInitCreds, 0, err1)
		}
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(sb.initGID), uintptr(sb.initGID), uintptr(sb.initGID))
	if err1 != 0 {
		initFail(st, StepInitCreds, 0, err1)
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(sb.initUID), uintptr(sb.initUID), uintptr(sb.initUID))
	if err1 != 0 {
		initFail(st, StepInitCreds, 0, err1)
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&p.capHdr)), uintptr(unsafe.Pointer(&sb.fullCaps[0])), 0)
	if err1 != 0 {
		initFail(st, StepInitCreds, 0, err1)
	}
	// Non-dumpable: nothing in the sandbox may ptrace the init or open its
	// /proc files (mem, environ, fds). The flag belongs to the address
	// space, so an init that shares the caller's makes the caller
	// non-dumpable too (StartSandbox restores it when the last such init is
	// gone); that is what keeps the caller's memory out of reach.
	syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0)
	// The init lives as long as the cove process, not as long as the thread
	// that forked it (PR_SET_PDEATHSIG follows threads, and a Go thread can
	// end while the process goes on; changing uid also clears it). Stage 0
	// never writes on the control socket, so it becomes readable only when
	// stage 0's end closes — when the process dies, by any signal. O_ASYNC
	// turns that hang-up into SIGIO, which the reaper loop waits for.
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	if err1 == 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(st.ctl), syscall.F_SETOWN, r1)
	}
	if err1 == 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(st.ctl), syscall.F_SETFL, unix.O_RDWR|unix.O_ASYNC)
	}
	if err1 != 0 {
		initFail(st, StepSignals, 0, err1)
	}
	syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initName[0])), 0)
}

// initMounts runs the mount program, and its hooks in children. It returns
// -1 in the init, or childHook in a forked hook child.
//
//go:nosplit
//go:norace
//go:nocheckptr
func initMounts(p *prepared) int {
	var (
		r1   uintptr
		err1 syscall.Errno
		i, j int
		fd2  uintptr
		in   *rawInsn
		sb   *preparedSandbox
		st   *initState
	)
	sb = p.sb
	st = sb.st
	// The mount program.
	for i = 0; i < len(sb.insns); i++ {
		in = &sb.insns[i]
		err1 = 0
		switch in.op {
		case OpMount:
			_, _, err1 = syscall.RawSyscall6(syscall.SYS_MOUNT, uintptr(unsafe.Pointer(in.s1)), uintptr(unsafe.Pointer(in.s2)), uintptr(unsafe.Pointer(in.s3)), uintptr(in.flags), uintptr(unsafe.Pointer(in.s4)), 0)
		case OpMkdir:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_MKDIRAT, uintptr(atFD(sb, -1)), uintptr(unsafe.Pointer(in.s1)), uintptr(in.flags))
		case OpPivotRoot:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_PIVOT_ROOT, uintptr(unsafe.Pointer(in.s1)), uintptr(unsafe.Pointer(in.s2)), 0)
		case OpChdir:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(in.s1)), 0, 0)
		case OpUmount:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_UMOUNT2, uintptr(unsafe.Pointer(in.s1)), uintptr(in.flags), 0)
		case OpDetach:
			if st.shared {
				st.detach = i // initProgram runs it (see OpDetach)
			} else {
				_, _, err1 = syscall.RawSyscall(syscall.SYS_UMOUNT2, uintptr(unsafe.Pointer(in.s1)), uintptr(in.flags), 0)
			}
		case OpOpen:
			r1, _, err1 = syscall.RawSyscall6(syscall.SYS_OPENAT, uintptr(atFD(sb, in.a)), uintptr(unsafe.Pointer(in.s1)), uintptr(in.flags), uintptr(in.flags2), 0, 0)
			if err1 == 0 {
				sb.regs[in.r] = int(r1)
			}
		case OpOpenAt2:
			r1, _, err1 = syscall.RawSyscall6(unix.SYS_OPENAT2, uintptr(atFD(sb, in.a)), uintptr(unsafe.Pointer(in.s1)), uintptr(unsafe.Pointer(&in.how)), unsafe.Sizeof(in.how), 0, 0)
			if err1 == 0 {
				sb.regs[in.r] = int(r1)
			}
		case OpEnsure:
			r1, _, err1 = syscall.RawSyscall6(unix.SYS_OPENAT2, uintptr(atFD(sb, in.a)), uintptr(unsafe.Pointer(in.s1)), uintptr(unsafe.Pointer(&in.how)), unsafe.Sizeof(in.how), 0, 0)
			if err1 == syscall.ENOENT {
				if in.flags2&1 != 0 {
					_, _, err1 = syscall.RawSyscall(syscall.SYS_MKDIRAT, uintptr(atFD(sb, in.b)), uintptr(unsafe.Pointer(in.s2)), 0o755)
				} else {
					fd2, _, err1 = syscall.RawSyscall6(syscall.SYS_OPENAT, uintptr(atFD(sb, in.b)), uintptr(unsafe.Pointer(in.s2)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644, 0, 0)
					if err1 == 0 {
						syscall.RawSyscall(syscall.SYS_CLOSE, fd2, 0, 0)
					}
				}
				if err1 == 0 || err1 == syscall.EEXIST {
					r1, _, err1 = syscall.RawSyscall6(unix.SYS_OPENAT2, uintptr(atFD(sb, in.a)), uintptr(unsafe.Pointer(in.s1)), uintptr(unsafe.Pointer(&in.how)), unsafe.Sizeof(in.how), 0, 0)
				}
			}
			if err1 == 0 {
				sb.regs[in.r] = int(r1)
			}
		case OpOpenTree:
			r1, _, err1 = syscall.RawSyscall(unix.SYS_OPEN_TREE, uintptr(atFD(sb, in.a)), uintptr(unsafe.Pointer(in.s1)), uintptr(in.flags))
			if err1 == 0 {
				sb.regs[in.r] = int(r1)
			}
		case OpSetattr:
			_, _, err1 = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, uintptr(sb.regs[in.r]), uintptr(unsafe.Pointer(in.s1)), uintptr(in.flags), uintptr(unsafe.Pointer(&in.attr)), unsafe.Sizeof(in.attr), 0)
		case OpFsopen:
			r1, _, err1 = syscall.RawSyscall(unix.SYS_FSOPEN, uintptr(unsafe.Pointer(in.s1)), unix.FSOPEN_CLOEXEC, 0)
			if err1 == 0 {
				sb.regs[in.r] = int(r1)
			}
		case OpFsconfig:
			_, _, err1 = syscall.RawSyscall6(unix.SYS_FSCONFIG, uintptr(sb.regs[in.r]), uintptr(in.flags), uintptr(unsafe.Pointer(in.s1)), uintptr(unsafe.Pointer(in.s2)), 0, 0)
		case OpFsmount:
			r1, _, err1 = syscall.RawSyscall(unix.SYS_FSMOUNT, uintptr(sb.regs[in.a]), unix.FSMOUNT_CLOEXEC, uintptr(in.flags))
			if err1 == 0 {
				sb.regs[in.r] = int(r1)
			}
		case OpMoveMount:
			_, _, err1 = syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, uintptr(sb.regs[in.a]), uintptr(unsafe.Pointer(in.s1)), uintptr(sb.regs[in.r]), uintptr(unsafe.Pointer(in.s1)), unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH, 0)
		case OpSymlink:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_SYMLINKAT, uintptr(unsafe.Pointer(in.s1)), uintptr(atFD(sb, in.a)), uintptr(unsafe.Pointer(in.s2)))
		case OpClose:
			syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(sb.regs[in.r]), 0, 0)
			sb.regs[in.r] = -1
		case OpFchdir:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_FCHDIR, uintptr(sb.regs[in.r]), 0, 0)
		case OpFchmod:
			_, _, err1 = syscall.RawSyscall(syscall.SYS_FCHMOD, uintptr(sb.regs[in.r]), uintptr(in.flags), 0)
		case OpRun:
			// A hook: a child whose working directory is the new root and
			// whose root is the host's, running the shell.
			st.hook = i
			fd2, err1 = spawnChild(p, childHook)
			if err1 == 0 && fd2 == 0 {
				return childHook // the forked hook child
			}
			if err1 != 0 {
				break
			}
			for {
				_, _, err1 = syscall.RawSyscall(syscall.SYS_WAIT4, fd2, uintptr(unsafe.Pointer(&st.hookStatus)), 0)
				if err1 != syscall.EINTR {
					break
				}
			}
			if err1 == 0 && st.hookStatus != 0 {
				err1 = syscall.ECANCELED
			}
		case OpWrite:
			for j = 0; j < in.n1; {
				r1, _, err1 = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(sb.regs[in.r]), uintptr(unsafe.Pointer(in.s1))+uintptr(j), uintptr(in.n1-j))
				if err1 == syscall.EINTR {
					continue
				}
				if err1 != 0 || r1 == 0 {
					break
				}
				j += int(r1)
			}
		}
		if err1 != 0 && err1 != in.ignore {
			if !in.skip {
				initFail(st, StepMountProgram, i, err1)
			}
			for i+1 < len(sb.insns) && sb.insns[i+1].index == in.index {
				i++
			}
		}
	}

	return -1
}

// initNet sets the hostname, brings up lo and unshares a time namespace
// for the program when asked.
//
//go:nosplit
//go:norace
//go:nocheckptr
func initNet(p *prepared) {
	var (
		err1 syscall.Errno
		sb   *preparedSandbox
		st   *initState
	)
	sb = p.sb
	st = sb.st
	if len(sb.hostname) > 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETHOSTNAME, uintptr(unsafe.Pointer(&sb.hostname[0])), uintptr(len(sb.hostname)), 0)
		if err1 != 0 {
			initFail(st, StepHostname, 0, err1)
		}
	}
	if sb.lo && !st.netHelper {
		if err1 = loUp(&sb.ifr); err1 != 0 {
			initFail(st, StepLoopback, 0, err1)
		}
	}

	if sb.timens {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_UNSHARE, unix.CLONE_NEWTIME, 0, 0)
		if err1 != 0 {
			initFail(st, StepFork, 0, err1)
		}
	}

}

// startNetHelper starts the network helper (netEntry) beside the init. If
// it cannot, the init creates the namespace itself in joinNet.
//
//go:nosplit
//go:norace
//go:nocheckptr
func startNetHelper(p *prepared) {
	var (
		r1   uintptr
		err1 syscall.Errno
		st   *initState
	)
	st = p.sb.st
	r1, err1 = rawClone3(&st.net3, cloneArgsSize, netEntry, unsafe.Pointer(p))
	if err1 != 0 {
		st.netPid = 0
		return
	}
	st.netPid = r1
}

// netEntry is the network helper: it creates the network namespace, brings
// lo up there, and leaves an fd of the namespace (SIOCGSKNS on its socket)
// in the fd table it shares with the init, in st.netFd. It runs beside the
// mount program, in the init's memory, writing only integers of st.
//
//go:nosplit
//go:norace
//go:nocheckptr
func netEntry(arg unsafe.Pointer) {
	var (
		r1   uintptr
		err1 syscall.Errno
		sock uintptr
		p    *prepared
		st   *initState
	)
	p = (*prepared)(arg)
	st = p.sb.st
	st.netStep = uint32(StepNetNS)
	_, _, err1 = syscall.RawSyscall(syscall.SYS_UNSHARE, unix.CLONE_NEWNET, 0, 0)
	if err1 == 0 && p.sb.lo {
		st.netStep = uint32(StepLoopback)
		if err1 = loUp(&p.sb.ifr); err1 == 0 {
			st.netStep = uint32(StepNetNS)
		}
	}
	if err1 == 0 {
		sock, _, err1 = syscall.RawSyscall(syscall.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	if err1 == 0 {
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, sock, unix.SIOCGSKNS, 0)
		if err1 == 0 {
			st.netFd = int32(r1)
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, sock, 0, 0)
	}
	st.netErr = uint32(err1)
	for {
		syscall.RawSyscall(syscall.SYS_EXIT, 0, 0, 0)
	}
}

// joinNet waits for the network helper and enters the namespace it made;
// without a helper (it could not start), it creates the namespace itself.
// Either way lo is then up, when the sandbox wants it.
//
//go:nosplit
//go:norace
//go:nocheckptr
func joinNet(p *prepared) {
	var (
		err1 syscall.Errno
		sb   *preparedSandbox
		st   *initState
	)
	sb = p.sb
	st = sb.st
	if st.netPid == 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_UNSHARE, unix.CLONE_NEWNET, 0, 0)
		if err1 != 0 {
			initFail(st, StepNetNS, 0, err1)
		}
		st.netHelper = false // initNet brings lo up
		return
	}
	for {
		_, _, err1 = syscall.RawSyscall6(syscall.SYS_WAIT4, st.netPid, 0, unix.WALL, 0, 0, 0)
		if err1 != syscall.EINTR {
			break
		}
	}
	if err1 == 0 && st.netErr != 0 {
		err1 = syscall.Errno(st.netErr)
	}
	if err1 == 0 && st.netFd < 0 {
		err1 = syscall.EBADF
	}
	if err1 != 0 {
		initFail(st, Step(st.netStep), 0, err1)
	}
	_, _, err1 = syscall.RawSyscall(unix.SYS_SETNS, uintptr(st.netFd), unix.CLONE_NEWNET, 0)
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(st.netFd), 0, 0)
	st.netFd = -1
	if err1 != 0 {
		initFail(st, StepNetNS, 0, err1)
	}
}

// initProgram starts the program and waits until it has execed, or passes
// its failure on. It returns -1 in the init, or childProgram in a forked
// program child.
//
//go:nosplit
//go:norace
//go:nocheckptr
func initProgram(p *prepared) int {
	var (
		r1   uintptr
		err1 syscall.Errno
		j    int
		rep  report
		st   *initState
	)
	st = p.sb.st
	_, _, err1 = syscall.RawSyscall(syscall.SYS_PIPE2, uintptr(unsafe.Pointer(&st.epipe[0])), unix.O_CLOEXEC, 0)
	if err1 != 0 {
		initFail(st, StepFork, 0, err1)
	}
	// The program's error pipe must stay above its fd slots.
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(st.epipe[1]), syscall.F_DUPFD_CLOEXEC, uintptr(p.nextfd))
	if err1 != 0 {
		initFail(st, StepFork, 0, err1)
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(st.epipe[1]), 0, 0)
	st.epipe[1] = int32(r1)
	p.nextfd = int(r1) + 1

	st.child, err1 = spawnChild(p, childProgram)
	if err1 != 0 {
		initFail(st, StepFork, 0, err1)
	}
	if st.child == 0 {
		return childProgram // the forked program child
	}
	if st.detach >= 0 {
		// The deferred detach, while the program sets itself up; it waits
		// for detached before anything of its own runs. A failure ends the
		// init, and with it the program (PID 1 of its namespace).
		_, _, err1 = syscall.RawSyscall(syscall.SYS_UMOUNT2, uintptr(unsafe.Pointer(p.sb.insns[st.detach].s1)), uintptr(p.sb.insns[st.detach].flags), 0)
		if err1 != 0 {
			initFail(st, StepMountProgram, st.detach, err1)
		}
		st.detached = 1 // a plain store: see programMain
		syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&st.detached)), futexWakePrivate, 1, 0, 0, 0)
	}

	// ---- the init as PID 1: wait for execve, then reap and forward ----
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(st.epipe[1]), 0, 0)
	for j = 0; j < int(unsafe.Sizeof(rep)); {
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_READ, uintptr(st.epipe[0]), uintptr(unsafe.Pointer(&rep))+uintptr(j), unsafe.Sizeof(rep)-uintptr(j))
		if err1 == syscall.EINTR {
			continue
		}
		if err1 != 0 || r1 == 0 {
			break
		}
		j += int(r1)
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(st.epipe[0]), 0, 0)
	if st.shared {
		// The program shared this memory until execve, and its change of
		// ids may have made it dumpable again (fs.suid_dumpable=1).
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0)
	}
	if j > 0 {
		// The program failed before execve: pass its report on.
		syscall.RawSyscall(syscall.SYS_WAIT4, st.child, 0, 0)
		st.rep.Kind = ReportFailed
		st.rep.Step = rep.step
		st.rep.Index = rep.index
		st.rep.Errno = rep.errno
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(st.ctl), uintptr(unsafe.Pointer(&st.rep)), unsafe.Sizeof(st.rep))
		for {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
		}
	}
	return -1
}

// reaper is the init's life once the program runs: it reports the start,
// then reaps every child, forwards signals to the program, and when the
// program exits reports its status and exits with it. From here on the init
// touches nothing but st, which outlives the caller's references.
//
//go:nosplit
//go:norace
//go:nocheckptr
func reaper(st *initState) {
	var (
		r1   uintptr
		err1 syscall.Errno
	)
	st.rep.Kind = ReportStarted
	st.cred.Pid = int32(st.child)
	syscall.RawSyscall(syscall.SYS_SENDMSG, uintptr(st.ctl), uintptr(unsafe.Pointer(&st.msg)), 0)
	// A hang-up before O_ASYNC was set sent no SIGIO: look once.
	if parentGone(st) {
		for {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 128+uintptr(syscall.SIGKILL), 0, 0)
		}
	}
	for {
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&st.sigset)), 0, 0, 8, 0, 0)
		if err1 != 0 {
			continue
		}
		if r1 == uintptr(syscall.SIGIO) {
			// Stage 0 is gone: exiting takes the PID namespace with us.
			if parentGone(st) {
				for {
					syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 128+uintptr(syscall.SIGKILL), 0, 0)
				}
			}
			continue
		}
		if r1 != uintptr(syscall.SIGCHLD) {
			syscall.RawSyscall(syscall.SYS_KILL, st.child, r1, 0)
			continue
		}
		for {
			r1, _, err1 = syscall.RawSyscall(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&st.ws)), unix.WNOHANG|unix.WALL)
			if err1 == syscall.EINTR {
				continue
			}
			if err1 != 0 || r1 == 0 {
				break
			}
			// Decode the wait status by hand: WaitStatus's methods are
			// not guaranteed to be inlined, and nothing here may grow
			// the stack.
			if r1 != st.child || st.ws&0x7f == 0x7f {
				continue // another process, or a stop
			}
			st.rep.Kind = ReportExited
			if st.ws&0x7f != 0 {
				st.rep.Sig = st.ws & 0x7f
				st.rep.Code = 128 + st.rep.Sig
			} else {
				st.rep.Code = (st.ws >> 8) & 0xff
			}
			syscall.RawSyscall(syscall.SYS_WRITE, uintptr(st.ctl), uintptr(unsafe.Pointer(&st.rep)), unsafe.Sizeof(st.rep))
			for {
				syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(st.rep.Code&0xff), 0, 0)
			}
		}
	}
}

// initFail reports a failed init step on the control socket and exits 125.
//
//go:nosplit
//go:norace
func initFail(st *initState, step Step, index int, errno syscall.Errno) {
	st.rep.Kind = ReportFailed
	st.rep.Step = uint32(step)
	st.rep.Index = uint32(index)
	st.rep.Errno = uint32(errno)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(st.ctl), uintptr(unsafe.Pointer(&st.rep)), unsafe.Sizeof(st.rep))
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	}
}

// spawnChild starts a child of the init: the program or a hook. When the
// init shares the caller's memory the child does too, on the second stack,
// and the init is suspended until it execs or exits (CLONE_VFORK): no page
// table is copied. Otherwise it is a fork, and it returns 0 in the child.
// It returns the child's pid.
//
//go:nosplit
//go:norace
//go:nocheckptr
func spawnChild(p *prepared, kind int) (uintptr, syscall.Errno) {
	var (
		r1   uintptr
		err1 syscall.Errno
		st   *initState
	)
	st = p.sb.st
	if st.shared {
		if kind == childHook {
			return rawClone3(&st.child3, cloneArgsSize, hookMain, unsafe.Pointer(p))
		}
		if st.detach >= 0 {
			// The init must run beside the program (the deferred detach),
			// not wait suspended until it execs.
			st.child3.flags &^= unix.CLONE_VFORK
		}
		if st.netHelper {
			// PID 2, which the network helper had; if the kernel will not
			// (no set_tid: before Linux 5.5), whatever comes next.
			r1, err1 = rawClone3(&st.child3, cloneArgsSetTID, programEntry, unsafe.Pointer(p))
			if err1 == 0 {
				return r1, 0
			}
		}
		return rawClone3(&st.child3, cloneArgsSize, programEntry, unsafe.Pointer(p))
	}
	// A fork: the child returns 0 up to sandboxInit's caller, which runs it.
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	return r1, err1
}

// programEntry is the program's process: it restores the caller's signal
// mask (the init's dispositions are the defaults) and runs the program's
// steps, reporting failures on the init's error pipe.
//
//go:nosplit
//go:norace
//go:nocheckptr
func programEntry(arg unsafe.Pointer) {
	p := (*prepared)(arg)
	st := p.sb.st
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(st.epipe[0]), 0, 0)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&st.origMask)), 0, 8, 0, 0)
	programMain(p, int(st.epipe[1]))
}

// hookMain runs an inside hook (instruction st.hook): working directory the
// new root, root the host's, the caller's signal mask, then the shell. It
// exits 127 if the shell cannot be executed.
//
//go:nosplit
//go:norace
//go:nocheckptr
func hookMain(arg unsafe.Pointer) {
	p := (*prepared)(arg)
	sb := p.sb
	in := &sb.insns[sb.st.hook]
	syscall.RawSyscall(syscall.SYS_FCHDIR, uintptr(sb.regs[in.r]), 0, 0)
	syscall.RawSyscall(syscall.SYS_CHROOT, uintptr(unsafe.Pointer(&hostRoot[0])), 0, 0)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&sb.st.origMask)), 0, 8, 0, 0)
	syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(&binSh[0])), uintptr(unsafe.Pointer(&in.argv[0])), uintptr(unsafe.Pointer(&in.envv[0])))
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 127, 0, 0)
	}
}
