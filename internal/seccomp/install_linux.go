package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install sets no_new_privs and installs filter on every thread of the
// calling process (SECCOMP_FILTER_FLAG_TSYNC), for tests and for programs
// that confine themselves. The engine's forked child installs its filter with
// raw system calls instead (see Prog).
//
// Preconditions: filter is a program from Build or Compile and is not empty.
// Postconditions: on success the filter applies to the whole process and all
// its future children, irrevocably.
func Install(filter []unix.SockFilter) error {
	if len(filter) == 0 {
		return errors.New("seccomp: install: empty filter")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: set no_new_privs: %w", err)
	}
	prog := Prog(filter)
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("seccomp: install filter: %w", errno)
	}
	if r != 0 {
		// With TSYNC, a positive result is the id of a thread that could not
		// be synchronised; the filter was not installed anywhere.
		return fmt.Errorf("seccomp: install filter: thread %d cannot be synchronised", r)
	}
	return nil
}
