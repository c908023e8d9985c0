package chain

// DivedExec is dived's just-execute mode (-J/-j) as data: the options apply
// to this process, in dived's per-connection order, then Command replaces it
// (execvp). It is cove exec's machinery (same account database, namespace,
// capability and exec steps) with the steps dived has and cove exec's
// command line does not: file writes after --setns, pivot_root, a new
// session, an effective-only user, a bounding set given on its own, and
// capability sets given as sets. The zero value changes nothing.
type DivedExec struct {
	// Command is the program and its arguments, looked up in PATH.
	Command []string
	// Setns are namespace files joined in order (-N).
	Setns []string
	// Writes are written after Setns (-t, -tt): O_WRONLY|O_CREAT|O_TRUNC.
	Writes []DivedWrite
	// Chdir (-h) is the working directory: with Chroot it is opened before
	// the chroot and entered after it, as dived did.
	Chdir string
	// Chroot (-R) is the new root; the working directory becomes it unless
	// Chdir is set.
	Chroot string
	// PivotRoot and PutOld (-V): pivot_root(PivotRoot, PutOld) after the
	// chroot step.
	PivotRoot, PutOld string
	// Setsid starts a new session (dived's default; -S and -j turn it off).
	Setsid bool
	// Securebits, when SetSecurebits, is written with PR_SET_SECUREBITS (-L).
	SetSecurebits bool
	Securebits    int
	// Rlimits are set with setrlimit (-l).
	Rlimits []DivedRlimit
	// KeepBounding, when SetBounding, is the bounding set to keep (-B, or
	// the complement of -b).
	SetBounding  bool
	KeepBounding uint64
	// NoSetuid (-P) changes no id and no group.
	NoSetuid bool
	// User (-u) and Groups (-g, the first is the primary group) replace
	// this process's ids; without Groups, the user's groups from the host
	// database.
	User   string
	Groups []string
	// EffectiveUser (-e) makes only the effective (and saved) uid and gid
	// the user's; the real ones are User's or this process's.
	EffectiveUser string
	// SetCaps sets the capability sets after the id change (-c); Ambient
	// (-m) are added to all three and raised in the ambient set, as cove
	// serve does for its programs.
	SetCaps                           bool
	Effective, Permitted, Inheritable uint64
	Ambient                           []int
	// NoNewPrivs sets no_new_privs (-X).
	NoNewPrivs bool
}

// DivedWrite is one file written by DivedExec.
type DivedWrite struct {
	Path, Data string
}

// DivedRlimit is one resource limit of DivedExec.
type DivedRlimit struct {
	Resource   int
	Soft, Hard uint64
}
