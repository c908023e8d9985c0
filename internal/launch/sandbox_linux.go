package launch

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// atFD turns a register operand into a directory fd: -1 is AT_FDCWD.
//
//go:nosplit
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
func parentGone(sb *preparedSandbox) bool {
	sb.pfd.Fd = int32(sb.ctl)
	sb.pfd.Events = unix.POLLIN
	sb.pfd.Revents = 0
	r1, _, _ := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&sb.pfd)), 1, uintptr(unsafe.Pointer(&sb.zero)), 0, 0, 0)
	return r1 != 0 && sb.pfd.Revents != 0
}

// Started describes a running sandbox started by StartSandbox.
type Started struct {
	// InitPid is the sandbox init's pid (PID 1 inside), in our namespace.
	InitPid int
	// Pid is the program's pid in our namespace.
	Pid int
	// Control is our end of the socket on which the init reports; read the
	// ReportExited with ReadReport. The caller must close it.
	Control int
}

// StartSandbox creates the namespaces in p.Sandbox, runs its init and starts
// the program with the other steps of p. It returns once the program has
// execed, or with an *Error naming the failing step; in that case the init
// has been reaped. Later reports (ReportExited) arrive on Started.Control.
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
	ps, err := prepareSandbox(sb, pr)
	if err != nil {
		return nil, err
	}
	pr.sb = ps
	// The control socket: the init reports on its end; ours receives the
	// program's pid as credentials, translated into our PID namespace.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("launch: control socket: %w", err)
	}
	ctl := pair[0]
	defer func() {
		if pair[1] >= 0 {
			unix.Close(pair[1])
		}
	}()
	if err := unix.SetsockoptInt(ctl, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(ctl)
		return nil, fmt.Errorf("launch: control socket: %w", err)
	}
	ps.ctl = pair[1]
	ok := false
	defer func() {
		if !ok {
			unix.Close(ctl)
		}
	}()
	var sync [2]int
	if err := unix.Pipe2(sync[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("launch: sync pipe: %w", err)
	}
	ps.sync = sync[0]

	syscall.ForkLock.Lock()
	pid, errno := forkExec(pr, -1)
	syscall.ForkLock.Unlock()
	unix.Close(sync[0])
	runtime.KeepAlive(pr)
	runtime.KeepAlive(p)
	if errno != 0 {
		unix.Close(sync[1])
		return nil, os.NewSyscallError("clone", errno)
	}
	write := sb.WriteMaps
	if write == nil {
		write = func(pid int) error { return writeIDMaps(pid, sb) }
	}
	if err := write(pid); err != nil {
		unix.Close(sync[1])
		unix.Kill(pid, unix.SIGKILL)
		reap(pid)
		return nil, err
	}
	unix.Write(sync[1], []byte{1})
	unix.Close(sync[1])

	unix.Close(pair[1])
	pair[1] = -1
	rep, credPid, err := ReadReport(ctl)
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		reap(pid)
		return nil, fmt.Errorf("launch: sandbox init: %w", err)
	}
	switch rep.Kind {
	case ReportStarted:
		ok = true
		return &Started{InitPid: pid, Pid: credPid, Control: ctl}, nil
	case ReportFailed:
		reap(pid)
		e := &Error{Step: Step(rep.Step), Index: int(rep.Index), Errno: syscall.Errno(rep.Errno)}
		switch {
		case e.Step == StepMountProgram && e.Index < len(sb.Program):
			e.Detail = sb.Program[e.Index].What
		case e.Step == StepWrite && e.Index < len(sb.InitWrites):
			e.Detail = sb.InitWrites[e.Index].Path
		default:
			e.Detail = detail(p, e)
		}
		return nil, e
	}
	unix.Kill(pid, unix.SIGKILL)
	reap(pid)
	return nil, fmt.Errorf("launch: unexpected report kind %d from sandbox init", rep.Kind)
}

func reap(pid int) {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != unix.EINTR {
			return
		}
	}
}

// ReadReport reads the next Report from a sandbox's control socket. pid is
// the program's pid from the report's credentials (ReportStarted), in the
// reader's PID namespace. It returns io.EOF-like unix.ECONNRESET-free
// semantics: a closed socket gives an error wrapping os.ErrClosed.
func ReadReport(fd int) (Report, int, error) {
	var rep Report
	buf := (*[unsafe.Sizeof(rep)]byte)(unsafe.Pointer(&rep))[:]
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return rep, 0, err
		}
		if n == 0 {
			return rep, 0, os.ErrClosed
		}
		if n != len(buf) {
			return rep, 0, fmt.Errorf("short report (%d bytes)", n)
		}
		pid := 0
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
	write := func(name, data string) error {
		if err := os.WriteFile(dir+name, []byte(data), 0); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
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

// cstr returns a NUL-terminated copy of s, or a pointer to "" when s is
// empty and emptyOK, or nil.
func cstr(s string, emptyOK bool) (*byte, error) {
	if s == "" && !emptyOK {
		return nil, nil
	}
	return syscall.BytePtrFromString(s)
}

func prepareSandbox(sb *Sandbox, pr *prepared) (*preparedSandbox, error) {
	ps := &preparedSandbox{
		cloneflags: sb.Cloneflags &^ unix.CSIGNAL,
		ctl:        -1, initUID: sb.InitUID, initGID: sb.InitGID,
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
	for _, s := range append([]syscall.Signal{unix.SIGCHLD, unix.SIGIO}, sb.Signals...) {
		if s <= 0 || s > 64 || s == unix.SIGKILL || s == unix.SIGSTOP {
			return nil, fmt.Errorf("launch: cannot forward signal %d", s)
		}
		ps.sigset |= 1 << (uint(s) - 1)
	}
	// The init moves the fds it keeps above every slot, source and register.
	ps.high = pr.nextfd + len(pr.fd) + 1
	maxReg := -1
	for i, in := range sb.Program {
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
		if ri.s1, err = cstr(in.S1, emptyOK); err != nil {
			return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
		}
		if ri.s2, err = cstr(in.S2, false); err != nil {
			return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
		}
		if ri.s3, err = cstr(in.S3, false); err != nil {
			return nil, fmt.Errorf("launch: instruction %d: %w", i, err)
		}
		if ri.s4, err = cstr(in.S4, false); err != nil {
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
	// The Started report: rep in one iovec, our ids in SCM_CREDENTIALS with
	// the pid filled in by the init.
	ps.ctrl = unix.UnixCredentials(&unix.Ucred{Uid: uint32(sb.InitUID), Gid: uint32(sb.InitGID)})
	ps.cred = (*unix.Ucred)(unsafe.Pointer(&ps.ctrl[unix.CmsgLen(0)]))
	ps.iov = unix.Iovec{Base: (*byte)(unsafe.Pointer(&ps.rep))}
	ps.iov.SetLen(int(unsafe.Sizeof(ps.rep)))
	ps.msg.Iov = &ps.iov
	ps.msg.SetIovlen(1)
	ps.msg.Control = &ps.ctrl[0]
	ps.msg.SetControllen(len(ps.ctrl))
	return ps, nil
}
