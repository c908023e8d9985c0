package seccomp

import "golang.org/x/sys/unix"

// Prog wraps a filter for the seccomp(2) and prctl(PR_SET_SECCOMP) calls.
//
// Preconditions: len(f) is at most 4096 (Compile never returns more). The
// result points into f's backing array, so f must stay reachable and
// unmodified until the filter is installed.
func Prog(f []unix.SockFilter) *unix.SockFprog {
	p := &unix.SockFprog{Len: uint16(len(f))}
	if len(f) > 0 {
		p.Filter = &f[0]
	}
	return p
}
