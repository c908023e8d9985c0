package cove

import (
	"errors"
	"iter"
	"os"
	"sync"
	"syscall"
)

// EventKind tells what an Event carries.
type EventKind int

// The event kinds.
const (
	// Stdout and Stderr events carry a chunk of the program's output.
	Stdout EventKind = iota + 1
	Stderr
	// Exit is the final event: the program's status, or why it never ran.
	Exit
)

func (k EventKind) String() string {
	switch k {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	case Exit:
		return "exit"
	}
	return "unknown"
}

// Event is one item of Cmd.Events.
type Event struct {
	Kind EventKind
	// Data is an output chunk (Stdout, Stderr); it is not reused.
	Data []byte
	// Code is the exit code, or 128+N when the program was killed by signal
	// N, or the SetupError's code when it never started (Exit).
	Code int
	// Signal is the signal that killed the program, or 0 (Exit).
	Signal syscall.Signal
	// Err is the *SetupError when the program never started, or nil (Exit).
	Err error
}

// Events starts the program with its standard output and error captured
// and yields their chunks in order of arrival, then exactly one Exit event.
// Stopping the iteration early kills the sandbox. Stdout and Stderr must be
// nil.
func (c *Cmd) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		if c.Stdout != nil || c.Stderr != nil {
			err := &SetupError{Step: "events", Code: 125, Err: errors.New("Events needs Stdout and Stderr to be nil")}
			yield(Event{Kind: Exit, Code: 125, Err: err})
			return
		}
		or, ow, err1 := os.Pipe()
		er, ew, err2 := os.Pipe()
		if err1 != nil || err2 != nil {
			for _, f := range []*os.File{or, ow, er, ew} {
				if f != nil {
					f.Close()
				}
			}
			err := &SetupError{Step: "events", Code: 125, Err: errors.Join(err1, err2)}
			yield(Event{Kind: Exit, Code: 125, Err: err})
			return
		}
		c.Stdout, c.Stderr = ow, ew
		err := c.Start()
		ow.Close()
		ew.Close()
		if err != nil {
			or.Close()
			er.Close()
			code := 125
			var se *SetupError
			if errors.As(err, &se) {
				code = se.Code
			}
			yield(Event{Kind: Exit, Code: code, Err: err})
			return
		}
		ch := make(chan Event)
		done := make(chan struct{})
		var wg sync.WaitGroup
		pump := func(f *os.File, k EventKind) {
			defer wg.Done()
			defer f.Close()
			for {
				buf := make([]byte, 32<<10)
				n, err := f.Read(buf)
				if n > 0 {
					select {
					case ch <- Event{Kind: k, Data: buf[:n]}:
					case <-done:
						return
					}
				}
				if err != nil {
					return
				}
			}
		}
		wg.Add(2)
		go pump(or, Stdout)
		go pump(er, Stderr)
		go func() { wg.Wait(); close(ch) }()
		stopped := false
		for ev := range ch {
			if !stopped && !yield(ev) {
				stopped = true
				close(done)
				c.Kill()
			}
		}
		werr := c.Wait()
		if stopped {
			return
		}
		final := Event{Kind: Exit}
		if st := c.Status(); st != nil {
			final.Code, final.Signal = st.Code, st.Signal
		}
		if werr != nil {
			var ee *ExitError
			if !errors.As(werr, &ee) {
				final.Err = werr
			}
		}
		yield(final)
	}
}
