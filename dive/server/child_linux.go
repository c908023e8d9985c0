package server

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/covebox/cove/internal/launch"
	"golang.org/x/sys/unix"
)

// child is a started program.
type child struct {
	pid  int
	pgrp bool // it leads its own process group (new session)
	// pidfd, when non-nil, is how the child is waited for (without the
	// reaper) and signalled. With the reaper the pid is safe to signal
	// until the reaper marks it exited.
	pidfd *os.File
	done  chan struct{}
	ws    unix.WaitStatus
	// lost: the child's end was not observed (a -D helper died first).
	lost bool
	// selfWait: await reaps the child itself (no reaper, no -D helper).
	selfWait bool

	mu     sync.Mutex
	exited bool
}

// start launches the job's program. The job's descriptors stay open; the
// caller closes them once start returns.
func (s *Server) start(j *job) (*child, error) {
	lp, cleanup, err := s.params(j)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if j.winsize != nil && j.terminal >= 0 {
		_ = unix.IoctlSetWinsize(j.terminal, unix.TIOCSWINSZ, j.winsize)
	}
	if s.cfg.Policy.Daemon {
		return s.startDaemon(lp)
	}
	pid, err := launch.Start(lp)
	if err != nil && lp.Setctty && isStep(err, launch.StepSetctty) {
		// The terminal is another session's controlling terminal (the
		// caller's shell). cove never steals it (dived bug 15): the program
		// runs without a controlling terminal instead.
		lp.Setctty = false
		pid, err = launch.Start(lp)
	}
	if err != nil {
		return nil, launchErr(err)
	}
	return s.watch(pid, lp.Setsid), nil
}

// launchErr turns a launcher error into a StartError.
func launchErr(err error) error {
	var le *launch.Error
	if errors.As(err, &le) {
		name := launchSteps[le.Step]
		if name == "" {
			name = "launch"
		}
		msg := le.Step.String()
		if le.Detail != "" {
			msg += " " + le.Detail
		}
		return &StartError{Step: name, Errno: le.Errno, Err: err, Message: msg}
	}
	return startErr("launch", err)
}

// watch makes the child pid's end observable. Exactly one caller must then
// call await (it reaps the child unless the reaper does); others may wait
// for done.
func (s *Server) watch(pid int, pgrp bool) *child {
	c := &child{pid: pid, pgrp: pgrp, done: make(chan struct{})}
	if s.reaper != nil {
		s.reaper.track(c)
		return c
	}
	if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		c.pidfd = os.NewFile(uintptr(fd), "pidfd")
	}
	c.selfWait = true
	return c
}

// await returns when the child has ended and been reaped. The goroutine
// that serves the request waits itself: no goroutine per child, no
// hand-off between two.
func (c *child) await() {
	if c.selfWait {
		c.wait()
		return
	}
	<-c.done
}

func isStep(err error, st launch.Step) bool {
	var le *launch.Error
	return errors.As(err, &le) && le.Step == st
}

// wait reaps the child: through its pidfd and the runtime's poller when the
// kernel has pidfds (no thread blocks), else with a blocking wait4. Stops
// are not exits: neither way reports them (dived bug 5).
func (c *child) wait() {
	defer close(c.done)
	if c.pidfd != nil {
		if rc, err := c.pidfd.SyscallConn(); err == nil {
			var werr error
			rerr := rc.Read(func(uintptr) bool {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil)
				switch {
				case err == unix.EINTR:
					return false
				case err != nil:
					werr = err
					return true
				case pid == 0:
					return false // readable only once it exits; be safe
				}
				c.ws = ws
				return true
			})
			if rerr == nil && werr == nil {
				c.finish()
				return
			}
		}
	}
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			c.ws = ws
		}
		break
	}
	c.finish()
}

func (c *child) finish() {
	c.mu.Lock()
	c.exited = true
	if c.pidfd != nil {
		c.pidfd.Close()
	}
	c.mu.Unlock()
}

// signal delivers sig to the program, or to its process group when group is
// set and the program leads one. It does nothing once the program is reaped,
// so a reused pid is never hit.
func (c *child) signal(sig syscall.Signal, group bool) error {
	if sig <= 0 || sig > 64 {
		return fmt.Errorf("signal %d out of range", sig)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exited {
		return nil
	}
	if group && c.pgrp {
		return unix.Kill(-c.pid, sig)
	}
	if c.pidfd != nil {
		if rc, err := c.pidfd.SyscallConn(); err == nil {
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = unix.PidfdSendSignal(int(fd), sig, nil, 0) }); err == nil {
				return serr
			}
		}
	}
	return unix.Kill(c.pid, sig)
}
