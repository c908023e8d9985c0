package launch

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Params is everything the child needs, prepared by the parent. Zero values
// mean "leave unchanged" except where noted.
type Params struct {
	// Path lists the executable candidates tried in order (the PATH search
	// result, or a single path). Required.
	Path []string
	// Argv and Env are the program's arguments (Argv[0] included) and
	// environment.
	Argv, Env []string

	// Setns holds namespace fds (in the parent) and their CLONE_NEW* type, in
	// the order they must be joined: the user namespace first.
	Setns []Namespace
	// ForkAfterSetns forks once more after the setns step, so that the
	// program is born in a joined PID (or time) namespace: the new process is
	// a sibling (CLONE_PARENT), so it is the caller's child, and Start
	// returns its pid; the intermediate process exits and is reaped.
	ForkAfterSetns bool
	// NonDumpable makes the child non-dumpable from its first step until
	// execve (which resets it): processes in namespaces it joins cannot
	// ptrace it or open its /proc files, such as /proc/PID/exe, which names
	// the caller's binary until execve.
	NonDumpable bool

	// Writes are files written after the setns step (in the joined
	// namespaces) and before chroot: dived's -t, e.g. uid_map contents.
	Writes []FileWrite

	// Chroot changes the root to a path; with UseRootFD, RootFD's
	// directory becomes the root first (fchdir + chroot(".")): dived's -r, a
	// client's root. Both run before the working directory is set and need
	// CAP_SYS_CHROOT. RootFD is a parent fd.
	Chroot    string
	UseRootFD bool
	RootFD    int
	// With UseDirFD, the directory of parent fd DirFD becomes the working
	// directory (after the chroot); Dir, if also set, is applied after it.
	UseDirFD bool
	DirFD    int

	// Setsid starts a new session. Setctty makes the child's fd Ctty (a
	// child fd number, after the fd table step) its controlling terminal;
	// it requires Setsid, and that fd must be a terminal.
	Setsid, Setctty bool
	Ctty            int
	// Files is the child's fd table: child fd i is the parent's fd Files[i];
	// -1 leaves child fd i closed. Every fd not listed is closed at execve.
	Files []int

	// Dir is the working directory ("" = inherit).
	Dir string
	// Umask is the file mode creation mask; -1 leaves it unchanged.
	Umask int

	// Rlimits are set with prlimit64.
	Rlimits []Rlimit
	// SetNice sets the nice value with setpriority(PRIO_PROCESS, 0, Nice).
	SetNice bool
	Nice    int

	// Securebits, when SetSecurebits, is written with PR_SET_SECUREBITS.
	SetSecurebits bool
	Securebits    uint32
	// DropBounding removes every capability not in KeepBounding (0..LastCap)
	// from the bounding set.
	DropBounding bool
	KeepBounding uint64
	LastCap      int

	// Credentials: SetGroups calls setgroups(Groups); UID/GID >= 0 call
	// setresuid/setresgid. SetEffective makes the effective (and saved) ids
	// EUID/EGID instead (dived's -e): setresuid(UID, EUID, EUID).
	SetGroups bool
	Groups    []uint32
	// ClearGroupsFirst empties the supplementary groups before the setns
	// step, while the caller's privilege still applies: a joined user
	// namespace that denies setgroups(2) would otherwise leave the program
	// its caller's groups (root's gid 0 among them). Needs CAP_SETGID.
	ClearGroupsFirst bool
	UID, GID         int
	SetEffective     bool
	EUID, EGID       int

	// SetCaps calls capset with these sets (after setuid), ClearAmbient and
	// Ambient manage the ambient set.
	SetCaps                         bool
	Effective, Permitted, Inherited uint64
	Ambient                         []int

	// NoNewPrivs sets PR_SET_NO_NEW_PRIVS.
	NoNewPrivs bool
	// LandlockFD, when >= 0, is a Landlock ruleset fd (in the parent) the child
	// restricts itself with. Requires NoNewPrivs or CAP_SYS_ADMIN.
	LandlockFD int
	// Seccomp, when non-empty, is the BPF filter installed last.
	Seccomp []unix.SockFilter

	// Pdeathsig is sent to the child when its parent thread dies (0 = none).
	Pdeathsig syscall.Signal

	// Sandbox, when set, makes the child a sandbox init (see Sandbox); the
	// steps above then apply to the program it forks. Use StartSandbox.
	Sandbox *Sandbox

	// Clone, when set (with Start), creates new namespaces for the child
	// itself, which then runs the steps above and execs: no init, as
	// arachsys isolate and pseudo do. Without a new PID namespace the
	// program's orphans go to the host's reaper as usual.
	Clone *CloneNS
}

// CloneNS describes namespaces the child is created in.
type CloneNS struct {
	// Flags are CLONE_NEW* flags (not CLONE_NEWPID: the program would be
	// a PID 1 without an init; use a Sandbox for that).
	Flags uintptr
	// WriteMaps writes the child's id maps (needed with CLONE_NEWUSER); the
	// child waits for it. WriteIDMaps writes them directly; package idmap
	// runs newuidmap/newgidmap for delegated ranges.
	WriteMaps func(pid int) error `json:"-"`
	// Loopback brings up lo in a new network namespace.
	Loopback bool
}

// FileWrite is one file the child writes (O_WRONLY|O_CREAT|O_TRUNC, 0644).
type FileWrite struct {
	Path string
	Data string
}

// Namespace is one namespace to join.
type Namespace struct {
	FD   int
	Type int // CLONE_NEWUSER, CLONE_NEWNS, ...
}

// Rlimit is one limit for prlimit64.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Step names a child step; it is what an *Error reports.
type Step uint32

// The child steps, in the order they run.
const (
	StepNone Step = iota
	StepSetns
	StepSetsid
	StepFiles
	StepSetctty
	StepChdir
	StepUmask
	StepRlimit
	StepSecurebits
	StepBounding
	StepKeepCaps
	StepSetgroups
	StepSetgid
	StepSetuid
	StepCapset
	StepAmbient
	StepNoNewPrivs
	StepLandlock
	StepSeccomp
	StepPdeathsig
	StepExec
	StepWrite
	StepChroot
	StepNice
	// stepPid is not a failure: the intermediate process of ForkAfterSetns
	// reports the program's pid (in Index) with it.
	stepPid
)

// initStepNames are indexed by step - StepSync.
var initStepNames = [...]string{
	"wait for id maps", "init credentials", "mount", "sethostname",
	"bring up lo", "block signals", "fork program", "create network namespace",
}

var stepNames = [...]string{
	StepNone: "none", StepSetns: "setns", StepSetsid: "setsid", StepFiles: "fd table",
	StepSetctty: "set controlling terminal", StepChdir: "chdir", StepUmask: "umask",
	StepRlimit: "setrlimit", StepSecurebits: "securebits", StepBounding: "drop bounding set",
	StepKeepCaps: "keep capabilities", StepSetgroups: "setgroups", StepSetgid: "setgid",
	StepSetuid: "setuid", StepCapset: "capset", StepAmbient: "ambient capabilities",
	StepNoNewPrivs: "no_new_privs", StepLandlock: "landlock", StepSeccomp: "seccomp",
	StepPdeathsig: "pdeathsig", StepExec: "execve", StepWrite: "write file", StepChroot: "chroot", StepNice: "setpriority",
}

func (s Step) String() string {
	if int(s) < len(stepNames) {
		return stepNames[s]
	}
	if s >= StepSync && int(s-StepSync) < len(initStepNames) {
		return initStepNames[s-StepSync]
	}
	return fmt.Sprintf("step %d", uint32(s))
}

// Error is a failure of one child step. Index tells which element of a list
// (Setns, Rlimits, Path) failed, when the step has one.
type Error struct {
	Step  Step
	Index int
	Errno syscall.Errno
	// Detail is the parent's description of the failing element (a path, a
	// limit name); it may be empty.
	Detail string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s %s: %v", e.Step, e.Detail, e.Errno)
	}
	return fmt.Sprintf("%s: %v", e.Step, e.Errno)
}

// Unwrap returns the errno, so errors.Is(err, syscall.ENOENT) works.
func (e *Error) Unwrap() error { return e.Errno }
