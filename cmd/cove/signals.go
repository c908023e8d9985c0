package main

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/sigcatch"
)

// fatalSignals are the signals that would end cove and that a supervisor
// passes on to its program instead.
var fatalSignals = []syscall.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

// catchSignals catches fatalSignals for a supervisor, before it starts its
// program (see internal/sigcatch: a few system calls, where os/signal cost
// half a millisecond). Signals that cove ignores stay ignored, for cove and
// for its program.
func catchSignals() (*sigcatch.Catcher, error) {
	return sigcatch.Catch(fatalSignals...)
}

// passSignals passes each caught signal to cmd, which must have started:
// from the signal handler itself, through a pidfd of the process cmd.Signal
// signals, when it can (no forwarding goroutine to start and wake: ≈ 0.1 ms
// of every start, docs/bench.md), else through Forward. The pidfd stays
// open for the rest of the process's life.
func passSignals(c *sigcatch.Catcher, cmd *cove.Cmd) {
	if fd, err := cmd.SignalPidfd(); err == nil {
		if c.SendTo(fd) == nil {
			return
		}
		unix.Close(fd)
	}
	c.Forward(func(s syscall.Signal) { cmd.Signal(s) })
}
