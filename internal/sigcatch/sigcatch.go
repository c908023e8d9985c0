package sigcatch

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
)

// caught is set by the first Catch: a second one would replace the pipe
// under the first one's handler.
var caught atomic.Bool

// ErrCaught is returned by a second Catch in one process.
var ErrCaught = errors.New("sigcatch: signals already caught in this process")

// Catcher delivers the caught signals in the order they arrived.
type Catcher struct {
	impl
	sigs []syscall.Signal
}

// Catch starts catching sigs (see the package comment for ignored
// signals). It returns the signals it catches in Caught.
func Catch(sigs ...syscall.Signal) (*Catcher, error) {
	return catchSignals(sigs, false)
}

// CatchAll is Catch for signals that are ignored too, as a client that
// stands in for its program (dive) must: it forwards them all.
func CatchAll(sigs ...syscall.Signal) (*Catcher, error) {
	return catchSignals(sigs, true)
}

func catchSignals(sigs []syscall.Signal, ignored bool) (*Catcher, error) {
	// Checked before anything is installed or opened.
	for _, s := range sigs {
		if s <= 0 || s > 64 || s == syscall.SIGKILL || s == syscall.SIGSTOP {
			return nil, fmt.Errorf("sigcatch: signal %d cannot be caught", s)
		}
	}
	if !caught.CompareAndSwap(false, true) {
		return nil, ErrCaught
	}
	c := &Catcher{}
	if err := c.catch(sigs, ignored); err != nil {
		caught.Store(false)
		return nil, err
	}
	return c, nil
}

// Caught lists the signals this Catcher catches: those asked for that were
// not ignored.
func (c *Catcher) Caught() []syscall.Signal { return c.sigs }

// Next blocks until a caught signal arrives and returns it.
func (c *Catcher) Next() (syscall.Signal, error) { return c.next() }

// SendTo makes every caught signal go straight to the process pidfd
// refers to (pidfd_send_signal from the signal handler itself: no
// goroutine, no thread, nothing to wake), for the rest of the process's
// life; signals caught before the call are sent too, in the order they
// came, though one arriving during the call may overtake them. pidfd must
// stay open as long as signals may come. On linux/amd64 only (elsewhere,
// and on kernels before 5.1, it returns an error: use Forward). Call Next
// no more after it, and call it at most once.
func (c *Catcher) SendTo(pidfd int) error { return c.sendTo(pidfd) }

// Forward passes every caught signal to send, on a goroutine of its own,
// for the rest of the process's life.
func (c *Catcher) Forward(send func(syscall.Signal)) {
	go func() {
		for {
			s, err := c.Next()
			if err != nil {
				return
			}
			send(s)
		}
	}()
}
