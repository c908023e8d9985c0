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

// passSignals passes each caught signal to cmd, which must have started.
func passSignals(c *sigcatch.Catcher, cmd *cove.Cmd) {
	c.Forward(func(s syscall.Signal) { cmd.Signal(s) })
}
