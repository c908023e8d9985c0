package launch

import (
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// startNofile is the RLIMIT_NOFILE this process started with, and whether
// it differs from the current one (see StartNofile).
var startNofile = sync.OnceValues(func() (unix.Rlimit, bool) {
	var now, orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &now); err != nil {
		return now, false
	}
	// The Go runtime raises the soft limit to (nearly) the hard limit at
	// start-up and keeps the original privately, for syscall.Exec, which
	// restores it before execve and leaves it restored when execve fails.
	// An exec of the empty path fails at once (ENOENT) and changes nothing
	// else: afterwards the limit in force is the original.
	_ = syscall.Exec("", nil, nil)
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil || orig == now {
		return now, false
	}
	// Give this process its raised limit back.
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, &now, nil); err != nil {
		return orig, true
	}
	return orig, true
})

// StartNofile returns the RLIMIT_NOFILE this process was started with,
// before the Go runtime raised the soft limit, and whether it differs from
// the limit now in force. Programs the launcher starts get that original
// limit back, as os/exec's children do, unless Params.Rlimits sets
// RLIMIT_NOFILE: old programs that use select(2) break on descriptors
// above 1023.
//
// The first call briefly lowers this process's soft limit to the original
// (for a few microseconds, while it is read): call it once early, before
// other goroutines hold many descriptors; later calls return the cached
// value.
func StartNofile() (unix.Rlimit, bool) { return startNofile() }
