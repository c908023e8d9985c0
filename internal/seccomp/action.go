package seccomp

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// ActionKind is what the kernel does with a matching system call.
type ActionKind uint8

// Action kinds, in the policy language's spelling.
const (
	ActAllow       ActionKind = iota // "allow": run the call
	ActErrno                         // "errno N|ENAME" (and "deny" = "errno EPERM"): fail with that errno
	ActKillProcess                   // "kill-process": SIGSYS-kill the whole process
	ActKillThread                    // "kill-thread": kill only the calling thread
	ActTrap                          // "trap": deliver SIGSYS to the thread
	ActLog                           // "log": run the call and log it (audit)
)

// maxErrno is the largest errno the kernel passes back (MAX_ERRNO).
const maxErrno = 4095

// Action is a seccomp verdict. Errno is meaningful only for ActErrno.
type Action struct {
	Kind  ActionKind
	Errno uint16
}

// Common actions.
var (
	Allow = Action{Kind: ActAllow}
	// Deny is the policy language's "deny": fail with EPERM.
	Deny = Action{Kind: ActErrno, Errno: uint16(unix.EPERM)}
)

// Errno returns the action that fails a call with errno e.
func Errno(e unix.Errno) Action { return Action{Kind: ActErrno, Errno: uint16(e)} }

// ret returns the SECCOMP_RET_* value for the action.
func (a Action) ret() uint32 {
	switch a.Kind {
	case ActAllow:
		return unix.SECCOMP_RET_ALLOW
	case ActErrno:
		return unix.SECCOMP_RET_ERRNO | uint32(a.Errno)
	case ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS
	case ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD
	case ActTrap:
		return unix.SECCOMP_RET_TRAP
	case ActLog:
		return unix.SECCOMP_RET_LOG
	}
	// Unreachable for actions built by this package; fail closed.
	return unix.SECCOMP_RET_KILL_PROCESS
}

// String returns the action in the policy language's spelling.
func (a Action) String() string {
	switch a.Kind {
	case ActAllow:
		return "allow"
	case ActErrno:
		for name, n := range errnoNames() {
			if n == a.Errno && unix.ErrnoName(unix.Errno(n)) == name {
				return "errno " + name
			}
		}
		return "errno " + strconv.Itoa(int(a.Errno))
	case ActKillProcess:
		return "kill-process"
	case ActKillThread:
		return "kill-thread"
	case ActTrap:
		return "trap"
	case ActLog:
		return "log"
	}
	return fmt.Sprintf("action(%d)", a.Kind)
}

// parseErrno accepts an errno name (EPERM) or a decimal number 0..4095.
func parseErrno(tok string) (uint16, error) {
	if n, ok := errnoNames()[tok]; ok {
		return n, nil
	}
	n, err := strconv.ParseUint(tok, 10, 16)
	if err != nil || n > maxErrno {
		return 0, fmt.Errorf("bad errno %q: want a name such as EPERM or a number 0..%d", tok, maxErrno)
	}
	return uint16(n), nil
}
