package launch

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// These runtime hooks are what syscall.forkExec uses around its own raw
// clone. The Go team keeps them stable for this use (go.dev/issue/67401).

//go:linkname runtime_BeforeFork syscall.runtime_BeforeFork
func runtime_BeforeFork()

//go:linkname runtime_AfterFork syscall.runtime_AfterFork
func runtime_AfterFork()

//go:linkname runtime_AfterForkInChild syscall.runtime_AfterForkInChild
func runtime_AfterForkInChild()

// prepared holds every pointer and number the child reads. It is built by
// the parent so that the child never allocates.
type prepared struct {
	path       []*byte
	argv, envv []*byte
	setns      []Namespace
	forkAfter  bool
	nonDump    bool
	writes     []rawWrite
	chroot     *byte
	rootFD     int
	dirFD      int
	setsid     bool
	setctty    bool
	ctty       int
	fd         []int // scratch copy of Params.Files, rewritten by the child
	nextfd     int
	dir        *byte
	umask      int
	rlimits    []Rlimit
	rlim       []rlimit64
	setNice    bool
	nice       int
	setSecbits bool
	secbits    uintptr
	dropBound  bool
	keepBound  uint64
	lastCap    int
	keepCaps   bool
	setGroups  bool
	groups     []uint32
	uid, gid   int
	euid, egid int
	setCaps    bool
	capHdr     unix.CapUserHeader
	capData    [2]unix.CapUserData
	ambient    []int
	nnp        bool
	landlock   int
	prog       unix.SockFprog
	pdeathsig  uintptr

	sb *preparedSandbox

	// CloneNS: flags of the child's own clone, the sync pipe's read end
	// (-1 when no maps are written), and lo.
	cflags uintptr
	csync  int
	clo    bool
	cifr   [40]byte
	cbuf   [1]byte
}

// preparedSandbox is the sandbox init's part of prepared.
type preparedSandbox struct {
	cloneflags  uintptr
	sync        int // read end: one byte arrives when the id maps are written
	ctl         int
	high        int // first fd number above every slot and source
	initUID     int
	initGID     int
	clearGroups bool
	fullCaps    [2]unix.CapUserData
	insns       []rawInsn
	writes      []rawWrite
	regs        []int
	hostname    []byte
	lo          bool
	timens      bool
	ifr         [40]byte
	sigset      uint64
	oldmask     uint64
	epipe       [2]int32
	rep         Report
	// msg carries rep with SCM_CREDENTIALS naming the program's pid; cred
	// points into ctrl, where the child stores the pid.
	iov  unix.Iovec
	msg  unix.Msghdr
	ctrl []byte
	cred *unix.Ucred
	buf  [16]byte
	pfd  unix.PollFd
	// hookStatus is the wait status of an OpRun hook.
	hookStatus uint32
	zero       unix.Timespec
}

type rawInsn struct {
	op             InsnOp
	r, a, b        int
	s1, s2, s3, s4 *byte
	n1             int // length of s1 (OpWrite)
	flags, flags2  uint64
	ignore         syscall.Errno
	skip           bool
	index          int
	attr           unix.MountAttr
	how            unix.OpenHow
	argv, envv     []*byte // OpRun
}

type rlimit64 struct{ cur, max uint64 }

type rawWrite struct {
	path *byte
	data []byte
}

// atFdcwd is AT_FDCWD as a system call argument.
const atFdcwd = ^uintptr(99)

// C strings for the child.
var (
	dot      = [...]byte{'.', 0}
	slash    = [...]byte{'/', 0}
	hostRoot = [...]byte{'/', 'o', 'l', 'd', 0}
	binSh    = [...]byte{'/', 'b', 'i', 'n', '/', 's', 'h', 0}
)

// initName is the sandbox init's process name (/proc/1/comm inside).
var initName = [...]byte{'c', 'o', 'v', 'e', '-', 'i', 'n', 'i', 't', 0}

// report is what the child writes on failure: step, index, errno.
type report struct {
	step  uint32
	index uint32
	errno uint32
}

// Start runs the child steps described by p and execs the program. It returns
// the child's pid once execve has succeeded, or an *Error naming the failing
// step; in that case the child has already been reaped.
//
// Preconditions: the fds named in p (Files, Setns, LandlockFD) are open in the
// calling process. Start may be called from any goroutine; it holds
// syscall.ForkLock so that concurrent os/exec calls do not leak fds into the
// child.
func Start(p *Params) (int, error) {
	if len(p.Path) == 0 {
		return 0, errors.New("launch: no executable path")
	}
	if p.Setctty && !p.Setsid {
		return 0, errors.New("launch: Setctty needs Setsid")
	}
	pr, err := prepare(p)
	if err != nil {
		return 0, err
	}
	var sync [2]int
	if c := p.Clone; c != nil {
		if c.Flags&unix.CLONE_NEWPID != 0 {
			return 0, errors.New("launch: CloneNS without an init cannot create a PID namespace; use a Sandbox")
		}
		pr.cflags, pr.clo = c.Flags&^unix.CSIGNAL, c.Loopback
		copy(pr.cifr[:], "lo")
		if c.Flags&unix.CLONE_NEWUSER != 0 {
			if c.WriteMaps == nil {
				return 0, errors.New("launch: a new user namespace needs WriteMaps")
			}
			if err := unix.Pipe2(sync[:], unix.O_CLOEXEC); err != nil {
				return 0, fmt.Errorf("launch: sync pipe: %w", err)
			}
			pr.csync = sync[0]
			defer func() {
				if sync[1] >= 0 {
					unix.Close(sync[1])
				}
			}()
		}
	}
	// The error pipe and the Landlock fd must survive the fd-table step, so
	// they live above every slot the child writes.
	high := pr.nextfd + len(pr.fd) + 1
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return 0, fmt.Errorf("launch: pipe: %w", err)
	}
	defer unix.Close(pipe[0])
	wfd, err := unix.FcntlInt(uintptr(pipe[1]), unix.F_DUPFD_CLOEXEC, high)
	unix.Close(pipe[1])
	if err != nil {
		return 0, fmt.Errorf("launch: dup error pipe: %w", err)
	}
	if p.LandlockFD >= 0 && p.LandlockFD < high {
		lfd, err := unix.FcntlInt(uintptr(p.LandlockFD), unix.F_DUPFD_CLOEXEC, high)
		if err != nil {
			unix.Close(wfd)
			return 0, fmt.Errorf("launch: dup landlock fd: %w", err)
		}
		defer unix.Close(lfd)
		pr.landlock = lfd
	}

	syscall.ForkLock.Lock()
	pid, errno := forkExec(pr, wfd)
	syscall.ForkLock.Unlock()
	unix.Close(wfd)
	runtime.KeepAlive(pr)
	runtime.KeepAlive(p)
	if pr.csync >= 0 {
		unix.Close(sync[0])
	}
	if errno != 0 {
		return 0, os.NewSyscallError("clone", errno)
	}
	if pr.csync >= 0 {
		// The child waits on the sync pipe until its maps are written; on
		// failure closing the pipe makes it give up (EPIPE at StepSync).
		if err := p.Clone.WriteMaps(pid); err != nil {
			unix.Close(sync[1])
			sync[1] = -1
			unix.Kill(pid, unix.SIGKILL)
			reap(pid)
			return 0, err
		}
		unix.Write(sync[1], []byte{1})
	}

	var rep report
	buf := (*[unsafe.Sizeof(rep)]byte)(unsafe.Pointer(&rep))[:]
	readRecord := func() int {
		n := 0
		for n < len(buf) {
			m, err := unix.Read(pipe[0], buf[n:])
			if err == unix.EINTR {
				continue
			}
			if err != nil || m == 0 {
				break
			}
			n += m
		}
		return n
	}
	// Read records until EOF (every writer has execed or exited): an error
	// report, and with ForkAfterSetns the program's pid, in either order.
	var failed *report
	for {
		n := readRecord()
		if n == 0 {
			break
		}
		if n != len(buf) {
			reap(pid)
			return 0, fmt.Errorf("launch: short error report (%d bytes) from child", n)
		}
		if Step(rep.step) == stepPid {
			// The program is the intermediate's sibling: reap the
			// intermediate and follow the program.
			reap(pid)
			pid = int(rep.index)
			continue
		}
		r := rep
		failed = &r
	}
	if failed == nil {
		return pid, nil // EOF: execve succeeded
	}
	reap(pid)
	rep = *failed
	e := &Error{Step: Step(rep.step), Index: int(rep.index), Errno: syscall.Errno(rep.errno)}
	e.Detail = detail(p, e)
	return 0, e
}

func detail(p *Params, e *Error) string {
	switch e.Step {
	case StepExec:
		if len(p.Argv) > 0 {
			return p.Argv[0]
		}
	case StepChdir:
		return p.Dir
	case StepRlimit:
		if e.Index < len(p.Rlimits) {
			return fmt.Sprintf("resource %d", p.Rlimits[e.Index].Resource)
		}
	case StepUmask, StepSetuid:
		if e.Step == StepSetuid {
			return fmt.Sprint(p.UID)
		}
	case StepSetgid:
		return fmt.Sprint(p.GID)
	case StepWrite:
		if e.Index < len(p.Writes) {
			return p.Writes[e.Index].Path
		}
	case StepChroot:
		return p.Chroot
	}
	return ""
}

func prepare(p *Params) (*prepared, error) {
	pr := &prepared{
		csync: -1, forkAfter: p.ForkAfterSetns, nonDump: p.NonDumpable,
		setns: p.Setns, setsid: p.Setsid, setctty: p.Setctty, ctty: p.Ctty, umask: p.Umask,
		rootFD: -1, dirFD: -1, euid: p.UID, egid: p.GID, setNice: p.SetNice, nice: p.Nice,
		rlimits: p.Rlimits, setSecbits: p.SetSecurebits, secbits: uintptr(p.Securebits),
		dropBound: p.DropBounding, keepBound: p.KeepBounding, lastCap: p.LastCap,
		setGroups: p.SetGroups, groups: p.Groups, uid: p.UID, gid: p.GID,
		setCaps: p.SetCaps, ambient: p.Ambient, nnp: p.NoNewPrivs, landlock: p.LandlockFD,
		pdeathsig: uintptr(p.Pdeathsig),
	}
	var err error
	for _, s := range p.Path {
		b, err := syscall.BytePtrFromString(s)
		if err != nil {
			return nil, fmt.Errorf("launch: path %q: %w", s, err)
		}
		pr.path = append(pr.path, b)
	}
	if pr.argv, err = syscall.SlicePtrFromStrings(p.Argv); err != nil {
		return nil, fmt.Errorf("launch: argv: %w", err)
	}
	if pr.envv, err = syscall.SlicePtrFromStrings(p.Env); err != nil {
		return nil, fmt.Errorf("launch: env: %w", err)
	}
	if p.Dir != "" {
		if pr.dir, err = syscall.BytePtrFromString(p.Dir); err != nil {
			return nil, fmt.Errorf("launch: dir %q: %w", p.Dir, err)
		}
	}
	if p.Chroot != "" {
		if pr.chroot, err = syscall.BytePtrFromString(p.Chroot); err != nil {
			return nil, fmt.Errorf("launch: chroot %q: %w", p.Chroot, err)
		}
	}
	for _, w := range p.Writes {
		b, err := syscall.BytePtrFromString(w.Path)
		if err != nil {
			return nil, fmt.Errorf("launch: write %q: %w", w.Path, err)
		}
		pr.writes = append(pr.writes, rawWrite{path: b, data: []byte(w.Data)})
	}
	if p.UseRootFD {
		pr.rootFD = p.RootFD
	}
	if p.UseDirFD {
		pr.dirFD = p.DirFD
	}
	if p.SetEffective {
		pr.euid, pr.egid = p.EUID, p.EGID
	}
	pr.fd = append([]int(nil), p.Files...)
	pr.nextfd = len(pr.fd)
	for _, f := range pr.fd {
		if f >= pr.nextfd {
			pr.nextfd = f + 1
		}
	}
	pr.rlim = make([]rlimit64, len(p.Rlimits))
	for i, r := range p.Rlimits {
		pr.rlim[i] = rlimit64{r.Cur, r.Max}
	}
	if p.SetGroups && len(p.Groups) == 0 {
		pr.groups = nil
	}
	// Keep capabilities across setuid only when some are to be kept.
	pr.keepCaps = p.SetCaps && (p.Permitted != 0 || len(p.Ambient) > 0) && p.UID >= 0
	pr.capHdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	pr.capData[0] = unix.CapUserData{Effective: uint32(p.Effective), Permitted: uint32(p.Permitted), Inheritable: uint32(p.Inherited)}
	pr.capData[1] = unix.CapUserData{Effective: uint32(p.Effective >> 32), Permitted: uint32(p.Permitted >> 32), Inheritable: uint32(p.Inherited >> 32)}
	if len(p.Seccomp) > 0 {
		if len(p.Seccomp) > 0xffff {
			return nil, errors.New("launch: seccomp filter longer than 65535 instructions")
		}
		pr.prog = unix.SockFprog{Len: uint16(len(p.Seccomp)), Filter: &p.Seccomp[0]}
	}
	return pr, nil
}

// forkExec clones and runs the child steps.
//
// Preconditions: syscall.ForkLock is held; pipe is a close-on-exec fd above
// every slot the fd-table step writes.
// In the child, after clone: only raw system calls and no allocation, because
// runtime_BeforeFork has poisoned the stack guard and the child's copy of the
// runtime must not run. All variables are declared at the top for that reason.
//
//go:noinline
//go:norace
//go:nocheckptr
func forkExec(p *prepared, pipe int) (pid int, errno syscall.Errno) {
	var (
		r1     uintptr
		err1   syscall.Errno
		step   Step
		index  int
		i      int
		fd     int
		sawAcc bool
		rep    report
		sb     *preparedSandbox
		in     *rawInsn
		j      int
		fd2    uintptr
		child  uintptr
		ws     uint32
	)

	sb = p.sb
	runtime_BeforeFork()
	if sb != nil {
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD)|sb.cloneflags, 0, 0, 0, 0, 0)
	} else {
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD)|p.cflags, 0, 0, 0, 0, 0)
	}
	if err1 != 0 || r1 != 0 {
		runtime_AfterFork()
		return int(r1), err1
	}

	// ---- child ----
	runtime_AfterForkInChild()

	if sb == nil {
		// Namespaces of our own (CloneNS): wait for the maps, bring up lo.
		if p.csync >= 0 {
			r1, _, err1 = syscall.RawSyscall(syscall.SYS_READ, uintptr(p.csync), uintptr(unsafe.Pointer(&p.cbuf[0])), 1)
			if err1 != 0 || r1 != 1 {
				if err1 == 0 {
					err1 = syscall.EPIPE
				}
				step = StepSync
				goto fail
			}
			syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(p.csync), 0, 0)
		}
		if p.clo {
			fd2, _, err1 = syscall.RawSyscall(syscall.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err1 == 0 {
				_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, fd2, unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&p.cifr[0])))
			}
			if err1 == 0 {
				p.cifr[16] |= unix.IFF_UP
				_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, fd2, unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&p.cifr[0])))
			}
			if err1 != 0 {
				step = StepLoopback
				goto fail
			}
			syscall.RawSyscall(syscall.SYS_CLOSE, fd2, 0, 0)
		}
		goto program
	}

	// ---- sandbox init (PID 1 of the new namespaces) ----
	// Wait until the parent has written our id maps.
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_READ, uintptr(sb.sync), uintptr(unsafe.Pointer(&sb.buf[0])), 1)
	if err1 != 0 || r1 != 1 {
		step = StepSync
		goto initfail
	}
	// Keep only the fds the init and the program need, moved above every
	// slot: the init must not hold copies of the caller's other fds (a pipe
	// held open here would never see EOF elsewhere).
	fd = sb.high
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] < 0 {
			continue
		}
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(p.fd[i]), syscall.F_DUPFD_CLOEXEC, uintptr(fd))
		if err1 != 0 {
			step, index = StepFiles, i
			goto initfail
		}
		p.fd[i] = int(r1)
		fd = int(r1) + 1
	}
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(sb.ctl), syscall.F_DUPFD_CLOEXEC, uintptr(fd))
	if err1 != 0 {
		step = StepFiles
		goto initfail
	}
	sb.ctl = int(r1)
	fd = int(r1) + 1
	if p.landlock >= 0 {
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(p.landlock), syscall.F_DUPFD_CLOEXEC, uintptr(fd))
		if err1 != 0 {
			step = StepLandlock
			goto initfail
		}
		p.landlock = int(r1)
		fd = int(r1) + 1
	}
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, 0, uintptr(sb.high-1), 0)
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(fd), ^uintptr(0)>>1, 0)
	p.nextfd = fd

	// Files the init writes about itself (its OOM score, which the program
	// inherits) go first: a uid change makes the process non-dumpable, and
	// then its /proc files belong to root.
	for i = 0; i < len(sb.writes); i++ {
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_OPENAT, atFdcwd, uintptr(unsafe.Pointer(sb.writes[i].path)), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0)
		if err1 == 0 && len(sb.writes[i].data) > 0 {
			fd2 = r1
			_, _, err1 = syscall.RawSyscall(syscall.SYS_WRITE, fd2, uintptr(unsafe.Pointer(&sb.writes[i].data[0])), uintptr(len(sb.writes[i].data)))
			syscall.RawSyscall(syscall.SYS_CLOSE, fd2, 0, 0)
		}
		if err1 != 0 {
			step, index = StepWrite, i
			goto initfail
		}
	}

	// Become the init's inside identity, keeping every capability of the
	// new user namespace (a root caller's init starts as an unmapped uid).
	_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0)
	if err1 != 0 {
		step = StepInitCreds
		goto initfail
	}
	if sb.clearGroups {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0)
		if err1 != 0 {
			step = StepInitCreds
			goto initfail
		}
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(sb.initGID), uintptr(sb.initGID), uintptr(sb.initGID))
	if err1 != 0 {
		step = StepInitCreds
		goto initfail
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(sb.initUID), uintptr(sb.initUID), uintptr(sb.initUID))
	if err1 != 0 {
		step = StepInitCreds
		goto initfail
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&p.capHdr)), uintptr(unsafe.Pointer(&sb.fullCaps[0])), 0)
	if err1 != 0 {
		step = StepInitCreds
		goto initfail
	}
	syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0)
	// The init lives as long as the cove process, not as long as the thread
	// that forked it (PR_SET_PDEATHSIG follows threads, and a Go thread can
	// end while the process goes on; changing uid also clears it). Stage 0
	// never writes on the control socket, so it becomes readable only when
	// stage 0's end closes — when the process dies, by any signal. O_ASYNC
	// turns that hang-up into SIGIO, which the reaper loop waits for.
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	if err1 == 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(sb.ctl), syscall.F_SETOWN, r1)
	}
	if err1 == 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(sb.ctl), syscall.F_SETFL, unix.O_RDWR|unix.O_ASYNC)
	}
	if err1 != 0 {
		step = StepSignals
		goto initfail
	}
	syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initName[0])), 0)

	// The mount program.
	step = StepMountProgram
	for i = 0; i < len(sb.insns); i++ {
		index = i
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
			fd2, _, err1 = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
			if err1 != 0 {
				break
			}
			if fd2 == 0 {
				// The hook: cwd the new root, root the host's, then the shell.
				syscall.RawSyscall(syscall.SYS_FCHDIR, uintptr(sb.regs[in.r]), 0, 0)
				syscall.RawSyscall(syscall.SYS_CHROOT, uintptr(unsafe.Pointer(&hostRoot[0])), 0, 0)
				syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(&binSh[0])), uintptr(unsafe.Pointer(&in.argv[0])), uintptr(unsafe.Pointer(&in.envv[0])))
				for {
					syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 127, 0, 0)
				}
			}
			for {
				_, _, err1 = syscall.RawSyscall6(syscall.SYS_WAIT4, fd2, uintptr(unsafe.Pointer(&sb.hookStatus)), 0, 0, 0, 0)
				if err1 != syscall.EINTR {
					break
				}
			}
			if err1 == 0 && sb.hookStatus != 0 {
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
				goto initfail
			}
			for i+1 < len(sb.insns) && sb.insns[i+1].index == in.index {
				i++
			}
		}
	}
	index = 0

	if len(sb.hostname) > 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETHOSTNAME, uintptr(unsafe.Pointer(&sb.hostname[0])), uintptr(len(sb.hostname)), 0)
		if err1 != 0 {
			step = StepHostname
			goto initfail
		}
	}
	if sb.lo {
		step = StepLoopback
		fd2, _, err1 = syscall.RawSyscall(syscall.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err1 != 0 {
			goto initfail
		}
		_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, fd2, unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&sb.ifr[0])))
		if err1 != 0 {
			goto initfail
		}
		sb.ifr[16] |= unix.IFF_UP
		_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, fd2, unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&sb.ifr[0])))
		if err1 != 0 {
			goto initfail
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, fd2, 0, 0)
	}

	if sb.timens {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_UNSHARE, unix.CLONE_NEWTIME, 0, 0)
		if err1 != 0 {
			step = StepFork
			goto initfail
		}
	}

	// Block the signals the init waits for before the program exists, so
	// that none is lost; the program restores the old mask.
	_, _, err1 = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, uintptr(unsafe.Pointer(&sb.sigset)), uintptr(unsafe.Pointer(&sb.oldmask)), 8, 0, 0)
	if err1 != 0 {
		step = StepSignals
		goto initfail
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_PIPE2, uintptr(unsafe.Pointer(&sb.epipe[0])), unix.O_CLOEXEC, 0)
	if err1 != 0 {
		step = StepFork
		goto initfail
	}
	// The program's error pipe must stay above its fd slots.
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(sb.epipe[1]), syscall.F_DUPFD_CLOEXEC, uintptr(p.nextfd))
	if err1 != 0 {
		step = StepFork
		goto initfail
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(sb.epipe[1]), 0, 0)
	sb.epipe[1] = int32(r1)
	p.nextfd = int(r1) + 1

	child, _, err1 = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if err1 != 0 {
		step = StepFork
		goto initfail
	}
	if child == 0 {
		// The program: report failures to the init, restore the mask.
		syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(sb.epipe[0]), 0, 0)
		pipe = int(sb.epipe[1])
		syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&sb.oldmask)), 0, 8, 0, 0)
		step = StepNone
		goto program
	}

	// ---- the init as PID 1: wait for execve, then reap and forward ----
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(sb.epipe[1]), 0, 0)
	for j = 0; j < int(unsafe.Sizeof(rep)); {
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_READ, uintptr(sb.epipe[0]), uintptr(unsafe.Pointer(&rep))+uintptr(j), unsafe.Sizeof(rep)-uintptr(j))
		if err1 == syscall.EINTR {
			continue
		}
		if err1 != 0 || r1 == 0 {
			break
		}
		j += int(r1)
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(sb.epipe[0]), 0, 0)
	if j > 0 {
		// The program failed before execve: pass its report on.
		syscall.RawSyscall6(syscall.SYS_WAIT4, child, 0, 0, 0, 0, 0)
		sb.rep.Kind = ReportFailed
		sb.rep.Step = rep.step
		sb.rep.Index = rep.index
		sb.rep.Errno = rep.errno
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(sb.ctl), uintptr(unsafe.Pointer(&sb.rep)), unsafe.Sizeof(sb.rep))
		for {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
		}
	}
	sb.rep.Kind = ReportStarted
	sb.cred.Pid = int32(child)
	syscall.RawSyscall(syscall.SYS_SENDMSG, uintptr(sb.ctl), uintptr(unsafe.Pointer(&sb.msg)), 0)
	// A hang-up before O_ASYNC was set sent no SIGIO: look once.
	if parentGone(sb) {
		for {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 128+uintptr(syscall.SIGKILL), 0, 0)
		}
	}
	for {
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&sb.sigset)), 0, 0, 8, 0, 0)
		if err1 != 0 {
			continue
		}
		if r1 == uintptr(syscall.SIGIO) {
			// Stage 0 is gone: exiting takes the PID namespace with us.
			if parentGone(sb) {
				for {
					syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 128+uintptr(syscall.SIGKILL), 0, 0)
				}
			}
			continue
		}
		if r1 != uintptr(syscall.SIGCHLD) {
			syscall.RawSyscall(syscall.SYS_KILL, child, r1, 0)
			continue
		}
		for {
			r1, _, err1 = syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), unix.WNOHANG|unix.WALL, 0, 0, 0)
			if err1 == syscall.EINTR {
				continue
			}
			if err1 != 0 || r1 == 0 {
				break
			}
			// Decode the wait status by hand: WaitStatus's methods are
			// not guaranteed to be inlined, and nothing here may grow
			// the stack.
			if r1 != child || ws&0x7f == 0x7f {
				continue // another process, or a stop
			}
			sb.rep.Kind = ReportExited
			if ws&0x7f != 0 {
				sb.rep.Sig = ws & 0x7f
				sb.rep.Code = 128 + sb.rep.Sig
			} else {
				sb.rep.Code = (ws >> 8) & 0xff
			}
			syscall.RawSyscall(syscall.SYS_WRITE, uintptr(sb.ctl), uintptr(unsafe.Pointer(&sb.rep)), unsafe.Sizeof(sb.rep))
			for {
				syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(sb.rep.Code&0xff), 0, 0)
			}
		}
	}

initfail:
	sb.rep.Kind = ReportFailed
	sb.rep.Step = uint32(step)
	sb.rep.Index = uint32(index)
	sb.rep.Errno = uint32(err1)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(sb.ctl), uintptr(unsafe.Pointer(&sb.rep)), unsafe.Sizeof(sb.rep))
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	}

program:

	if p.nonDump {
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0)
	}
	for i = 0; i < len(p.setns); i++ {
		_, _, err1 = syscall.RawSyscall(unix.SYS_SETNS, uintptr(p.setns[i].FD), uintptr(p.setns[i].Type), 0)
		if err1 != 0 {
			step, index = StepSetns, i
			goto fail
		}
	}

	if p.forkAfter {
		// Into the joined PID namespace: a sibling takes over; we report its
		// pid and leave.
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.CLONE_PARENT|syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if err1 != 0 {
			step = StepSetns
			index = len(p.setns)
			goto fail
		}
		if r1 != 0 {
			rep.step = uint32(stepPid)
			rep.index = uint32(r1)
			rep.errno = 0
			syscall.RawSyscall(syscall.SYS_WRITE, uintptr(pipe), uintptr(unsafe.Pointer(&rep)), unsafe.Sizeof(rep))
			for {
				syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
			}
		}
	}

	for i = 0; i < len(p.writes); i++ {
		r1, _, err1 = syscall.RawSyscall6(syscall.SYS_OPENAT, atFdcwd, uintptr(unsafe.Pointer(p.writes[i].path)), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644, 0, 0)
		if err1 != 0 {
			step, index = StepWrite, i
			goto fail
		}
		if len(p.writes[i].data) > 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_WRITE, r1, uintptr(unsafe.Pointer(&p.writes[i].data[0])), uintptr(len(p.writes[i].data)))
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, r1, 0, 0)
		if err1 != 0 {
			step, index = StepWrite, i
			goto fail
		}
	}

	// Root and working directory, before the fd table can reuse the numbers
	// of RootFD and DirFD.
	if p.rootFD >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCHDIR, uintptr(p.rootFD), 0, 0)
		if err1 == 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_CHROOT, uintptr(unsafe.Pointer(&dot[0])), 0, 0)
		}
		if err1 != 0 {
			step = StepChroot
			goto fail
		}
	}
	if p.chroot != nil {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_CHROOT, uintptr(unsafe.Pointer(p.chroot)), 0, 0)
		if err1 == 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(&slash[0])), 0, 0)
		}
		if err1 != 0 {
			step = StepChroot
			goto fail
		}
	}
	if p.dirFD >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCHDIR, uintptr(p.dirFD), 0, 0)
		if err1 != 0 {
			step = StepChdir
			goto fail
		}
	}
	if p.dir != nil {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(p.dir)), 0, 0)
		if err1 != 0 {
			step = StepChdir
			goto fail
		}
	}

	if p.setsid {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0)
		if err1 != 0 {
			step = StepSetsid
			goto fail
		}
	}

	// fd table, pass 1: move every source that a lower slot would overwrite
	// out of the way, above all slots and sources.
	fd = p.nextfd
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] >= 0 && p.fd[i] < i {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_DUP3, uintptr(p.fd[i]), uintptr(fd), unix.O_CLOEXEC)
			if err1 != 0 {
				step, index = StepFiles, i
				goto fail
			}
			p.fd[i] = fd
			fd++
		}
	}
	// pass 2: put each fd in its slot, without close-on-exec.
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] < 0 {
			syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(i), 0, 0)
			continue
		}
		if p.fd[i] == i {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(i), syscall.F_SETFD, 0)
		} else {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_DUP3, uintptr(p.fd[i]), uintptr(i), 0)
		}
		if err1 != 0 {
			step, index = StepFiles, i
			goto fail
		}
	}
	// Everything else closes at execve; the error pipe until then stays open.
	_, _, err1 = syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(len(p.fd)), ^uintptr(0)>>1, unix.CLOSE_RANGE_CLOEXEC)
	if err1 != 0 {
		step = StepFiles
		index = len(p.fd)
		goto fail
	}

	if p.setctty {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(p.ctty), syscall.TIOCSCTTY, 0)
		if err1 != 0 {
			step = StepSetctty
			goto fail
		}
	}

	if p.umask >= 0 {
		syscall.RawSyscall(syscall.SYS_UMASK, uintptr(p.umask), 0, 0)
	}

	for i = 0; i < len(p.rlim); i++ {
		_, _, err1 = syscall.RawSyscall6(syscall.SYS_PRLIMIT64, 0, uintptr(p.rlimits[i].Resource), uintptr(unsafe.Pointer(&p.rlim[i])), 0, 0, 0)
		if err1 != 0 {
			step, index = StepRlimit, i
			goto fail
		}
	}

	if p.setNice {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uintptr(p.nice))
		if err1 != 0 {
			step = StepNice
			goto fail
		}
	}

	if p.setSecbits {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_SECUREBITS, p.secbits, 0)
		if err1 != 0 {
			step = StepSecurebits
			goto fail
		}
	}

	if p.dropBound {
		for i = 0; i <= p.lastCap; i++ {
			if p.keepBound&(1<<uint(i)) != 0 {
				continue
			}
			_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(i), 0)
			if err1 != 0 && err1 != syscall.EINVAL {
				step, index = StepBounding, i
				goto fail
			}
		}
	}

	if p.keepCaps {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0)
		if err1 != 0 {
			step = StepKeepCaps
			goto fail
		}
	}
	if p.setGroups {
		if len(p.groups) > 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(p.groups)), uintptr(unsafe.Pointer(&p.groups[0])), 0)
		} else {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0)
		}
		if err1 != 0 {
			step = StepSetgroups
			goto fail
		}
	}
	if p.gid >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(p.gid), uintptr(p.egid), uintptr(p.egid))
		if err1 != 0 {
			step = StepSetgid
			goto fail
		}
	}
	if p.uid >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(p.uid), uintptr(p.euid), uintptr(p.euid))
		if err1 != 0 {
			step = StepSetuid
			goto fail
		}
	}

	// After the credential change, which would clear it.
	if p.pdeathsig != 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_PDEATHSIG, p.pdeathsig, 0)
		if err1 != 0 {
			step = StepPdeathsig
			goto fail
		}
	}

	if p.setCaps {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&p.capHdr)), uintptr(unsafe.Pointer(&p.capData[0])), 0)
		if err1 != 0 {
			step = StepCapset
			goto fail
		}
		_, _, err1 = syscall.RawSyscall6(syscall.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0)
		if err1 != 0 && err1 != syscall.EINVAL {
			step = StepAmbient
			goto fail
		}
		for i = 0; i < len(p.ambient); i++ {
			_, _, err1 = syscall.RawSyscall6(syscall.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(p.ambient[i]), 0, 0, 0)
			if err1 != 0 {
				step, index = StepAmbient, i
				goto fail
			}
		}
	}

	if p.nnp {
		_, _, err1 = syscall.RawSyscall6(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0)
		if err1 != 0 {
			step = StepNoNewPrivs
			goto fail
		}
	}
	if p.landlock >= 0 {
		_, _, err1 = syscall.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(p.landlock), 0, 0)
		if err1 != 0 {
			step = StepLandlock
			goto fail
		}
	}
	if p.prog.Len > 0 {
		_, _, err1 = syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&p.prog)))
		if err1 != 0 {
			step = StepSeccomp
			goto fail
		}
	}

	// execve each candidate, as execvp does: EACCES from one candidate is
	// remembered, ENOENT and ENOTDIR move on, anything else stops the search.
	for i = 0; i < len(p.path); i++ {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_EXECVE,
			uintptr(unsafe.Pointer(p.path[i])),
			uintptr(unsafe.Pointer(&p.argv[0])),
			uintptr(unsafe.Pointer(&p.envv[0])))
		if err1 == syscall.EACCES {
			sawAcc = true
			continue
		}
		if err1 != syscall.ENOENT && err1 != syscall.ENOTDIR {
			break
		}
	}
	if sawAcc && (err1 == syscall.ENOENT || err1 == syscall.ENOTDIR) {
		err1 = syscall.EACCES
	}
	step = StepExec

fail:
	rep.step = uint32(step)
	rep.index = uint32(index)
	rep.errno = uint32(err1)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(pipe), uintptr(unsafe.Pointer(&rep)), unsafe.Sizeof(rep))
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 253, 0, 0)
	}
}
