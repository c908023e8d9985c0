package cove

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/covebox/cove/spec"
)

// Cmd is a program prepared to run in a sandbox. Fields must not change after
// Start.
type Cmd struct {
	// Spec is the sandbox; nil means spec.Default().
	Spec *spec.Spec
	// Path is the program to run, looked up in the sandbox's PATH when it has
	// no slash. Args holds the arguments, Args[0] included.
	Path string
	Args []string
	// Stdin, Stdout, Stderr and ExtraFiles follow os/exec.Cmd's rules: nil
	// means /dev/null, an *os.File is passed as it is, anything else is
	// copied by a goroutine. ExtraFiles[i] becomes fd 3+i; no other fd of the
	// calling process reaches the program.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ExtraFiles     []*os.File
	// Terminal makes Stdin, which must be a terminal (an *os.File), the
	// program's controlling terminal.
	Terminal bool
	// KeepSession leaves the program in the caller's session and process
	// group, sharing its controlling terminal and job control, instead of a
	// session of its own (cove isolate and pseudo, like the arachsys tools).
	// Only for sandboxes without a PID namespace.
	KeepSession bool
	// ReexecInit runs the sandbox's init as a re-executed, sealed copy of
	// this binary (Go code inside the namespaces) instead of inside the
	// launcher's child. It is slower (a second Go runtime and a copy of the
	// binary) and is chosen automatically when the Spec needs it (Landlock
	// rules).
	ReexecInit bool
	// SharedInit lets the sandbox's init share this process's memory even
	// when the caller is not root (a root caller's always does, where the
	// platform allows: amd64, Linux 5.5): starting it then copies no page
	// tables and it uses next to no memory of its own. While such an init
	// runs this process is non-dumpable, so root owns the /proc files of
	// its children until they exec: an unprivileged process could not
	// write the id maps of a child it starts in a new user namespace
	// (os/exec with UidMappings, or a ReexecInit sandbox). Set it only in a
	// process that does no such thing while the sandbox runs, as the cove
	// CLI. Sandboxes started by the same process while one with a shared
	// init runs get a forked init.
	SharedInit bool

	// Pid is the host pid of the program once Start has returned (0 if the
	// kernel could not tell it).
	Pid int

	mu       sync.Mutex
	started  bool
	waited   bool
	run      *running
	timedOut bool
	timer    *time.Timer
	status   *Status
}

// Status is how a program ended.
type Status struct {
	// Code is the exit code, or 128+N when the program was killed by signal N.
	Code int
	// Signal is the signal that killed the program, or 0.
	Signal syscall.Signal
	// TimedOut is true when the Spec's timeout killed the sandbox.
	TimedOut bool
}

// Command returns a Cmd that runs name with args in the sandbox s.
func Command(s *spec.Spec, name string, arg ...string) *Cmd {
	return &Cmd{Spec: s, Path: name, Args: append([]string{name}, arg...)}
}

// Run starts the program and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the program and returns its standard output. A *ExitError
// carries the standard error when Stderr was nil.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("cove: Stdout already set")
	}
	var out, errb bytes.Buffer
	c.Stdout = &out
	captureErr := c.Stderr == nil
	if captureErr {
		c.Stderr = &errb
	}
	err := c.Run()
	var ee *ExitError
	if captureErr && errors.As(err, &ee) {
		ee.Stderr = errb.Bytes()
	}
	return out.Bytes(), err
}

// ExitError reports a program that ran and did not exit with status 0.
type ExitError struct {
	Status
	// Stderr holds the program's standard error when Output collected it.
	Stderr []byte
}

func (e *ExitError) Error() string {
	switch {
	case e.TimedOut:
		return "timed out (killed)"
	case e.Signal != 0:
		return "killed by signal " + signalName(e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// ExitCode returns the exit code, or 128+N when killed by signal N.
func (e *ExitError) ExitCode() int { return e.Code }

// SetupError reports a failure before the program started.
type SetupError struct {
	// Step names what failed: "spec", "mount", "namespaces", "execve", ...
	Step string
	// Field is the Spec field at fault (e.g. "filesystem[3].src"), if known.
	Field string
	// Code is the exit status the cove CLI uses for it: 127 when the command
	// was not found, 126 when it could not be executed, 125 otherwise.
	Code int
	// Err is the underlying error.
	Err error
	// Errno is the kernel's error number, when one is known.
	Errno syscall.Errno
}

func (e *SetupError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Step, e.Err)
}

func (e *SetupError) Unwrap() error { return e.Err }

// ExitCode returns the status the cove CLI exits with for this error.
func (e *SetupError) ExitCode() int { return e.Code }

func signalName(s syscall.Signal) string {
	return fmt.Sprintf("%d (%v)", int(s), s)
}
