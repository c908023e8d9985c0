// Package registry names running sandboxes: `cove contain --name`,
// `cove run --name`, `cove ps` and `cove inject NAME`.
//
// # Where
//
// One directory per user: $XDG_RUNTIME_DIR/cove when XDG_RUNTIME_DIR is
// set, else /run/cove for root and /run/user/UID/cove for other users
// when that exists, else /tmp/cove-UID (no login session: su, containers).
// The registry directory must belong to the caller with mode 0700, and its
// parent must be the caller's with mode 0700 (XDG_RUNTIME_DIR,
// /run/user/UID), root's and not writable by others (/run), or sticky
// (/tmp; a directory someone else made under the caller's name there is
// refused, never trusted). It is opened once, without following a symlink,
// and every later access is relative to that descriptor, so nobody can
// swap it for another directory behind cove's back.
//
// # What
//
// One JSON file per name, NAME.json (mode 0600), written to a temporary
// file and renamed into place: a reader sees the old record or the new
// one, never half of one. A file lock on the directory serialises
// registrations, removals and pruning between cove processes.
//
// # Identity
//
// A record names the container's program by kernel facts, never by
// anything the program controls: its pid, its start time
// (/proc/PID/stat, in clock ticks after boot) and the device and inode of
// its PID, user and mount namespaces. firejail identified sandboxes by
// process name and environment, and a user could build a fake "sandbox"
// in a user namespace of their own that `firejail --join` then entered
// with root's rights (CVE-2022-31214).
//
// Every use of a record checks it again through a pidfd: the pidfd is
// opened first, the start time and the namespaces are compared, and the
// process must still be alive afterwards. A process that is alive after
// the checks is the one the pidfd refers to, so a pid that was reused,
// or a process in other namespaces, is never taken for the container.
// The program's user namespace must also be owned by the caller.
// Records that fail these checks are stale: the container is gone (its
// supervisor normally removes its record; one that was SIGKILLed cannot)
// and the record is deleted by the next List or Lookup.
package registry

import (
	"errors"
	"fmt"
	"time"
)

// MaxNameLen is the longest name: a name is also the default hostname,
// which the kernel limits to 64 bytes.
const MaxNameLen = 64

// ErrNotFound is wrapped when no live container has the name.
var ErrNotFound = errors.New("no such container")

// ErrGone is wrapped when Describe finds the program already gone.
var ErrGone = errors.New("process is gone")

// ErrNotYours is wrapped when a record names a process whose namespaces
// the caller may not inspect or does not own.
var ErrNotYours = errors.New("does not belong to you")

// InUseError reports a name held by a live container.
type InUseError struct {
	Name string
	PID  int // the container's program
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("name %s is in use by pid %d", e.Name, e.PID)
}

// NSID identifies a namespace: the device and inode of /proc/PID/ns/TYPE.
type NSID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// Identity names one process for as long as it lives.
type Identity struct {
	PID int `json:"pid"`
	// StartTime is field 22 of /proc/PID/stat: clock ticks after boot.
	StartTime uint64 `json:"start_time"`
	PIDNS     NSID   `json:"pid_ns"`
	UserNS    NSID   `json:"user_ns"`
	MntNS     NSID   `json:"mnt_ns"`
}

// Record is one named container.
type Record struct {
	Name string `json:"name"`
	// Program is the container's program: what cove inject joins, and the
	// process whose identity is the container's. Its user namespace
	// belongs to UID.
	Program Identity `json:"program"`
	// Init is the host pid of the container's init (its PID 1), 0 for a
	// sandbox without one.
	Init int `json:"init_pid,omitempty"`
	// Supervisor is the cove process that started the container and
	// removes this record when it ends.
	Supervisor int `json:"supervisor_pid"`
	// Rootfs is the container's root directory ("" for cove run).
	Rootfs string `json:"rootfs,omitempty"`
	// Profile is the cove run profile, if one was named.
	Profile string `json:"profile,omitempty"`
	// UID is the caller that registered the container.
	UID     int       `json:"uid"`
	Created time.Time `json:"created"`
}

// ValidateName checks a container name: 1 to 64 characters among ASCII
// letters, digits, '_', '.' and '-', starting with a letter or a digit,
// and not only digits (a TARGET made of digits is a pid).
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%q is longer than %d characters", name, MaxNameLen)
	case !alnum(name[0]):
		return fmt.Errorf("%q must start with a letter or a digit", name)
	}
	digits := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !alnum(c) && c != '_' && c != '.' && c != '-' {
			return fmt.Errorf("%q has %q: use letters, digits, '_', '.' and '-'", name, name[i:i+1])
		}
		if c < '0' || c > '9' {
			digits = false
		}
	}
	if digits {
		return fmt.Errorf("%q is only digits, which would read as a pid", name)
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
