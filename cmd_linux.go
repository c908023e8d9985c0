package cove

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/stage"
)

// running is the state of a started Cmd.
type running struct {
	proc  *stage.Process
	pidfd int
}

// Start starts the program and returns once it is running, or with a
// *SetupError when the sandbox could not be built or the program could not be
// executed.
//
// The sandbox's init is killed when the thread that called Start exits; call
// Start from a goroutine that is not locked to a thread it will give up (the
// main goroutine is always safe).
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
	c.run = &running{proc: proc, pidfd: -1}
	c.Pid = m.HostPid
	if len(fds) > 0 {
		c.run.pidfd = fds[0]
		closeFds(fds[1:])
	}
	if t := time.Duration(specOf(c).Lifecycle.Timeout); t > 0 {
		c.timer = time.AfterFunc(t, func() {
			c.mu.Lock()
			c.timedOut = true
			c.mu.Unlock()
			proc.Kill()
		})
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
	if c.timer != nil {
		c.timer.Stop()
	}
	if r.pidfd >= 0 {
		unix.Close(r.pidfd)
	}
	c.mu.Lock()
	timedOut := c.timedOut
	c.mu.Unlock()
	if !got {
		// Stage 1 ended without reporting: it was killed (timeout, or from
		// outside); its own status is the sandbox's.
		if werr != nil {
			return werr
		}
		ws := ps.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			st = Status{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
		} else {
			st = Status{Code: ws.ExitStatus()}
		}
	}
	st.TimedOut = timedOut
	c.status = &st
	if st.Code == 0 && !st.TimedOut {
		return nil
	}
	return &ExitError{Status: st}
}

// Signal sends sig to the program (through the sandbox's init).
func (c *Cmd) Signal(sig os.Signal) error {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r == nil {
		return errors.New("cove: not started")
	}
	if sig == os.Kill {
		return r.proc.Kill()
	}
	return r.proc.Signal(sig)
}

// Kill kills the program and every process in its sandbox.
func (c *Cmd) Kill() error { return c.Signal(os.Kill) }

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
	if c.run == nil {
		return 0
	}
	return c.run.proc.Pid()
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
	if v, e := readSysctl("kernel/apparmor_restrict_unprivileged_userns"); e == nil && v == "1" {
		return fmt.Errorf("%w: unprivileged user namespaces are disabled by AppArmor (kernel.apparmor_restrict_unprivileged_userns=1): set it to 0, or allow cove in an AppArmor profile", err)
	}
	if v, e := readSysctl("kernel/unprivileged_userns_clone"); e == nil && v == "0" {
		return fmt.Errorf("%w: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0): set it to 1", err)
	}
	if v, e := readSysctl("user/max_user_namespaces"); e == nil && v == "0" {
		return fmt.Errorf("%w: user namespaces are disabled (user.max_user_namespaces=0): raise it", err)
	}
	return fmt.Errorf("%w: could not create the sandbox's namespaces (are user namespaces available here? inside a container they are often blocked)", err)
}

func readSysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + name)
	return strings.TrimSpace(string(b)), err
}

var _ io.Reader = (*os.File)(nil)
