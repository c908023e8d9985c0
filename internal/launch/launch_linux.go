package launch

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/procfile"
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
	// vpipe and vmask: the error pipe and the caller's signal mask, for a
	// child started by vforkExec (it cannot take them as arguments).
	vpipe      int
	vmask      uint64
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
	clearFirst bool
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
	// redump makes a forked child dumpable again first thing: see
	// forkRedump.
	redump bool

	sb *preparedSandbox

	// CloneNS: flags of the child's own clone, the sync pipe's read end
	// (-1 when no maps are written), and lo.
	cflags uintptr
	csync  int
	clo    bool
	cifr   [40]byte
	cbuf   [1]byte
}

// preparedSandbox is the sandbox init's part of prepared: what it reads
// until the program has started.
type preparedSandbox struct {
	cloneflags  uintptr
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
	// netDeps: an instruction of the mount program needs the sandbox's
	// network namespace (see netHelperFits).
	netDeps bool
	ifr     [40]byte
	// st is the init's state in memory of its own (see initMem).
	st  *initState
	mem *initMem
}

// initState is what the sandbox init keeps using once the program runs, and
// its scratch space. It lives in memory that launch maps itself (initMem),
// outside Go's heap: an init that shares the caller's address space goes on
// running after StartSandbox has returned and dropped its references, when
// heap memory could be freed and reused.
type initState struct {
	// sync is the read end of a pipe on which one byte arrives once the id
	// maps are written; pr is the init's preparation (kept alive by
	// StartSandbox until the init reports).
	sync     int
	pr       *prepared
	ctl      int
	child    uintptr
	sigset   uint64 // the signals the init waits for
	origMask uint64 // the caller's signal mask, for the program and hooks
	allMask  uint64
	ws       uint32
	// hookStatus is the wait status of an OpRun hook; hook is the
	// instruction the hook child runs.
	hookStatus uint32
	hook       int
	rep        Report
	// msg carries rep with SCM_CREDENTIALS naming the program's pid; cred
	// points into ctrl, where the init stores the pid.
	iov   unix.Iovec
	msg   unix.Msghdr
	ctrl  [unix.SizeofCmsghdr + 16]byte
	cred  *unix.Ucred
	epipe [2]int32
	buf   [16]byte
	pfd   unix.PollFd
	zero  unix.Timespec
	// shared: the init runs in the caller's address space (clone3 with
	// CLONE_VM on a stack of its own) and starts its children the same way
	// (child: CLONE_VM|CLONE_VFORK on a second stack).
	shared bool
	child3 cloneArgs
	// netHelper: the init was cloned without CLONE_NEWNET and starts a
	// helper (net3: CLONE_VM|CLONE_FILES on the third stack) that creates
	// the network namespace and brings lo up while the init runs the mount
	// program; the init joins it before the program starts. netPid is the
	// helper, netFd the namespace's fd it leaves in the shared fd table,
	// netStep and netErr its failure. The helper takes PID 2 in the new
	// PID namespace; the program asks for it back (progTID, set_tid).
	// detach is the index of a deferred OpDetach (-1: none): the init
	// runs it after starting the program, then sets detached (a futex
	// word) to 1, which the program waits for (see OpDetach).
	detach    int
	detached  uint32
	netHelper bool
	net3      cloneArgs
	netPid    uintptr
	netFd     int32
	netStep   uint32
	netErr    uint32
	progTID   [1]int32
}

// cloneArgs is struct clone_args (clone3(2)), up to the cgroup field.
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	childTID   uint64
	parentTID  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTID     uint64
	setTIDSize uint64
	cgroup     uint64
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
	var (
		pid   int
		errno syscall.Errno = syscall.ENOSYS
	)
	if vforkFits(p, pr, suidDumpable) {
		pid, errno = vforkExec(pr, wfd)
	}
	// ENOSYS: no clone3 (or a seccomp filter hides it), no stack;
	// EINVAL: no CLONE_CLEAR_SIGHAND (before Linux 5.5). A fork does then.
	if errno == syscall.ENOSYS || errno == syscall.EINVAL {
		pr.redump = forkRedump()
		pid, errno = forkExec(pr, wfd)
	}
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
		setGroups: p.SetGroups, clearFirst: p.ClearGroupsFirst, groups: p.Groups, uid: p.UID, gid: p.GID,
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
	setsNofile := false
	for i, r := range p.Rlimits {
		pr.rlim[i] = rlimit64{r.Cur, r.Max}
		setsNofile = setsNofile || r.Resource == unix.RLIMIT_NOFILE
	}
	// The program gets the open-file limit cove was started with, not the
	// one the Go runtime raised for itself. It comes last, so that a
	// failure of the requested limits keeps its index into p.Rlimits; it
	// only lowers the soft limit, which never fails.
	if orig, raised := StartNofile(); raised && !setsNofile {
		pr.rlimits = append(p.Rlimits[:len(p.Rlimits):len(p.Rlimits)], Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: orig.Cur, Max: orig.Max})
		pr.rlim = append(pr.rlim, rlimit64{orig.Cur, orig.Max})
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

// forkExec clones and runs the child steps: a sandbox init (sandboxInit)
// when p.sb is set, else the CloneNS steps and the program's (programMain).
//
// Preconditions: syscall.ForkLock is held; pipe is a close-on-exec fd above
// every slot the fd-table step writes (unused for a sandbox init).
// In the child, after clone: only //go:nosplit functions that make raw system
// calls and do not allocate, because runtime_BeforeFork has poisoned the
// stack guard and the child's copy of the runtime must not run.
//
//go:noinline
//go:norace
//go:nocheckptr
func forkExec(p *prepared, pipe int) (pid int, errno syscall.Errno) {
	var (
		r1    uintptr
		err1  syscall.Errno
		flags uintptr
	)
	flags = uintptr(syscall.SIGCHLD) | p.cflags
	if p.sb != nil {
		flags = uintptr(syscall.SIGCHLD) | p.sb.cloneflags
	}
	runtime_BeforeFork()
	r1, _, err1 = syscall.RawSyscall(syscall.SYS_CLONE, flags, 0, 0)
	if err1 != 0 || r1 != 0 {
		runtime_AfterFork()
		return int(r1), err1
	}

	// ---- child ----
	runtime_AfterForkInChild()
	if p.redump {
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1, 0)
	}
	if p.sb != nil {
		// Returns only in a forked child of the init, to run it here, at
		// the top of the stack.
		initWait(p.sb.st)
		if sandboxInit(p) == childHook {
			hookMain(unsafe.Pointer(p))
		}
		programEntry(unsafe.Pointer(p))
	}
	// Namespaces of our own (CloneNS): wait for the maps, bring up lo.
	if p.csync >= 0 {
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_READ, uintptr(p.csync), uintptr(unsafe.Pointer(&p.cbuf[0])), 1)
		if err1 != 0 || r1 != 1 {
			if err1 == 0 {
				err1 = syscall.EPIPE
			}
			childFail(pipe, StepSync, 0, err1)
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(p.csync), 0, 0)
	}
	if p.clo {
		if err1 = loUp(&p.cifr); err1 != 0 {
			childFail(pipe, StepLoopback, 0, err1)
		}
	}
	programMain(p, pipe)
	return 0, 0 // not reached
}

// vforkFits tells whether Start may run the child steps in a child that
// shares the caller's memory until it execs (vforkExec). Not when the child
// waits for its parent (id maps of a new user namespace: the parent is
// suspended), forks again (ForkAfterSetns), or changes what belongs to the
// address space (NonDumpable would make the caller non-dumpable). A write
// to /proc/self/oom_score_adj is fine: the kernel gives a vfork child its
// own score instead of every sharer's (TestSecurityNiceAndOOMScore).
//
// Nor when the child changes its ids while fs.suid_dumpable is 1: the change
// would leave the address space dumpable, and a process of the new uid
// could ptrace the child — and so reach the caller's memory — until execve.
// (With 0 or 2 it becomes non-dumpable to that uid; vforkExec gives the
// caller its own setting back.)
func vforkFits(p *Params, pr *prepared, suidDumpable func() int) bool {
	if !sharedInit || p.Clone != nil || pr.forkAfter || pr.nonDump {
		return false
	}
	if pr.uid >= 0 || pr.gid >= 0 || pr.euid >= 0 || pr.egid >= 0 {
		return suidDumpable() != 1
	}
	return true
}

// suidDumpable reads fs.suid_dumpable (1, the unsafe setting, if it cannot).
func suidDumpable() int {
	b, err := procfile.Read("/proc/sys/fs/suid_dumpable")
	if err != nil || len(b) < 1 || b[0] < '0' || b[0] > '2' {
		return 1
	}
	return int(b[0] - '0')
}

// vforkExec starts the child steps like forkExec, in a child that shares our
// memory on a stack of its own (clone3 CLONE_VM|CLONE_VFORK, with default
// signal dispositions) until it execs or exits; this thread waits for that
// meanwhile. No page table is copied and no page is copied on write: the
// fork in forkExec cost a large caller (the dive server) about a
// millisecond of CPU per program. It returns ENOSYS when it cannot start
// such a child, for the caller to fork instead.
//
// Preconditions: syscall.ForkLock is held; as for forkExec. The child runs
// programMain, which writes nothing but integers into pr.
//
//go:norace
//go:nocheckptr
func vforkExec(pr *prepared, pipe int) (int, syscall.Errno) {
	pg := os.Getpagesize()
	stk := vforkStacks.get(pg)
	if stk == nil {
		return 0, syscall.ENOSYS
	}
	// Back to the cache once the child has execed or exited: it no
	// longer runs on it (ForkLock is still held, so no other child can
	// be given it meanwhile either way).
	defer vforkStacks.put(stk)
	pr.vpipe = pipe
	pr.vmask = threadSigmask()
	// A change of ids in the child sets the dumpable flag of the memory
	// it shares with us: give us ours back once it has execed. (Shared
	// sandbox inits keep the flag in sharedInits, under this lock.)
	sharedInits.Lock()
	defer sharedInits.Unlock()
	dumpable, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	defer func() {
		if now, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); now != dumpable {
			unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(dumpable), 0, 0, 0)
		}
	}()
	args := cloneArgs{
		flags:      unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_CLEAR_SIGHAND,
		exitSignal: uint64(syscall.SIGCHLD),
		stack:      uint64(uintptr(unsafe.Pointer(&stk[pg]))),
		stackSize:  vforkStackSize,
	}
	runtime_BeforeFork()
	pid, errno := rawClone3(&args, cloneArgsSize, vforkEntry, unsafe.Pointer(pr))
	runtime_AfterFork()
	runtime.KeepAlive(stk)
	return int(pid), errno
}

// vforkStackSize is the stack of a vforkExec child: programMain's nosplit
// frames use a few pages of it.
const vforkStackSize = 32 << 10

// vforkStacks keeps a few child stacks (guard page included) for reuse: an
// mmap, mprotect and munmap per start were 6% of a busy dive server's CPU,
// the munmap with a TLB shootdown across its threads. Process-wide, like
// the memory it manages; never more than vforkStackCache of them idle.
var vforkStacks stackCache

const vforkStackCache = 8

type stackCache struct {
	sync.Mutex
	free [][]byte
}

// get returns a stack from the cache, or a new one (nil if it cannot map
// one): pg bytes of guard page, then vforkStackSize bytes.
func (c *stackCache) get(pg int) []byte {
	c.Lock()
	if n := len(c.free); n > 0 {
		stk := c.free[n-1]
		c.free = c.free[:n-1]
		c.Unlock()
		return stk
	}
	c.Unlock()
	stk, err := unix.Mmap(-1, 0, pg+vforkStackSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK)
	if err != nil {
		return nil
	}
	if unix.Mprotect(stk[:pg], unix.PROT_NONE) != nil {
		unix.Munmap(stk)
		return nil
	}
	return stk
}

func (c *stackCache) put(stk []byte) {
	c.Lock()
	defer c.Unlock()
	if len(c.free) < vforkStackCache {
		c.free = append(c.free, stk)
		return
	}
	unix.Munmap(stk)
}

// vforkEntry is where a vforkExec child starts, with no g: it takes back the
// caller's signal mask (runtime_BeforeFork blocked everything; the
// dispositions are already the defaults) and runs the program's steps.
//
//go:nosplit
//go:norace
//go:nocheckptr
func vforkEntry(arg unsafe.Pointer) {
	p := (*prepared)(arg)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.vmask)), 0, 8, 0, 0)
	programMain(p, p.vpipe)
}

// loUp sets IFF_UP on the interface ifr names (lo), in the caller's
// network namespace.
//
//go:nosplit
//go:norace
//go:nocheckptr
func loUp(ifr *[40]byte) syscall.Errno {
	sock, _, err1 := syscall.RawSyscall(syscall.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err1 != 0 {
		return err1
	}
	_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, sock, unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0])))
	if err1 == 0 {
		ifr[16] |= unix.IFF_UP
		_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, sock, unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0])))
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, sock, 0, 0)
	return err1
}

// childFail writes (step, index, errno) on the error pipe and exits 253.
//
//go:nosplit
//go:norace
func childFail(pipe int, step Step, index int, errno syscall.Errno) {
	var rep report
	rep.step = uint32(step)
	rep.index = uint32(index)
	rep.errno = uint32(errno)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(pipe), uintptr(unsafe.Pointer(&rep)), unsafe.Sizeof(rep))
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 253, 0, 0)
	}
}

// programMain runs the program's steps and execs it. It does not return:
// a failing step is reported on pipe and the process exits 253.
//
// Preconditions: this is a child process between clone and execve, with
// the rules of forkExec. It may share its memory with its parent (a
// CLONE_VFORK child of a sandbox init that shares the caller's memory): it
// writes nothing but integers into p.
//
//go:nosplit
//go:norace
//go:nocheckptr
func programMain(p *prepared, pipe int) {
	var (
		r1     uintptr
		err1   syscall.Errno
		i      int
		fd     int
		sawAcc bool
		rep    report
	)

	if p.nonDump {
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0)
	}
	if p.clearFirst {
		if _, _, err1 = syscall.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); err1 != 0 {
			childFail(pipe, StepSetgroups, 0, err1)
		}
	}
	for i = 0; i < len(p.setns); i++ {
		_, _, err1 = syscall.RawSyscall(unix.SYS_SETNS, uintptr(p.setns[i].FD), uintptr(p.setns[i].Type), 0)
		if err1 != 0 {
			childFail(pipe, StepSetns, i, err1)
		}
	}

	if p.forkAfter {
		// Into the joined PID namespace: a sibling takes over; we report its
		// pid and leave.
		r1, _, err1 = syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.CLONE_PARENT|syscall.SIGCHLD), 0, 0)
		if err1 != 0 {
			childFail(pipe, StepSetns, len(p.setns), err1)
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
			childFail(pipe, StepWrite, i, err1)
		}
		if len(p.writes[i].data) > 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_WRITE, r1, uintptr(unsafe.Pointer(&p.writes[i].data[0])), uintptr(len(p.writes[i].data)))
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, r1, 0, 0)
		if err1 != 0 {
			childFail(pipe, StepWrite, i, err1)
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
			childFail(pipe, StepChroot, 0, err1)
		}
	}
	if p.chroot != nil {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_CHROOT, uintptr(unsafe.Pointer(p.chroot)), 0, 0)
		if err1 == 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(&slash[0])), 0, 0)
		}
		if err1 != 0 {
			childFail(pipe, StepChroot, 0, err1)
		}
	}
	if p.dirFD >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_FCHDIR, uintptr(p.dirFD), 0, 0)
		if err1 != 0 {
			childFail(pipe, StepChdir, 0, err1)
		}
	}
	if p.dir != nil {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(p.dir)), 0, 0)
		if err1 != 0 {
			childFail(pipe, StepChdir, 0, err1)
		}
	}

	if p.setsid {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0)
		if err1 != 0 {
			childFail(pipe, StepSetsid, 0, err1)
		}
	}

	// fd table, pass 1: move every source that a lower slot would overwrite
	// out of the way, above all slots and sources.
	fd = p.nextfd
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] >= 0 && p.fd[i] < i {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_DUP3, uintptr(p.fd[i]), uintptr(fd), unix.O_CLOEXEC)
			if err1 != 0 {
				childFail(pipe, StepFiles, i, err1)
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
			childFail(pipe, StepFiles, i, err1)
		}
	}
	// Everything else closes at execve; the error pipe until then stays open.
	_, _, err1 = syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(len(p.fd)), ^uintptr(0)>>1, unix.CLOSE_RANGE_CLOEXEC)
	if err1 != 0 {
		childFail(pipe, StepFiles, len(p.fd), err1)
	}

	if p.setctty {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(p.ctty), syscall.TIOCSCTTY, 0)
		if err1 != 0 {
			childFail(pipe, StepSetctty, 0, err1)
		}
	}

	if p.umask >= 0 {
		syscall.RawSyscall(syscall.SYS_UMASK, uintptr(p.umask), 0, 0)
	}

	for i = 0; i < len(p.rlim); i++ {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRLIMIT64, 0, uintptr(p.rlimits[i].Resource), uintptr(unsafe.Pointer(&p.rlim[i])))
		if err1 != 0 {
			childFail(pipe, StepRlimit, i, err1)
		}
	}

	if p.setNice {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uintptr(p.nice))
		if err1 != 0 {
			childFail(pipe, StepNice, 0, err1)
		}
	}

	if p.setSecbits {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_SECUREBITS, p.secbits, 0)
		if err1 != 0 {
			childFail(pipe, StepSecurebits, 0, err1)
		}
	}

	if p.dropBound {
		for i = 0; i <= p.lastCap; i++ {
			if p.keepBound&(1<<uint(i)) != 0 {
				continue
			}
			_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(i), 0)
			if err1 != 0 && err1 != syscall.EINVAL {
				childFail(pipe, StepBounding, i, err1)
			}
		}
	}

	if p.keepCaps {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0)
		if err1 != 0 {
			childFail(pipe, StepKeepCaps, 0, err1)
		}
	}
	if p.setGroups {
		if len(p.groups) > 0 {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(p.groups)), uintptr(unsafe.Pointer(&p.groups[0])), 0)
		} else {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0)
		}
		if err1 != 0 {
			childFail(pipe, StepSetgroups, 0, err1)
		}
	}
	if p.gid >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(p.gid), uintptr(p.egid), uintptr(p.egid))
		if err1 != 0 {
			childFail(pipe, StepSetgid, 0, err1)
		}
	}
	if p.uid >= 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(p.uid), uintptr(p.euid), uintptr(p.euid))
		if err1 != 0 {
			childFail(pipe, StepSetuid, 0, err1)
		}
	}
	if p.sb != nil && p.sb.st.shared {
		// This child shares the caller's memory until execve, and a change
		// of ids may have made that memory dumpable (fs.suid_dumpable=1):
		// take it back at once (see sandboxInit).
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0)
	}

	// After the credential change, which would clear it.
	if p.pdeathsig != 0 {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_PDEATHSIG, p.pdeathsig, 0)
		if err1 != 0 {
			childFail(pipe, StepPdeathsig, 0, err1)
		}
	}

	if p.setCaps {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&p.capHdr)), uintptr(unsafe.Pointer(&p.capData[0])), 0)
		if err1 != 0 {
			childFail(pipe, StepCapset, 0, err1)
		}
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0)
		if err1 != 0 && err1 != syscall.EINVAL {
			childFail(pipe, StepAmbient, 0, err1)
		}
		for i = 0; i < len(p.ambient); i++ {
			_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(p.ambient[i]))
			if err1 != 0 {
				childFail(pipe, StepAmbient, i, err1)
			}
		}
	}

	if p.nnp {
		_, _, err1 = syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
		if err1 != 0 {
			childFail(pipe, StepNoNewPrivs, 0, err1)
		}
	}
	// The old root may still be attached (a deferred OpDetach): nothing of
	// the program's own runs before the init has detached it.
	// Plain loads, not sync/atomic: under the race detector those call into
	// the runtime, which this child (no g, the forking thread's TLS) must
	// never do; the futex call between two loads makes the compiler reload.
	if p.sb != nil && p.sb.st.detach >= 0 {
		for p.sb.st.detached == 0 {
			syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&p.sb.st.detached)), futexWaitPrivate, 0, 0, 0, 0)
		}
	}
	if p.landlock >= 0 {
		_, _, err1 = syscall.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(p.landlock), 0, 0)
		if err1 != 0 {
			childFail(pipe, StepLandlock, 0, err1)
		}
	}
	if p.prog.Len > 0 {
		_, _, err1 = syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&p.prog)))
		if err1 != 0 {
			childFail(pipe, StepSeccomp, 0, err1)
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
	childFail(pipe, StepExec, 0, err1)
}
