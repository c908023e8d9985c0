package server

import (
	"errors"
	"fmt"
	"time"
)

// SignalMode is how the server relays signals that a client forwards.
type SignalMode int

const (
	// SignalsOff: no relaying (dived's default); a protocol-1100 client
	// kill()s the program itself, which works only for its own uid.
	SignalsOff SignalMode = iota
	// SignalsProcess: deliver to the program (dived -n).
	SignalsProcess
	// SignalsGroup: deliver to the program's process group (dived
	// --signals-pgid). The program leads its own group (it starts a new
	// session), so the server is never in it.
	SignalsGroup
)

// FileWrite is a file written in every program's child before the chroot
// (dived -t): it sees the namespaces joined with Setns.
type FileWrite struct {
	Path, Data string
}

// Rlimit is one resource limit (dived -l): RLIMIT_* number and values.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Policy is the server side of every start: what the server imposes and
// which parts of the client's request it ignores. It is plain data; the zero
// Policy runs the client's program as the client, with everything the client
// sends.
type Policy struct {
	// ForcedArgv is prepended to the client's argv (dived's "-- ARGS").
	// Unless its program is an absolute path it is searched in Path, never
	// in the client's PATH.
	ForcedArgv []string
	// Path is the PATH used to find a forced program (default DefaultPath).
	Path string

	NoClientEnv   bool // -E: the program gets ServerEnv instead of the client's environment
	NoClientArgv  bool // -A: the client's argv is read and discarded
	NoClientCwd   bool // -H: the client's working directory is ignored
	NoClientFDs   bool // -O: the client's descriptors are ignored; the program gets the server's 0, 1, 2
	NoClientUmask bool // -M: the client's umask is ignored

	// ServerEnv is the environment given with NoClientEnv (DIVE_* names
	// are removed from it and set per connection).
	ServerEnv []string

	// ClientRoot (-r) makes the client's root directory the program's root.
	// It forces NoNewPrivs: a client-built root must not meet setuid binaries.
	ClientRoot bool
	// RootToCwd (-W) starts the program in its root directory.
	RootToCwd bool
	// Chroot (-R) is a server-chosen root; Chdir (-h) a server-chosen
	// working directory (resolved before Chroot).
	Chroot, Chdir string

	// Setns (-N) are namespace files joined in order for every program.
	Setns []string
	// Writes (-t, -tt) are written after Setns, before the chroot.
	Writes []FileWrite

	// NoSetuid (-P) keeps the server's own ids and groups.
	NoSetuid bool
	// User (-u) runs programs as this user (name or number) instead of
	// the peer; Groups (-g) sets the primary group (first) and the
	// supplementary list. EffectiveUser (-e) sets only the effective ids.
	User          string
	Groups        []string
	EffectiveUser string

	// Bounding set: with RetainCaps (-B), everything else is dropped; with
	// RemoveCaps (-b), those are dropped. Masks over capability numbers.
	RetainCaps, RemoveCaps       uint64
	HasRetainCaps, HasRemoveCaps bool
	// AmbientCaps (-m) are raised after the id change.
	AmbientCaps []int
	// SetCaps (-c) sets the capability sets after the id change.
	SetCaps                 bool
	CapEff, CapPerm, CapInh uint64
	LockSecurebits          bool // -L
	NoNewPrivs              bool // -X
	Rlimits                 []Rlimit
	NoSetsid, NoCtty        bool // -S, -T
	Signals                 SignalMode
	NoWait                  bool // -w: never report the end
	// Daemon (-D) starts every program under a daemon(0,0)-style helper:
	// not a descendant of the server, outside its session, in "/" unless
	// the client's or -h's directory is used, /dev/null for -O (see
	// DaemonHelperMain).
	Daemon bool
	Auth   string // -a: a shell command run per connection; non-zero drops the client
	// AuthTimeout bounds the auth program (0: no bound; it may ask the
	// user something on the client's terminal).
	AuthTimeout time.Duration
}

// DefaultPath is the PATH used to find a forced program that is not an
// absolute path, and the PATH of a client environment without one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Errors of Validate that front-ends map to dived's exit codes.
var (
	ErrConflict = errors.New("conflicting options")
	ErrInsecure = errors.New("insecure configuration")
)

// Validate checks the policy for contradictions. insecureOK allows the
// configurations dived only warns about (see docs/serve.md).
func (p *Policy) Validate(insecureOK bool) error {
	switch {
	case p.NoSetuid && (p.User != "" || len(p.Groups) > 0 || p.EffectiveUser != ""):
		return fmt.Errorf("%w: --no-setuid with --user, --groups or --effective-user", ErrConflict)
	case p.HasRetainCaps && p.HasRemoveCaps:
		return fmt.Errorf("%w: --retain-capabilities and --remove-capabilities", ErrConflict)
	case p.NoWait && p.Signals != SignalsOff:
		return fmt.Errorf("%w: --no-wait and --signals", ErrConflict)
	case len(p.Groups) > 0 && p.User == "":
		return fmt.Errorf("%w: --groups needs --user", ErrConflict)
	}
	if insecureOK || len(p.ForcedArgv) == 0 || p.NoClientEnv {
		return nil
	}
	if p.NoSetuid || p.EffectiveUser != "" || p.User == "root" || p.User == "0" {
		return fmt.Errorf("%w: a forced command running with the server's or root's privileges must not take the client's environment (LD_PRELOAD); add --no-environment", ErrInsecure)
	}
	return nil
}
