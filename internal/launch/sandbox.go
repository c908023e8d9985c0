package launch

import "syscall"

// Sandbox asks Start to create new namespaces and to run a sandbox init in
// the child before the program: the child maps its ids (written by the
// parent), runs a mount program, sets the hostname, brings up lo, and then
// forks the program and stays as its PID 1, reaping zombies and forwarding
// signals, all in raw system calls. No second Go runtime starts.
type Sandbox struct {
	// Cloneflags are CLONE_NEW* flags; CLONE_NEWUSER and CLONE_NEWPID are
	// required.
	Cloneflags uintptr
	// UIDMap and GIDMap are written to /proc/PID/{uid,gid}_map by the
	// parent; Setgroups writes "allow" (else "deny") to /proc/PID/setgroups.
	// WriteMaps, when set, writes them instead (newuidmap/newgidmap for
	// delegated ranges).
	UIDMap, GIDMap []syscall.SysProcIDMap
	Setgroups      bool
	WriteMaps      func(pid int) error `json:"-"`
	// TimeNS gives the program a new time namespace: the init unshares it
	// before forking the program (clone(2) cannot carry CLONE_NEWTIME).
	TimeNS bool
	// InitUID and InitGID are the init's ids inside; it keeps every
	// capability of the new user namespace. ClearGroups empties its
	// supplementary groups (needs Setgroups).
	InitUID, InitGID int
	ClearGroups      bool
	// InitWrites are written by the init first, while its /proc/self files
	// are still its own (a uid change or PR_SET_DUMPABLE 0 gives them to
	// root): /proc/self/oom_score_adj, which the program inherits.
	InitWrites []FileWrite
	// Program is the mount program, run in order.
	Program []Insn
	// Hostname is set when not empty; Loopback brings up lo.
	Hostname string
	Loopback bool
	// Signals are forwarded to the program; SIGCHLD is handled.
	Signals []syscall.Signal
	// Share runs the init in the caller's address space when the
	// architecture and kernel allow it (see StartSandbox), instead of in a
	// forked copy. An unprivileged caller gets a forked copy anyway while
	// another shared init runs.
	Share bool
}

// InsnOp is a mount program instruction.
type InsnOp uint32

// The mount program instructions. Registers hold fds; -1 as a register
// operand means AT_FDCWD.
const (
	OpMount     InsnOp = iota + 1 // mount(S1, S2, S3, Flags, S4)
	OpMkdir                       // mkdir(S1, Flags)
	OpPivotRoot                   // pivot_root(S1, S2)
	OpChdir                       // chdir(S1)
	OpUmount                      // umount2(S1, Flags)
	OpOpen                        // R = openat(A, S1, Flags, mode Flags2)
	OpOpenAt2                     // R = openat2(A, S1, Flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)
	OpEnsure                      // R = openat2(A, S1, O_PATH...); on ENOENT create S2 in B (dir if Flags2&1) and retry
	OpOpenTree                    // R = open_tree(A, "", Flags)
	OpSetattr                     // mount_setattr(R, "", Flags, {attr_set: Flags2})
	OpFsopen                      // R = fsopen(S1, FSOPEN_CLOEXEC)
	OpFsconfig                    // fsconfig(R, Flags, S1|NULL, S2|NULL, 0)
	OpFsmount                     // R = fsmount(A, FSMOUNT_CLOEXEC, Flags)
	OpMoveMount                   // move_mount(A, "", R, "", F_EMPTY_PATH|T_EMPTY_PATH)
	OpSymlink                     // symlinkat(S1, A, S2)
	OpClose                       // close(R)
	OpFchdir                      // fchdir(R)
	OpFchmod                      // fchmod(R, Flags)
	OpWrite                       // write(R, S1) until done
	// OpRun runs "/bin/sh -c S1" in a child whose working directory is R
	// and whose root is the host root (at /old while the program runs): a
	// hook inside the new namespaces before the pivot. A non-zero exit
	// fails with ECANCELED.
	OpRun
	// OpDetach is umount2(S1, Flags) for the old root's detach, the last
	// mount step: an init that shares the caller's memory runs it once it
	// has started the program (whose own set-up overlaps the kernel's
	// grace period), and the program waits for it before anything of its
	// own runs (Landlock, seccomp, execve). Elsewhere it runs in place.
	OpDetach
)

// Insn is one mount program instruction. Strings are converted to C strings
// by the parent; an empty string in a path position is passed as "".
type Insn struct {
	Op            InsnOp
	R, A, B       int
	S1, S2, S3    string
	S4            string
	Flags, Flags2 uint64
	// Ignore is an errno the instruction treats as success (EEXIST for
	// idempotent creation), 0 for none.
	Ignore syscall.Errno
	// SkipOnFail makes a failure skip this and the following instructions
	// of the same Index instead of failing the program (an optional mount
	// the kernel refuses).
	SkipOnFail bool
	// Index is the Spec filesystem operation this instruction belongs to
	// (-1 for the setup around them); What says what it does, for errors.
	Index int
	What  string
}

// Report is what a sandbox init writes on its Control socket.
type Report struct {
	Kind  uint32 // ReportStarted, ReportFailed, ReportExited
	Step  uint32 // Failed: the Step
	Index uint32 // Failed: the index (instruction, fd slot, ...)
	Errno uint32 // Failed: errno
	Code  uint32 // Exited: exit code
	Sig   uint32 // Exited: killing signal, or 0
}

// Report kinds.
const (
	ReportStarted uint32 = iota + 1
	ReportFailed
	ReportExited
)

// Init-only steps (and, for StepSync and StepLoopback, CloneNS steps),
// reported in Report.Step.
const (
	StepSync Step = iota + 100
	StepInitCreds
	StepMountProgram
	StepHostname
	StepLoopback
	StepSignals
	StepFork
	// StepNetNS: creating the sandbox's network namespace, when the init
	// leaves that to a helper (see initState.netHelper).
	StepNetNS
)
