package cove

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/idmap"
	"github.com/covebox/cove/internal/landlock"
	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/internal/mount"
	"github.com/covebox/cove/internal/procfile"
	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

// running is the state of a started Cmd: either a sandbox init inside the
// launcher (direct) or a re-executed stage 1 (proc).
type running struct {
	// direct; started is released once the init has been reaped
	initPid   int
	started   *launch.Started
	ctl       *os.File // the init's control socket (launch.Started.Control)
	copies    sync.WaitGroup
	closers   []io.Closer
	childEnds []*os.File
	// re-executed stage 1
	proc  *stage.Process
	pidfd int
	// no namespaces: the program is our own child; ownGroup when it leads a
	// session (and process group) of its own; closing release lets the
	// thread that forked it go (see forkHeld)
	plainPid int
	ownGroup bool
	release  chan struct{}
}

// Start starts the program and returns once it is running, or with a
// *SetupError when the sandbox could not be built or the program could not be
// executed.
//
// The sandbox lives until the program exits, Kill is called, the Spec's
// timeout expires, or the calling process dies (by any signal): its init
// watches the process, not the thread that called Start.
func (c *Cmd) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return errors.New("cove: already started")
	}
	c.started = true
	if c.Terminal {
		if f, ok := c.Stdin.(*os.File); !ok || f == nil {
			return &SetupError{Step: "terminal", Code: 125, Err: errors.New("the Terminal field needs Stdin to be a terminal *os.File")}
		}
	}
	p, err := compile(c)
	if err != nil {
		return err
	}
	switch {
	case p.plain, p.light, p.join > 0:
		err = c.startPlain(p)
	case c.ReexecInit || needsReexec(&p.cfg.Payload):
		err = c.startReexec(p)
	default:
		err = c.startDirect(p)
	}
	if err != nil {
		return err
	}
	if t := time.Duration(specOf(c).Lifecycle.Timeout); t > 0 {
		c.timer = time.AfterFunc(t, func() {
			c.mu.Lock()
			c.timedOut = true
			c.mu.Unlock()
			c.kill()
		})
	}
	return nil
}

// needsReexec tells whether the sandbox needs the re-executed Go init:
// Landlock rules are resolved inside the sandbox by Go code.
func needsReexec(pl *stage.Payload) bool {
	return len(pl.Landlock.RO)+len(pl.Landlock.RW)+len(pl.Landlock.Exec) > 0
}

// startDirect runs the sandbox init inside the launcher's child: no second Go
// runtime, no copy of the binary.
func (c *Cmd) startDirect(p *plan) error {
	r := &running{initPid: -1, pidfd: -1}
	ok := false
	defer func() {
		if !ok {
			r.closeAll()
		}
	}()
	files, err := r.stdio(c)
	if err != nil {
		return &SetupError{Step: "stdio", Code: 125, Err: err}
	}
	base, err := mount.ScratchDir(func(d string) (bool, error) {
		st, err := os.Lstat(d)
		return err == nil && st.IsDir(), err
	})
	if err != nil {
		return &SetupError{Step: "mount", Code: 125, Err: err}
	}
	pl := p.cfg.Payload
	pl.OOMScoreAdj = nil // the init sets its own; the program inherits it
	lp, cleanup, err := stage.LaunchParams(&pl, files)
	defer cleanup()
	if err != nil {
		return &SetupError{Step: "prepare", Code: 125, Err: err}
	}
	o := p.opts
	program := p.cfg.Plan.Program(base)
	lp.Sandbox = &launch.Sandbox{
		Cloneflags: o.Cloneflags, UIDMap: o.UIDMap, GIDMap: o.GIDMap, Setgroups: o.Setgroups,
		InitUID: int(o.UID), InitGID: int(o.GID), ClearGroups: o.Setgroups,
		Program: program, Hostname: p.cfg.Hostname, Loopback: p.cfg.Loopback,
		Signals: stage.Forwarded(), WriteMaps: p.writeMaps, TimeNS: specOf(c).Namespaces.Time,
		Share: c.SharedInit || os.Geteuid() == 0,
	}
	if hooks := specOf(c).Hooks.Outside; len(hooks) > 0 {
		write := lp.Sandbox.WriteMaps
		if write == nil {
			sb := lp.Sandbox
			write = func(pid int) error { return launch.WriteIDMaps(pid, sb.UIDMap, sb.GIDMap, sb.Setgroups) }
		}
		lp.Sandbox.WriteMaps = func(pid int) error {
			if err := write(pid); err != nil {
				return err
			}
			return runOutsideHooks(hooks, pid)
		}
	}
	if adj := p.cfg.Payload.OOMScoreAdj; adj != nil {
		lp.Sandbox.InitWrites = append(lp.Sandbox.InitWrites, stage.OOMWrite(*adj))
	}
	st, err := launch.StartSandbox(lp)
	r.closeChildEnds()
	if err != nil {
		return launchError(err, program)
	}
	r.initPid, r.ctl, r.started = st.InitPid, st.Control, st
	c.Pid = st.Pid
	c.run = r
	ok = true
	return nil
}

// stdio returns the program's fd table (in this process's numbering) for
// c's Stdin, Stdout, Stderr and ExtraFiles, with os/exec's rules: nil is
// /dev/null, an *os.File is passed as it is, anything else goes through a
// pipe copied by a goroutine.
func (r *running) stdio(c *Cmd) ([]int, error) {
	var files []int
	null := func(flag int) (int, error) {
		f, err := os.OpenFile(os.DevNull, flag, 0)
		if err != nil {
			return -1, err
		}
		r.closers = append(r.closers, f)
		r.childEnds = append(r.childEnds, f)
		return int(f.Fd()), nil
	}
	// stdin
	switch in := c.Stdin.(type) {
	case nil:
		fd, err := null(os.O_RDONLY)
		if err != nil {
			return nil, err
		}
		files = append(files, fd)
	case *os.File:
		files = append(files, int(in.Fd()))
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		r.childEnds = append(r.childEnds, pr)
		r.closers = append(r.closers, pr, pw)
		files = append(files, int(pr.Fd()))
		go func() {
			io.Copy(pw, in)
			pw.Close()
		}()
	}
	for _, w := range []io.Writer{c.Stdout, c.Stderr} {
		switch out := w.(type) {
		case nil:
			fd, err := null(os.O_WRONLY)
			if err != nil {
				return nil, err
			}
			files = append(files, fd)
		case *os.File:
			files = append(files, int(out.Fd()))
		default:
			pr, pw, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			r.childEnds = append(r.childEnds, pw)
			r.closers = append(r.closers, pr, pw)
			files = append(files, int(pw.Fd()))
			r.copies.Add(1)
			go func() {
				defer r.copies.Done()
				io.Copy(out, pr)
				pr.Close()
			}()
		}
	}
	for _, f := range c.ExtraFiles {
		if f == nil {
			files = append(files, -1)
			continue
		}
		files = append(files, int(f.Fd()))
	}
	return files, nil
}

// closeChildEnds closes our copies of the fds only the program should hold,
// so that the copying goroutines see EOF when the program is done.
func (r *running) closeChildEnds() {
	for _, f := range r.childEnds {
		f.Close()
	}
	r.childEnds = nil
}

func (r *running) closeAll() {
	r.closeChildEnds()
	for _, c := range r.closers {
		c.Close()
	}
	if r.ctl != nil {
		r.ctl.Close()
		r.ctl = nil
	}
}

// launchError turns a launcher failure into a SetupError with cove's exit
// code: 127 when the command does not exist, 126 when it cannot be executed,
// 125 for every other step.
func launchError(err error, program []launch.Insn) error {
	var le *launch.Error
	if !errors.As(err, &le) {
		return &SetupError{Step: "namespaces", Code: 125, Err: explainSpawn(err), Errno: errnoOf(err)}
	}
	se := &SetupError{Step: le.Step.String(), Code: 125, Err: err, Errno: le.Errno}
	switch le.Step {
	case launch.StepExec:
		se.Code = 126
		if le.Errno == unix.ENOENT || le.Errno == unix.ENOTDIR {
			se.Code = 127
		}
	case launch.StepNetNS:
		se.Step = "namespaces"
		se.Err = explainNetNS(err)
	case launch.StepMountProgram:
		if le.Index < len(program) && program[le.Index].Index >= 0 {
			se.Field = fmt.Sprintf("filesystem[%d]", program[le.Index].Index)
			se.Err = fmt.Errorf("%s: %w", program[le.Index].What, le.Errno)
		}
	}
	return se
}

// startPlain starts the program without namespaces: the launcher applies
// the Spec's limits, capabilities, no_new_privs, Landlock (built here, from
// host paths) and seccomp, and the program is our own child.
func (c *Cmd) startPlain(p *plan) error {
	r := &running{initPid: -1, pidfd: -1}
	ok := false
	defer func() {
		if !ok {
			r.closeAll()
		}
	}()
	files, err := r.stdio(c)
	if err != nil {
		return &SetupError{Step: "stdio", Code: 125, Err: err}
	}
	lp, cleanup, err := stage.LaunchParams(&p.cfg.Payload, files)
	defer cleanup()
	if err != nil {
		return &SetupError{Step: "prepare", Code: 125, Err: err}
	}
	lp.Setsid = !c.KeepSession
	if p.join > 0 {
		j, err := openJoin(p.join)
		if err != nil {
			return &SetupError{Step: "join", Field: "join", Code: 125, Err: err, Errno: errnoOf(err)}
		}
		defer j.close()
		lp.Setns, lp.ForkAfterSetns, lp.NonDumpable = j.ns, j.fork, true
		lp.SetGroups = j.setgroups
		// Where the target denies setgroups(2), a privileged caller's
		// groups are dropped before joining, while it still can.
		lp.ClearGroupsFirst = !j.setgroups && os.Geteuid() == 0
	}
	if p.light {
		lp.Clone = &launch.CloneNS{Flags: p.opts.Cloneflags, Loopback: p.cfg.Loopback}
		if p.opts.Cloneflags&unix.CLONE_NEWUSER != 0 {
			lp.Clone.WriteMaps = p.writeMaps
		}
	}
	if ll := p.cfg.Payload.Landlock; len(ll.RO)+len(ll.RW)+len(ll.Exec) > 0 {
		rules := landlock.Rules{RO: existing(ll.RO, ll.SkipMissing), RW: existing(ll.RW, ll.SkipMissing), Exec: existing(ll.Exec, ll.SkipMissing)}
		rs, err := landlock.Prepare(rules)
		if err != nil {
			return &SetupError{Step: "landlock", Field: "security.landlock", Code: 125, Err: err}
		}
		defer rs.Close()
		lp.LandlockFD = rs.FD
	}
	pid, release, err := forkHeld(lp)
	r.closeChildEnds()
	if err != nil {
		var le *launch.Error
		if p.light && !errors.As(err, &le) {
			return &SetupError{Step: "namespaces", Code: 125, Err: explainSpawn(err), Errno: errnoOf(err)}
		}
		return launchError(err, nil)
	}
	r.plainPid, r.ownGroup, r.release = pid, lp.Setsid, release
	c.Pid = pid
	c.run = r
	ok = true
	return nil
}

// forkHeld runs launch.Start on a goroutine locked to its OS thread, and
// keeps that goroutine, and so the thread, until release is closed (once the
// program has been reaped). The program's parent-death signal follows the
// thread that forked it, and Go ends a thread when a goroutine locked to it
// exits: a thread no other goroutine can lock outlives the program however
// the caller's own goroutines use threads.
func forkHeld(lp *launch.Params) (pid int, release chan struct{}, err error) {
	type result struct {
		pid int
		err error
	}
	res := make(chan result)
	release = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		pid, err := launch.Start(lp)
		res <- result{pid, err}
		if err == nil {
			<-release
		}
		runtime.UnlockOSThread()
	}()
	r := <-res
	return r.pid, release, r.err
}

// existing returns the paths of list that exist, or list itself when
// missing paths are errors (the Landlock step reports them).
func existing(list []string, skipMissing bool) []string {
	if !skipMissing {
		return list
	}
	var out []string
	for _, p := range list {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// runOutsideHooks runs each hook with the caller's privileges and COVE_PID
// set to the sandbox init's pid, stopping at the first failure.
func runOutsideHooks(hooks []string, pid int) error {
	for _, h := range hooks {
		cmd := exec.Command("/bin/sh", "-c", h)
		cmd.Env = append(os.Environ(), "COVE_PID="+strconv.Itoa(pid))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("outside hook %q: %v", h, err)
		}
	}
	return nil
}

// startReexec runs the sandbox init as a re-executed, sealed copy of this
// binary (stage 1, Go).
func (c *Cmd) startReexec(p *plan) error {
	exe, err := sealedSelf()
	if err != nil {
		return &SetupError{Step: "seal", Code: 125, Err: err}
	}
	p.opts.Exe = exe
	proc, err := stage.Spawn(&p.cfg, p.opts)
	if err != nil {
		return &SetupError{Step: "namespaces", Code: 125, Err: explainSpawn(err), Errno: errnoOf(err)}
	}
	m, fds, err := proc.Next()
	if err != nil || m.Type != "started" {
		closeFds(fds)
		proc.Kill()
		proc.Wait()
		if err == nil && m.Type == "error" {
			return &SetupError{Step: m.Step, Code: m.Code, Err: errors.New(m.Message), Errno: syscall.Errno(m.Errno)}
		}
		if err == nil {
			err = fmt.Errorf("unexpected %q message", m.Type)
		}
		return &SetupError{Step: "init", Code: 125, Err: fmt.Errorf("sandbox init failed: %w", err)}
	}
	c.run = &running{initPid: -1, proc: proc, pidfd: -1}
	c.Pid = m.HostPid
	if len(fds) > 0 {
		c.run.pidfd = fds[0]
		closeFds(fds[1:])
	}
	return nil
}

// Wait waits for the program to exit and for cove's own processes to be
// gone. It returns nil for status 0, *ExitError otherwise.
func (c *Cmd) Wait() error {
	c.mu.Lock()
	if c.run == nil {
		c.mu.Unlock()
		return errors.New("cove: not started")
	}
	if c.waited {
		c.mu.Unlock()
		return errors.New("cove: Wait was already called")
	}
	c.waited = true
	r := c.run
	c.mu.Unlock()

	var st Status
	var got bool
	var err error
	switch {
	case r.plainPid > 0:
		st, got, err = r.waitPlain()
	case r.proc != nil:
		st, got, err = r.waitReexec()
	default:
		st, got, err = r.waitDirect()
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	timedOut := c.timedOut
	c.mu.Unlock()
	_ = got
	st.TimedOut = timedOut
	c.status = &st
	if st.Code == 0 && !st.TimedOut {
		return nil
	}
	return &ExitError{Status: st}
}

// waitDirect reads the init's exit report and reaps it. If the init was
// killed before reporting (timeout, SIGKILL from outside), its own wait
// status is the sandbox's.
func (r *running) waitDirect() (Status, bool, error) {
	var st Status
	got := false
	for {
		rep, _, err := launch.ReadReport(r.ctl)
		if err != nil {
			break
		}
		if rep.Kind == launch.ReportExited {
			st = Status{Code: int(rep.Code), Signal: syscall.Signal(rep.Sig)}
			got = true
			break
		}
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(r.initPid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return st, got, fmt.Errorf("cove: wait for sandbox init: %w", err)
		}
		break
	}
	r.started.Release()
	r.copies.Wait()
	r.closeAll()
	if !got {
		if ws.Signaled() {
			st = Status{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
		} else {
			st = Status{Code: ws.ExitStatus()}
		}
	}
	return st, got, nil
}

// waitPlain waits for a program started without namespaces, then kills
// what is left of its process group (its session: the launcher made it a
// session leader). Without a PID namespace, a descendant that started a
// session of its own can outlive it.
func (r *running) waitPlain() (Status, bool, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(r.plainPid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Status{}, false, fmt.Errorf("cove: wait: %w", err)
		}
		break
	}
	close(r.release)
	if r.ownGroup {
		unix.Kill(-r.plainPid, unix.SIGKILL)
	}
	r.copies.Wait()
	r.closeAll()
	if ws.Signaled() {
		return Status{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}, true, nil
	}
	return Status{Code: ws.ExitStatus()}, true, nil
}

func (r *running) waitReexec() (Status, bool, error) {
	var st Status
	got := false
	for {
		m, fds, err := r.proc.Next()
		closeFds(fds)
		if err != nil {
			break
		}
		if m.Type == "exit" {
			st = Status{Code: m.Code, Signal: syscall.Signal(m.Signal)}
			got = true
			break
		}
	}
	ps, werr := r.proc.Wait()
	if r.pidfd >= 0 {
		unix.Close(r.pidfd)
	}
	if !got {
		if werr != nil {
			return st, got, werr
		}
		ws := ps.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			st = Status{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
		} else {
			st = Status{Code: ws.ExitStatus()}
		}
	}
	return st, got, nil
}

// Signal sends sig to the program (through the sandbox's init).
func (c *Cmd) Signal(sig os.Signal) error {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return errors.New("cove: not started")
	}
	if r.proc != nil {
		if sig == os.Kill {
			return r.proc.Kill()
		}
		return r.proc.Signal(sig)
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("cove: unsupported signal %v", sig)
	}
	if s == unix.SIGKILL && r.plainPid > 0 && r.ownGroup {
		return unix.Kill(-r.plainPid, s)
	}
	return unix.Kill(r.target(), s)
}

// target is the process Signal signals (but for os.Kill of a program that
// leads its own group): the program when it runs without an init, else the
// sandbox init, which passes signals on.
func (r *running) target() int {
	if r.plainPid > 0 {
		return r.plainPid
	}
	return r.initPid
}

// SignalPidfd returns a new pidfd (pidfd_open(2)) for the process that
// Signal signals other than os.Kill: the sandbox init, which passes signals
// on to the program, or the program when it runs without one. It lets a
// caller signal that process from where Signal cannot be called, such as a
// signal handler. The caller closes it. It fails before Start, when Signal
// works another way (a re-executed stage 1), or without pidfd_open (Linux
// before 5.3).
func (c *Cmd) SignalPidfd() (int, error) {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	switch {
	case r == nil:
		return -1, errors.New("cove: not started")
	case r.proc != nil:
		return -1, errors.New("cove: signals go through stage 1's channel, not a pidfd")
	}
	return unix.PidfdOpen(r.target(), 0)
}

// Kill kills the program and every process in its sandbox.
func (c *Cmd) Kill() error { return c.Signal(os.Kill) }

func (c *Cmd) kill() {
	c.Signal(os.Kill)
}

// Status returns how the program ended, or nil before Wait has returned.
func (c *Cmd) Status() *Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// InitPid returns the host pid of the sandbox's init (its PID 1), or 0.
func (c *Cmd) InitPid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.run == nil:
		return 0
	case c.run.proc != nil:
		return c.run.proc.Pid()
	case c.run.plainPid > 0:
		return 0
	}
	return c.run.initPid
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// sealedSelf returns the process-wide sealed copy of the running binary,
// making it on first use. The copy is immutable once sealed, so sharing it
// between Cmds is safe; making one per Cmd would cost a full copy of the
// binary in memory each time.
var sealedSelf = sync.OnceValues(stage.SealedSelf)

// explainSpawn turns a failure to create the namespaces into a sentence that
// says why and what to do.
func explainSpawn(err error) error {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EINVAL) {
		return err
	}
	if os.Getuid() == 0 && strings.Contains(err.Error(), "uid_map") && !nobodyMapped() {
		// Root of a user namespace such as `unshare -Ur` makes: uid 0
		// maps to someone, 65534 to no one.
		return fmt.Errorf("%w: a root caller's sandbox runs as uid %d on the outside, which is not mapped in this user namespace (see /proc/self/uid_map): pass --map-host-root to map this uid 0 instead, or run cove as another user", err, spec.NobodyID)
	}
	if v, e := readSysctl("kernel/apparmor_restrict_unprivileged_userns"); e == nil && v == "1" {
		return fmt.Errorf("%w: unprivileged user namespaces are disabled by AppArmor (kernel.apparmor_restrict_unprivileged_userns=1): set it to 0, allow cove in an AppArmor profile, or use --no-namespaces (Landlock and seccomp only)", err)
	}
	if v, e := readSysctl("kernel/unprivileged_userns_clone"); e == nil && v == "0" {
		return fmt.Errorf("%w: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0): set it to 1, or use --no-namespaces (Landlock and seccomp only)", err)
	}
	if v, e := readSysctl("user/max_user_namespaces"); e == nil && v == "0" {
		return fmt.Errorf("%w: user namespaces are disabled (user.max_user_namespaces=0): raise it, or use --no-namespaces (Landlock and seccomp only)", err)
	}
	return fmt.Errorf("%w: could not create the sandbox's namespaces (are user namespaces available here? inside a container they are often blocked; --no-namespaces confines the program with Landlock and seccomp instead)", err)
}

// explainNetNS adds what can be done to a failure to create the sandbox's
// network namespace (the init's helper makes it after the other
// namespaces exist).
func explainNetNS(err error) error {
	if v, e := readSysctl("user/max_net_namespaces"); e == nil && v == "0" {
		return fmt.Errorf("%w: network namespaces are disabled (user.max_net_namespaces=0): raise it, or use --net host", err)
	}
	if errors.Is(err, unix.ENOSPC) {
		return fmt.Errorf("%w: the limit on network namespaces (user.max_net_namespaces, here or in an enclosing user namespace) is reached: raise it, or use --net host", err)
	}
	return fmt.Errorf("%w: could not create the sandbox's network namespace: --net host shares the host's instead", err)
}

// nobodyMapped tells whether spec.NobodyID is mapped in this process's
// user namespace (true when that cannot be read: claim nothing then).
func nobodyMapped() bool {
	m, err := idmap.ReadProc("/proc/self/uid_map")
	return err != nil || idmap.Inside(m, spec.NobodyID)
}

func readSysctl(name string) (string, error) {
	b, err := procfile.Read("/proc/sys/" + name)
	return strings.TrimSpace(string(b)), err
}
