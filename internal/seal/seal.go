// Package seal runs programs from sealed in-memory copies, as arachsys
// init's seal(1) does.
//
// A program started from a sealed memfd has /proc/PID/exe pointing at an
// anonymous, immutable copy: nothing that can see the process (for example
// a container root after the process joined the container's namespaces)
// can reach the file on disk through it, let alone overwrite it
// (CVE-2019-5736). The copy stays immutable after the process exits, so
// holding /proc/PID/exe open and waiting does not help an attacker either.
//
// # Use
//
//	path, err := seal.LookPath(argv[0], seal.SearchPath(env))
//	f, err := seal.Open(path)     // a sealed memfd copy, named after path
//	err = seal.Exec(f, argv, env) // returns only on failure
//
// or all three at once with Run. Copy seals an already open file under any
// name (cove's engine uses it for its own executable).
//
// # Executable memfds
//
// Since Linux 6.3 the sysctl vm.memfd_noexec (per PID namespace) decides
// whether a memfd may be executed: 0 allows it, 1 makes memfds
// non-executable unless memfd_create is given MFD_EXEC, 2 forbids
// executable memfds altogether. Copy always asks for MFD_EXEC (and drops
// the flag on older kernels, which do not know it), so sealed execution
// works under 0 and 1; under 2 it fails with ErrNoExec. Where the kernel
// has F_SEAL_EXEC, the copy is sealed against mode changes too.
//
// # Scripts
//
// The kernel runs a "#!" script by starting its interpreter with the
// script's path; for a file executed from a descriptor that path is
// /dev/fd/N. arachsys seal creates the memfd close-on-exec, so the
// interpreter finds /dev/fd/N closed and execution fails with ENOENT.
// This package deliberately differs: for a file that starts with "#!" the
// memfd is left open across exec, so the interpreter can read it. The
// script then runs with that one extra descriptor open, $0 is /dev/fd/N,
// /dev/fd must resolve (a /proc must be mounted), and /proc/PID/exe is the
// interpreter — which is not sealed. Seal the interpreter itself (cove seal
// /bin/sh script) when the exe link is what matters.
//
// Set-user-ID bits and file capabilities do not survive the copy: the
// memfd belongs to the caller and carries neither.
package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// DefaultPath is searched when the environment has no PATH, as with
// _PATH_DEFPATH of <paths.h>.
const DefaultPath = "/usr/bin:/bin"

// ErrUnsupported is returned on systems without memfd sealing.
var ErrUnsupported = errors.New("sealed execution needs Linux")

// ErrNoExec is the reason memfd_create fails under vm.memfd_noexec=2: the
// PID namespace forbids executable memfds, so no sealed copy can run. The
// error that carries it also wraps EACCES.
var ErrNoExec = errors.New("executable memfds are forbidden in this PID namespace (vm.memfd_noexec=2)")

// Error is a failure to run a program, with the step that failed.
type Error struct {
	// Op is the step: "find" (PATH search and the execute check), "open"
	// (reading the program), "memfd_create", "copy", "seal" (making the
	// sealed copy) or "exec".
	Op string
	// Name is the program as given (for "find") or the file being copied.
	Name string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Name, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// SearchPath returns the directory list execvp(3) searches for the
// environment env ("NAME=value" strings): the value of its last PATH, or
// DefaultPath when it has none. A PATH that is set but empty is returned
// as it is: it names the current directory.
func SearchPath(env []string) string {
	path, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path, found = v, true
		}
	}
	if !found {
		return DefaultPath
	}
	return path
}

// ExitCode maps an error from Run, LookPath, Open, Copy or Exec to the
// status a shell would give it: 127 when the program was not found, 126
// when it was found but cannot be read or executed, and 125 when the
// sealed copy itself could not be made (no memfds, vm.memfd_noexec=2, out
// of memory, an unsupported system).
func ExitCode(err error) int {
	var e *Error
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUnsupported) || !errors.As(err, &e):
		return 125
	}
	switch e.Op {
	case "find":
		if errors.Is(e.Err, fs.ErrNotExist) {
			return 127
		}
		return 126
	case "open", "exec":
		return 126
	}
	return 125
}
