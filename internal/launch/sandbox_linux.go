package launch

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// atFD turns a register operand into a directory fd: -1 is AT_FDCWD.
//
//go:nosplit
//go:norace
func atFD(sb *preparedSandbox, reg int) int {
	if reg < 0 {
		return unix.AT_FDCWD
	}
	return sb.regs[reg]
}

// parentGone tells whether stage 0's end of the control socket has closed:
// stage 0 never writes there, so any readability is the hang-up.
//
//go:nosplit
//go:norace
//go:nocheckptr
func parentGone(st *initState) bool {
	st.pfd.Fd = int32(st.ctl)
	st.pfd.Events = unix.POLLIN
	st.pfd.Revents = 0
	r1, _, _ := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&st.pfd)), 1, uintptr(unsafe.Pointer(&st.zero)), 0, 0, 0)
	return r1 != 0 && st.pfd.Revents != 0
}

// Started describes a running sandbox started by StartSandbox.
type Started struct {
	// InitPid is the sandbox init's pid (PID 1 inside), in our namespace.
	InitPid int
	// Pid is the program's pid in our namespace.
	Pid int
	// Control is our end of the socket on which the init reports, in the
	// runtime's network poller; read the ReportExited with ReadReport. The
	// caller must close it.
	Control *os.File

	mem *initMem
}

// Release frees the memory the sandbox init ran in.
//
// Preconditions: the init has been reaped (waited for). Before that it may
// still run on that memory; a Started that is never released keeps it.
func (s *Started) Release() {
	if s.mem != nil {
		s.mem.release()
		s.mem = nil
	}
}

// StartSandbox creates the namespaces in p.Sandbox, runs its init and starts
// the program with the other steps of p. It returns once the program has
// execed, or with an *Error naming the failing step; in that case the init
// has been reaped. Later reports (ReportExited) arrive on Started.Control;
// once the init has been reaped, call Started.Release.
//
// With Sandbox.Share the init shares the calling process's address space
// when it can (amd64, clone3 with CLONE_CLEAR_SIGHAND: Linux 5.5), so that
// starting it copies no page table and it costs no memory of its own; it
// then runs only on memory launch maps for it. Otherwise it is a forked
// copy. A shared address space has one dumpable flag: while such an init
// runs, the calling process is non-dumpable (ptrace, /proc/PID/mem and core
// dumps refused), which is what keeps the init, and through it the caller,
// out of the sandbox's reach; the flag is restored when the last of them has
// been released. Meanwhile root owns the /proc files of the caller's
// children until they exec, so an unprivileged caller could not write the
// id maps of a child in a new user namespace: launch's own forks make their
// copy dumpable again first, but other code's (os/exec with UidMappings)
// fail. An init that writes its own /proc files (Sandbox.InitWrites) is
// always a forked copy: some of them (oom_score_adj) apply to every process
// sharing the memory.
//
// Preconditions: as for Start. The sandbox lives as long as the calling
// process (not thread): when the process dies, its end of the control socket
// closes and the init, notified by SIGIO, exits, which kills the PID
// namespace.
func StartSandbox(p *Params) (*Started, error) {
	sb := p.Sandbox
	if sb == nil {
		return nil, errors.New("launch: StartSandbox without Sandbox")
	}
	if sb.Cloneflags&unix.CLONE_NEWUSER == 0 || sb.Cloneflags&unix.CLONE_NEWPID == 0 {
		return nil, errors.New("launch: a sandbox needs new user and PID namespaces")
	}
	if sb.Cloneflags&unix.CLONE_NEWTIME != 0 {
		return nil, errors.New("launch: CLONE_NEWTIME cannot be a clone flag; set TimeNS")
	}
	if len(p.Path) == 0 {
		return nil, errors.New("launch: no executable path")
	}
	pr, err := prepare(p)
	if err != nil {
		return nil, err
	}
	m, err := newInitMem()
	if err != nil {
		return nil, err
	}
	// fds: ctl is our end of the control socket, init the init's; the init
	// waits on sync[0] for our go-ahead on sync[1].
	fds := [4]int{-1, -1, -1, -1}
	ctl, init, sync := &fds[0], &fds[1], fds[2:4]
	pid := -1
	fail := func(err error) (*Started, error) {
		if pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
			reap(pid)
		}
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		m.release()
		return nil, err
	}
	// The control socket: the init reports on its end; ours receives the
	// program's pid as credentials, translated into our PID namespace.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("launch: control socket: %w", err))
	}
	*ctl, *init = pair[0], pair[1]
	if err := unix.SetsockoptInt(*ctl, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fail(fmt.Errorf("launch: control socket: %w", err))
	}
	if err := unix.Pipe2(sync, unix.O_CLOEXEC); err != nil {
		return fail(fmt.Errorf("launch: sync pipe: %w", err))
	}
	ps, err := prepareSandbox(sb, pr, m, fds[:])
	if err != nil {
		return fail(err)
	}
	pr.sb = ps
	st := ps.st
	st.ctl, st.sync, st.pr, st.allMask = *init, sync[0], pr, ^uint64(0)
	// The init runs on pr (and everything it points to) until it reports:
	// keep them alive until then.
	defer runtime.KeepAlive(pr)
	defer runtime.KeepAlive(p)

	syscall.ForkLock.Lock()
	var errno syscall.Errno = syscall.ENOSYS
	if sharedInit && sb.Share && len(sb.InitWrites) == 0 {
		flags := ps.cloneflags
		if st.netHelper = netHelperFits(ps); st.netHelper {
			flags &^= unix.CLONE_NEWNET
		}
		pid, errno = cloneShared(flags, m)
		if errno != 0 {
			st.netHelper = false
		}
	}
	// ENOSYS: no clone3 (or a seccomp filter that hides it, as container
	// runtimes do), or another shared init keeps an unprivileged caller
	// from sharing (initMem.share); EINVAL: no CLONE_CLEAR_SIGHAND (before
	// Linux 5.5). A fork does then; any other error is the namespaces'
	// answer, which a fork would get too.
	if errno == syscall.ENOSYS || errno == syscall.EINVAL {
		pr.redump = forkRedump()
		pid, errno = forkExec(pr, -1)
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		pid = -1
		return fail(os.NewSyscallError("clone", errno))
	}
	unix.Close(sync[0])
	sync[0] = -1
	write := sb.WriteMaps
	if write == nil {
		write = func(pid int) error { return writeIDMaps(pid, sb) }
	}
	if err := write(pid); err != nil {
		return fail(err)
	}
	// The go-ahead: the maps are written.
	unix.Write(sync[1], []byte{1})
	unix.Close(sync[1])
	sync[1] = -1
	unix.Close(*init)
	*init = -1
	// Wait for the init's report in the runtime's network poller, not in a
	// blocking recvmsg: with this goroutine parked and no P in a system
	// call, the scheduler's monitor thread (sysmon) sleeps instead of waking
	// every 20-100 us on the CPUs the init and the program need.
	// -0.15 to -0.2 ms per sandbox on a 2-CPU machine (docs/bench.md).
	control, err := pollable(*ctl, "cove-control")
	*ctl = -1 // control owns it now, or pollable closed it
	if err != nil {
		return fail(fmt.Errorf("launch: control socket: %w", err))
	}
	rep, credPid, err := ReadReport(control)
	if err != nil {
		control.Close()
		return fail(fmt.Errorf("launch: sandbox init: %w", err))
	}
	switch rep.Kind {
	case ReportStarted:
		return &Started{InitPid: pid, Pid: credPid, Control: control, mem: m}, nil
	case ReportFailed:
		e := &Error{Step: Step(rep.Step), Index: int(rep.Index), Errno: syscall.Errno(rep.Errno)}
		switch {
		case e.Step == StepMountProgram && e.Index < len(sb.Program):
			e.Detail = sb.Program[e.Index].What
		case e.Step == StepWrite && e.Index < len(sb.InitWrites):
			e.Detail = sb.InitWrites[e.Index].Path
		default:
			e.Detail = detail(p, e)
		}
		control.Close()
		return fail(e)
	}
	control.Close()
	return fail(fmt.Errorf("launch: unexpected report kind %d from sandbox init", rep.Kind))
}

// netHelperFits tells whether a shared init may leave its network namespace
// to a helper that runs beside the mount program (initState.netHelper): it
// must want one, and nothing before the join may depend on it (netDeps).
func netHelperFits(ps *preparedSandbox) bool {
	return ps.cloneflags&unix.CLONE_NEWNET != 0 && ps.cloneflags&unix.CLONE_NEWUSER != 0 && !ps.netDeps
}

// cloneShared starts the init with clone3(CLONE_VM|CLONE_CLEAR_SIGHAND) on
// the stack in m: it shares our memory, has default signal dispositions
// where we have handlers, and inherits from runtime_BeforeFork a mask that
// blocks every signal, which it keeps. It starts in initEntry with m.state,
// and waits there for the go-ahead before it reads anything else.
//
// Preconditions: syscall.ForkLock is held.
//
//go:norace
//go:nocheckptr
func cloneShared(flags uintptr, m *initMem) (int, syscall.Errno) {
	st := m.state
	args := &m.initArgs
	*args = cloneArgs{
		flags:      unix.CLONE_VM | unix.CLONE_CLEAR_SIGHAND | uint64(flags),
		exitSignal: uint64(syscall.SIGCHLD),
		stack:      uint64(m.initBase),
		stackSize:  initStackSize,
	}
	if !m.share() {
		return -1, syscall.ENOSYS
	}
	st.shared = true
	runtime_BeforeFork()
	pid, errno := rawClone3(args, cloneArgsSize, initEntry, unsafe.Pointer(st))
	runtime_AfterFork()
	if errno != 0 {
		st.shared = false
		m.unshare()
		return -1, errno
	}
	return int(pid), 0
}

func reap(pid int) {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != unix.EINTR {
			return
		}
	}
}

// ReadReport reads the next Report from a sandbox's control socket (as
// Started.Control), parking the calling goroutine in the runtime's poller
// until one arrives. pid is the program's pid from the report's credentials
// (ReportStarted), in the reader's PID namespace. A closed socket gives an
// error wrapping os.ErrClosed.
func ReadReport(control *os.File) (Report, int, error) {
	rc, err := control.SyscallConn()
	if err != nil {
		return Report{}, 0, err
	}
	var (
		rep    Report
		pid, n int
		oobn   int
		rerr   error
	)
	buf := (*[unsafe.Sizeof(rep)]byte)(unsafe.Pointer(&rep))[:]
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	recv := func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	}
	if err := rc.Read(recv); err != nil {
		// The socket is not in the poller (it could not be registered):
		// wait in poll(2), then receive, until a report or an error.
		for rerr == unix.EAGAIN || rerr == unix.EINTR {
			cerr := rc.Control(func(fd uintptr) {
				pollIn(int(fd))
				recv(fd)
			})
			if cerr != nil {
				return rep, 0, cerr
			}
		}
	}
	if rerr != nil {
		return rep, 0, rerr
	}
	if n == 0 {
		return rep, 0, os.ErrClosed
	}
	if n != len(buf) {
		return rep, 0, fmt.Errorf("short report (%d bytes)", n)
	}
	if oobn > 0 {
		if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, c := range cmsgs {
				if c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_CREDENTIALS {
					if cr, err := unix.ParseUnixCredentials(&c); err == nil {
						pid = int(cr.Pid)
					}
				}
			}
		}
	}
	return rep, pid, nil
}

// pollIn blocks in poll(2) until fd is readable (or hung up).
func pollIn(fd int) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
			return
		}
	}
}

// pollable makes fd non-blocking and hands it to an *os.File, which
// registers it with the runtime's network poller. On error fd is closed.
func pollable(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// writeIDMaps writes the init's id maps, as the parent must for an
// unprivileged child (the child cannot map ids it does not own).
func writeIDMaps(pid int, sb *Sandbox) error {
	return WriteIDMaps(pid, sb.UIDMap, sb.GIDMap, sb.Setgroups)
}

// WriteIDMaps writes /proc/PID/uid_map, setgroups ("allow" when setgroups,
// else "deny") and gid_map directly: the caller must own the ids or be
// privileged in the parent user namespace.
func WriteIDMaps(pid int, uidMap, gidMap []syscall.SysProcIDMap, setgroups bool) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	// Plain system calls: an *os.File would try (and fail) to register each
	// file with the runtime's poller first.
	write := func(name, data string) error {
		op := "open"
		fd, err := unix.Open(dir+name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			op = "write"
			var n int
			n, err = unix.Write(fd, []byte(data))
			if cerr := unix.Close(fd); err == nil {
				err = cerr
			}
			if err == nil && n != len(data) {
				err = unix.EIO
			}
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, &os.PathError{Op: op, Path: dir + name, Err: err})
		}
		return nil
	}
	if err := write("uid_map", formatMap(uidMap)); err != nil {
		return err
	}
	sg := "deny"
	if setgroups {
		sg = "allow"
	}
	if err := write("setgroups", sg); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return write("gid_map", formatMap(gidMap))
}

func formatMap(m []syscall.SysProcIDMap) string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b.String()
}

// cstrings holds NUL-terminated copies of strings in one allocation.
type cstrings struct{ buf []byte }

// reserve makes room for strings of n bytes in all, NULs included; add must
// not be asked for more, so that the buffer never moves under the pointers
// it has handed out.
func (c *cstrings) reserve(n int) { c.buf = make([]byte, 0, n) }

// add returns a NUL-terminated copy of s, or a pointer to "" when s is
// empty and emptyOK, or nil.
func (c *cstrings) add(s string, emptyOK bool) (*byte, error) {
	if s == "" && !emptyOK {
		return nil, nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, syscall.EINVAL
	}
	if len(c.buf)+len(s)+1 > cap(c.buf) {
		return nil, errors.New("launch: C string space exhausted") // a bug in reserve's caller
	}
	at := len(c.buf)
	c.buf = append(append(c.buf, s...), 0)
	return &c.buf[at], nil
}

// prepareSandbox prepares the init's part of pr, with its state in m; fds
// are ours, none of which the init keeps.
func prepareSandbox(sb *Sandbox, pr *prepared, m *initMem, fds []int) (*preparedSandbox, error) {
	ps := &preparedSandbox{
		cloneflags: sb.Cloneflags &^ unix.CSIGNAL,
		initUID:    sb.InitUID, initGID: sb.InitGID,
		clearGroups: sb.ClearGroups, lo: sb.Loopback, timens: sb.TimeNS,
	}
	if sb.Hostname != "" {
		ps.hostname = []byte(sb.Hostname)
	}
	for _, w := range sb.InitWrites {
		b, err := syscall.BytePtrFromString(w.Path)
		if err != nil {
			return nil, fmt.Errorf("launch: init write %q: %w", w.Path, err)
		}
		ps.writes = append(ps.writes, rawWrite{path: b, data: []byte(w.Data)})
	}
	all := ^uint32(0)
	ps.fullCaps = [2]unix.CapUserData{{Effective: all, Permitted: all, Inheritable: 0}, {Effective: all, Permitted: all}}
	copy(ps.ifr[:], "lo")
	var sigset uint64
	for _, s := range append([]syscall.Signal{unix.SIGCHLD, unix.SIGIO}, sb.Signals...) {
		if s <= 0 || s > 64 || s == unix.SIGKILL || s == unix.SIGSTOP {
			return nil, fmt.Errorf("launch: cannot forward signal %d", s)
		}
		sigset |= 1 << (uint(s) - 1)
	}
	// The init copies the fds it keeps above every slot, source and
	// register, and above every fd of ours it must not keep.
	ps.high = max(pr.nextfd+len(pr.fd)+1, pr.landlock+1)
	for _, fd := range fds {
		ps.high = max(ps.high, fd+1)
	}
	maxReg := -1
	var strs cstrings
	n := 0
	for _, in := range sb.Program {
		n += len(in.S1) + len(in.S2) + len(in.S3) + len(in.S4) + 4
	}
	strs.reserve(n)
	ps.insns = make([]rawInsn, 0, len(sb.Program))
	for i, in := range sb.Program {
		// A hook runs during the mount program, and the kernel ties a
		// sysfs mount to the mounter's network namespace.
		ps.netDeps = ps.netDeps || in.Op == OpRun || (in.Op == OpFsopen && in.S1 == "sysfs") || (in.Op == OpMount && in.S3 == "sysfs")
		ri := rawInsn{op: in.Op, r: in.R, a: in.A, b: in.B, flags: in.Flags, flags2: in.Flags2, ignore: in.Ignore, skip: in.SkipOnFail, index: in.Index}
		for _, r := range []int{in.R, in.A, in.B} {
			if r > maxReg {
				maxReg = r
			}
		}
		var err error
		// Path operands that may legitimately be "" (AT_EMPTY_PATH,
		// move_mount) get a real empty string; others nil when empty.
		emptyOK := in.Op == OpOpenTree || in.Op == OpSetattr || in.Op == OpMoveMount
		// OpWrite's S1 is file data, passed with its length (below).
		if in.Op != OpWrite {
			if ri.s1, err = strs.add(in.S1, emptyOK); err != nil {
				return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
			}
		}
		if ri.s2, err = strs.add(in.S2, false); err != nil {
			return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
		}
		if ri.s3, err = strs.add(in.S3, false); err != nil {
			return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
		}
		if ri.s4, err = strs.add(in.S4, false); err != nil {
			return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
		}
		switch in.Op {
		case OpWrite:
			b := []byte(in.S1)
			if len(b) > 0 {
				ri.s1, ri.n1 = &b[0], len(b)
			}
		case OpSetattr:
			ri.attr = unix.MountAttr{Attr_set: in.Flags2}
		case OpRun:
			if ri.argv, err = syscall.SlicePtrFromStrings([]string{"sh", "-c", in.S1}); err != nil {
				return nil, fmt.Errorf("launch: hook %q: %w", in.S1, err)
			}
			if ri.envv, err = syscall.SlicePtrFromStrings([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}); err != nil {
				return nil, err
			}
		case OpOpenAt2, OpEnsure:
			fl := in.Flags
			if in.Op == OpEnsure {
				fl = unix.O_PATH | unix.O_CLOEXEC
			}
			ri.how = unix.OpenHow{Flags: fl, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		}
		ps.insns = append(ps.insns, ri)
	}
	ps.regs = make([]int, maxReg+1)
	for i := range ps.regs {
		ps.regs[i] = -1
	}
	ps.mem, ps.st = m, m.state
	st := m.state
	st.sigset = sigset
	st.origMask = threadSigmask()
	// The Started report: rep in one iovec, our ids in SCM_CREDENTIALS with
	// the pid filled in by the init.
	copy(st.ctrl[:], unix.UnixCredentials(&unix.Ucred{Uid: uint32(sb.InitUID), Gid: uint32(sb.InitGID)}))
	st.cred = (*unix.Ucred)(unsafe.Pointer(&st.ctrl[unix.CmsgLen(0)]))
	st.iov = unix.Iovec{Base: (*byte)(unsafe.Pointer(&st.rep))}
	st.iov.SetLen(int(unsafe.Sizeof(st.rep)))
	st.msg.Iov = &st.iov
	st.msg.SetIovlen(1)
	st.msg.Control = &st.ctrl[0]
	st.msg.SetControllen(unix.CmsgSpace(unix.SizeofUcred))
	// The init's children (hooks, the program), when it shares our memory:
	// vfork-like, on the second stack, with the init's signal dispositions.
	st.child3 = cloneArgs{
		flags:      unix.CLONE_VM | unix.CLONE_VFORK,
		exitSignal: uint64(syscall.SIGCHLD),
		stack:      uint64(m.childBase),
		stackSize:  childStackSize,
	}
	// With a network helper (PID 2 of the new namespace, gone by then) the
	// program asks for PID 2 (set_tid), as without one.
	st.progTID = [1]int32{2}
	st.child3.setTID = uint64(uintptr(unsafe.Pointer(&st.progTID[0])))
	st.child3.setTIDSize = 1
	// The network helper: shares the init's memory and fd table (its
	// namespace's fd stays there), on the third stack, no exit signal.
	st.net3 = cloneArgs{
		flags:     unix.CLONE_VM | unix.CLONE_FILES,
		stack:     uint64(m.netBase),
		stackSize: netStackSize,
	}
	st.netFd = -1
	st.detach, st.detached = -1, 0
	return ps, nil
}

// threadSigmask returns the calling thread's signal mask: the mask the
// sandbox's program and hooks start with.
func threadSigmask() uint64 {
	var old uint64
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return old
}

// Sizes of a sandbox init's memory. The init and its children run nosplit
// functions with small frames; a few pages of each stack are ever touched.
const (
	initStackSize  = 32 << 10
	childStackSize = 32 << 10
	netStackSize   = 16 << 10
	cloneArgsSize  = 64 // CLONE_ARGS_SIZE_VER0: up to tls
	// cloneArgsSetTID is CLONE_ARGS_SIZE_VER1: up to set_tid_size.
	cloneArgsSetTID = 80
)

// initMem is the memory a sandbox init owns: its initState, and the stacks
// it and its children run on when it shares the caller's address space.
// Layout, from the lowest address: a guard page, the children's stack, a
// guard page, the init's stack, the state.
type initMem struct {
	b         []byte
	state     *initState
	initBase  uintptr
	childBase uintptr
	netBase   uintptr
	initArgs  cloneArgs
	// counted: this init is one of the shared inits (see sharedInits).
	counted bool
}

func newInitMem() (*initMem, error) {
	pg := os.Getpagesize()
	stateSize := (int(unsafe.Sizeof(initState{})) + pg - 1) &^ (pg - 1)
	// guard, child stack, guard, init stack, guard, helper stack, state:
	// each stack grows down towards its guard page.
	b, err := unix.Mmap(-1, 0, pg+childStackSize+pg+initStackSize+pg+netStackSize+stateSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK)
	if err != nil {
		return nil, fmt.Errorf("launch: map the init's memory: %w", err)
	}
	guard2 := pg + childStackSize
	guard3 := guard2 + pg + initStackSize
	for _, g := range []int{0, guard2, guard3} {
		if err == nil {
			err = unix.Mprotect(b[g:g+pg], unix.PROT_NONE)
		}
	}
	if err != nil {
		unix.Munmap(b)
		return nil, fmt.Errorf("launch: guard the init's stacks: %w", err)
	}
	stateAt := guard3 + pg + netStackSize
	return &initMem{
		b:         b,
		state:     (*initState)(unsafe.Pointer(&b[stateAt])),
		childBase: uintptr(unsafe.Pointer(&b[pg])),
		initBase:  uintptr(unsafe.Pointer(&b[guard2+pg])),
		netBase:   uintptr(unsafe.Pointer(&b[guard3+pg])),
	}, nil
}

// reaped tells m that its init has been reaped.
func (m *initMem) reaped() {
	if m.counted {
		m.unshare()
	}
}

func (m *initMem) release() {
	m.reaped()
	if m.b != nil {
		unix.Munmap(m.b)
		m.b, m.state = nil, nil
	}
}

// sharedInits counts the sandbox inits running in this process's address
// space. The first one makes the address space non-dumpable (see
// sandboxInit); when the last has been reaped the flag goes back to what it
// was before the first.
var sharedInits struct {
	sync.Mutex
	n        int
	dumpable int
}

// share counts m's init as shared. It reports false when the init must be
// a forked copy instead: when the dumpable flag cannot be read, and when
// shared inits already run and the caller is not root. Those keep the
// address space non-dumpable, which makes root the owner of the /proc files
// of every task using it, this init's uid_map included: an unprivileged
// caller could not write its id maps.
func (m *initMem) share() bool {
	sharedInits.Lock()
	defer sharedInits.Unlock()
	if sharedInits.n > 0 && os.Geteuid() != 0 {
		return false
	}
	if sharedInits.n == 0 {
		d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		if err != nil {
			return false
		}
		sharedInits.dumpable = d
	}
	sharedInits.n++
	m.counted = true
	return true
}

// forkRedump tells whether a forked child must make its copy of our memory
// dumpable again: while shared inits run, our address space is
// non-dumpable, a fork inherits that, and root then owns the child's /proc
// files, so an unprivileged caller could not write its id maps. The copy is
// made dumpable only if we were dumpable before the first shared init, so it
// is no more exposed than we were; it is ours alone, and a sandbox init makes
// itself non-dumpable again before anything runs in its sandbox.
//
// Preconditions: syscall.ForkLock is held (shared inits start under it).
func forkRedump() bool {
	sharedInits.Lock()
	defer sharedInits.Unlock()
	return sharedInits.n > 0 && sharedInits.dumpable == 1
}

func (m *initMem) unshare() {
	sharedInits.Lock()
	defer sharedInits.Unlock()
	m.counted = false
	sharedInits.n--
	if sharedInits.n == 0 && sharedInits.dumpable != 0 {
		unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(sharedInits.dumpable), 0, 0, 0)
	}
}
