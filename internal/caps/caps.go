// Package caps turns capability and securebits names into the exact sets the
// launcher applies.
//
// Everything here is pure data preparation: [Parse], [ParseList] and
// [ParseSecurebits] read user input; [NewPlan] computes the bounding,
// permitted, effective, inheritable and ambient sets and the capset(2)
// payload the launcher's raw child passes to the kernel. The only syscalls
// are the probes in [Last].
//
// # Rules
//
// The inheritable set is empty unless ambient capabilities are requested
// (CVE-2022-29162: a non-empty inheritable set lets a file-capability binary
// regain capabilities the sandbox meant to drop), and ambient is always a
// subset of permitted ∩ inheritable, as the kernel requires.
package caps

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/covebox/cove/internal/suggest"
)

// Cap is a capability number, as in <linux/capability.h> (CAP_CHOWN is 0).
type Cap uint

// MaxCap is the highest capability number a [Set] can hold.
const MaxCap Cap = 63

// Capabilities cove knows by name. Kernels newer than this table may know
// more; those are accepted by number (see [Parse]).
const (
	CHOWN              Cap = 0
	DAC_OVERRIDE       Cap = 1
	DAC_READ_SEARCH    Cap = 2
	FOWNER             Cap = 3
	FSETID             Cap = 4
	KILL               Cap = 5
	SETGID             Cap = 6
	SETUID             Cap = 7
	SETPCAP            Cap = 8
	LINUX_IMMUTABLE    Cap = 9
	NET_BIND_SERVICE   Cap = 10
	NET_BROADCAST      Cap = 11
	NET_ADMIN          Cap = 12
	NET_RAW            Cap = 13
	IPC_LOCK           Cap = 14
	IPC_OWNER          Cap = 15
	SYS_MODULE         Cap = 16
	SYS_RAWIO          Cap = 17
	SYS_CHROOT         Cap = 18
	SYS_PTRACE         Cap = 19
	SYS_PACCT          Cap = 20
	SYS_ADMIN          Cap = 21
	SYS_BOOT           Cap = 22
	SYS_NICE           Cap = 23
	SYS_RESOURCE       Cap = 24
	SYS_TIME           Cap = 25
	SYS_TTY_CONFIG     Cap = 26
	MKNOD              Cap = 27
	LEASE              Cap = 28
	AUDIT_WRITE        Cap = 29
	AUDIT_CONTROL      Cap = 30
	SETFCAP            Cap = 31
	MAC_OVERRIDE       Cap = 32
	MAC_ADMIN          Cap = 33
	SYSLOG             Cap = 34
	WAKE_ALARM         Cap = 35
	BLOCK_SUSPEND      Cap = 36
	AUDIT_READ         Cap = 37
	PERFMON            Cap = 38
	BPF                Cap = 39
	CHECKPOINT_RESTORE Cap = 40
)

// LastKnown is the highest capability in cove's name table.
const LastKnown = CHECKPOINT_RESTORE

// names is indexed by Cap; read-only.
var names = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// ErrUnknown is wrapped by every error about a capability name that is not
// in cove's table.
var ErrUnknown = errors.New("unknown capability")

// String returns the kernel's name, "CAP_NET_ADMIN", or the decimal number
// for a capability newer than cove's table.
func (c Cap) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return strconv.Itoa(int(c))
}

// Parse reads one capability name. It accepts "CAP_NET_ADMIN", "NET_ADMIN"
// and "net_admin" in any case, and a decimal number up to [MaxCap] for
// capabilities newer than cove's name table. "ALL" is not a single
// capability: use [ParseList].
//
// Unknown names give an error wrapping [ErrUnknown] that suggests the
// closest known name.
func Parse(name string) (Cap, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if s == "" {
		return 0, fmt.Errorf("%w: empty name", ErrUnknown)
	}
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		if Cap(n) > MaxCap {
			return 0, fmt.Errorf("%w %q: numbers go up to %d", ErrUnknown, name, MaxCap)
		}
		return Cap(n), nil
	}
	if s == "ALL" || s == "CAP_ALL" {
		return 0, fmt.Errorf("%w %q: ALL names every capability; use it in a list, not as one capability", ErrUnknown, name)
	}
	if !strings.HasPrefix(s, "CAP_") {
		s = "CAP_" + s
	}
	for i, n := range names {
		if n == s {
			return Cap(i), nil
		}
	}
	if best := suggest.Closest(s, names[:]); best != "" {
		return 0, fmt.Errorf("%w %q (did you mean %s?)", ErrUnknown, name, best)
	}
	return 0, fmt.Errorf("%w %q", ErrUnknown, name)
}
