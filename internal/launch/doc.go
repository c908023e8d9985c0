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
//  1. setgroups([]) when Params.ClearGroupsFirst, then setns into each
//     namespace in Params.Setns (user first)
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
//
// # A sandbox init that shares the caller's memory
//
// StartSandbox can run the sandbox init in the caller's own address space
// (Sandbox.Share; amd64): clone3(CLONE_VM|CLONE_CLEAR_SIGHAND) starts it on a
// stack launch maps for it (rawClone3, a few lines of assembly), with no g,
// every signal blocked and default dispositions; its children (hooks, the
// program) are CLONE_VM|CLONE_VFORK children on a second stack. No page table
// is copied, nothing is copied on write afterwards, and the init's exit
// tears down no address space. The rules above then bind harder: the
// caller's runtime runs beside the init, so the init writes nothing into
// shared memory but integers (no pointer stores: a write barrier would use
// the caller's P), it lives on after StartSandbox returns on its own memory
// (initState), and every chain of nosplit calls stays short. The address
// space is non-dumpable while such an init runs: that flag is all that keeps
// a sandbox root holding every capability of its user namespace from
// ptrace, /proc/1/mem and process_vm_readv of the init, that is of the
// caller.
package launch
