// Package landlock prepares a Landlock ruleset in the parent so that the
// launcher's child only has to enforce it.
//
// The parent calls [Prepare], which probes the kernel's Landlock ABI, opens
// every listed path, and builds a ruleset file descriptor with
// landlock_create_ruleset(2) and landlock_add_rule(2). The launcher's
// single-threaded child then runs exactly two steps before execve:
// prctl(PR_SET_NO_NEW_PRIVS, 1) and landlock_restrict_self(fd, 0).
//
// # Access
//
// Everything Landlock can restrict on the running kernel is restricted
// (best effort: rights newer than the kernel's ABI are left out, and
// [Ruleset.Note] says which). Then each list grants:
//
//   - RO: read files, list directories.
//   - Exec: RO plus execute. The payload's own binary, its interpreter and
//     its libraries must be reachable through Exec, or its execve fails.
//   - RW: RO plus create, remove, rename and link within, write, truncate,
//     device ioctls, connecting to UNIX sockets. Not execute.
//
// A path that names a file (not a directory) gets only the file rights of
// its list (read, write, truncate, ioctl, execute).
//
// TCP: when RestrictTCP is set or any port is listed, binding and
// connecting TCP sockets is denied except to the listed ports (Landlock ABI
// 4, Linux 6.7). Other protocols (UDP, UNIX) are not affected.
package landlock

import (
	"errors"
	"fmt"
)

// Rules is what a sandbox asks for. Every path must exist when [Prepare]
// runs; it is opened then, so later renames do not change the rule.
type Rules struct {
	RO   []string `json:"ro,omitempty"`
	RW   []string `json:"rw,omitempty"`
	Exec []string `json:"exec,omitempty"`
	// BindTCP and ConnectTCP are the TCP ports still allowed.
	BindTCP    []uint16 `json:"bind_tcp,omitempty"`
	ConnectTCP []uint16 `json:"connect_tcp,omitempty"`
	// RestrictTCP denies TCP bind and connect even when no port is listed.
	RestrictTCP bool `json:"restrict_tcp,omitempty"`
}

func (r Rules) restrictsTCP() bool {
	return r.RestrictTCP || len(r.BindTCP) > 0 || len(r.ConnectTCP) > 0
}

// ErrNotSupported is matched (errors.Is) by every error saying the kernel
// cannot enforce Landlock; the error itself is a [*NotSupportedError].
var ErrNotSupported = errors.New("landlock not supported")

// NotSupportedError says why Landlock is unavailable.
type NotSupportedError struct {
	// Reason is a sentence about this host, e.g. "disabled at boot".
	Reason string
	// MinKernel is the first Linux release with the missing feature.
	MinKernel string
}

func (e *NotSupportedError) Error() string {
	return fmt.Sprintf("landlock not supported: %s (needs Linux %s or newer built with CONFIG_SECURITY_LANDLOCK=y and landlock in the lsm= boot parameter)",
		e.Reason, e.MinKernel)
}

// Is makes errors.Is(err, ErrNotSupported) true.
func (e *NotSupportedError) Is(target error) bool { return target == ErrNotSupported }

// Filesystem and network rights, as in <linux/landlock.h>.
const (
	accessFSExecute     = 1 << 0
	accessFSWriteFile   = 1 << 1
	accessFSReadFile    = 1 << 2
	accessFSReadDir     = 1 << 3
	accessFSRemoveDir   = 1 << 4
	accessFSRemoveFile  = 1 << 5
	accessFSMakeChar    = 1 << 6
	accessFSMakeDir     = 1 << 7
	accessFSMakeReg     = 1 << 8
	accessFSMakeSock    = 1 << 9
	accessFSMakeFifo    = 1 << 10
	accessFSMakeBlock   = 1 << 11
	accessFSMakeSym     = 1 << 12
	accessFSRefer       = 1 << 13 // ABI 2
	accessFSTruncate    = 1 << 14 // ABI 3
	accessFSIoctlDev    = 1 << 15 // ABI 5
	accessFSResolveUnix = 1 << 16 // ABI 9

	accessNetBindTCP    = 1 << 0 // ABI 4
	accessNetConnectTCP = 1 << 1 // ABI 4

	accessRead  = accessFSReadFile | accessFSReadDir
	accessExec  = accessRead | accessFSExecute
	accessWrite = accessFSWriteFile | accessFSRemoveDir | accessFSRemoveFile |
		accessFSMakeChar | accessFSMakeDir | accessFSMakeReg | accessFSMakeSock |
		accessFSMakeFifo | accessFSMakeBlock | accessFSMakeSym | accessFSRefer |
		accessFSTruncate | accessFSIoctlDev | accessFSResolveUnix
	accessRW = accessRead | accessWrite
	// accessFile is what the kernel accepts in a rule on a non-directory.
	accessFile = accessFSExecute | accessFSWriteFile | accessFSReadFile |
		accessFSTruncate | accessFSIoctlDev
)

// handledFS returns the filesystem rights ABI version abi can restrict.
func handledFS(abi int) uint64 {
	switch {
	case abi <= 0:
		return 0
	case abi == 1:
		return 1<<13 - 1
	case abi == 2:
		return 1<<14 - 1
	case abi <= 4:
		return 1<<15 - 1
	case abi <= 8:
		return 1<<16 - 1
	default:
		return 1<<17 - 1
	}
}

// handledNet returns the TCP rights ABI version abi can restrict.
func handledNet(abi int) uint64 {
	if abi >= 4 {
		return accessNetBindTCP | accessNetConnectTCP
	}
	return 0
}

// downgradeNotes explains, one clause each, what ABI abi cannot restrict
// that a newer kernel would.
func downgradeNotes(abi int, tcp bool) []string {
	var notes []string
	if abi < 2 {
		notes = append(notes, "renaming or linking across directories is always denied (ABI 2, Linux 5.19, makes it controllable)")
	}
	if abi < 3 {
		notes = append(notes, "truncate is not restricted (needs ABI 3, Linux 6.2)")
	}
	if tcp && abi < 4 {
		notes = append(notes, "TCP port rules are not enforced (need ABI 4, Linux 6.7)")
	}
	if abi < 5 {
		notes = append(notes, "device ioctls are not restricted (need ABI 5, Linux 6.10)")
	}
	if abi < 9 {
		notes = append(notes, "connecting to UNIX sockets by path is not restricted (needs ABI 9)")
	}
	return notes
}
