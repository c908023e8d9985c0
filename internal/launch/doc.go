// Package launch starts a program with a raw fork: a child created by clone(2)
// that runs a precomputed list of system calls and then execve(2).
//
// Go's runtime is multithreaded, and much of the state a sandbox must set is
// per-thread (credentials, capabilities, securebits, no_new_privs, Landlock,
// seccomp) or needs a single-threaded caller (setns into a user namespace). The
// child of a raw fork has exactly one thread, so every step applies to the whole
// process that execs the program. This is the technique of Go's own
// syscall.forkAndExecInChild1, of gVisor's stubs and of criyle/go-sandbox.
//
// # The steps, in order
//
//  1. setns into each namespace in Params.Setns (user first)
//  2. setsid, then the fd table (Params.Files), then TIOCSCTTY on fd 0
//  3. chdir, umask
//  4. rlimits
//  5. securebits (needs CAP_SETPCAP, so before any capability is dropped)
//  6. bounding-set drop (before setuid, which may lose CAP_SETPCAP)
//  7. setgroups, setresgid, setresuid (with keep-caps when caps are kept)
//  8. capset (effective, permitted, inheritable), then the ambient set
//  9. no_new_privs, then landlock_restrict_self
//  10. seccomp (last: the filter need only allow execve and the error report)
//  11. execve of each PATH candidate in turn
//
// A failing step sends (step, errno) to the parent over a close-on-exec pipe;
// Start turns it into an *Error. Success is the pipe's EOF at execve.
//
// # Rules for the child
//
// Between clone and execve the child may only call //go:nosplit functions that
// do not allocate: raw system calls on memory the parent prepared. No closures,
// no defer, no maps, no interface conversions, no append.
package launch
