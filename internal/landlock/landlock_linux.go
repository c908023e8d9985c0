package landlock

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ruleNetPort is LANDLOCK_RULE_NET_PORT; x/sys/unix lacks it and the struct.
const ruleNetPort = 2

// netPortAttr is struct landlock_net_port_attr (packed; 16 bytes either way).
type netPortAttr struct {
	allowedAccess uint64
	port          uint64
}

// rulesetAttr is the prefix of struct landlock_ruleset_attr cove fills.
type rulesetAttr struct {
	handledAccessFS  uint64
	handledAccessNet uint64
}

// ABI returns the running kernel's Landlock ABI version (1 is Linux 5.13).
// When Landlock is unavailable the error is a [*NotSupportedError] saying
// why.
func ABI() (int, error) {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch e {
	case 0:
		return int(v), nil
	case unix.ENOSYS:
		return 0, &NotSupportedError{Reason: "this kernel has no landlock_create_ruleset system call", MinKernel: "5.13"}
	case unix.EOPNOTSUPP:
		return 0, &NotSupportedError{Reason: "Landlock is built in but disabled at boot", MinKernel: "5.13"}
	default:
		return 0, fmt.Errorf("probe landlock ABI: %w", e)
	}
}

// Ruleset is a prepared ruleset file descriptor (close-on-exec).
type Ruleset struct {
	// FD is the ruleset file descriptor for landlock_restrict_self. It
	// stays valid until Close.
	FD int
	// ABI is the kernel's Landlock ABI version the ruleset was built for.
	ABI int
	// HandledFS and HandledNet are the rights the ruleset restricts.
	HandledFS, HandledNet uint64
	// Note is one line for users: what is enforced and what this kernel
	// cannot enforce.
	Note string
}

// Close releases the file descriptor. Call it after the launcher's child
// has been started (the child holds its own copy).
func (r *Ruleset) Close() error {
	if r == nil || r.FD < 0 {
		return nil
	}
	err := unix.Close(r.FD)
	r.FD = -1
	return err
}

// Prepare builds a ruleset for rules at the kernel's ABI, best effort (see
// the package doc). It opens every path; a missing or unreadable path is an
// error naming the list and the path. When the kernel has no Landlock the
// error matches [ErrNotSupported]; the caller decides whether that is
// fatal. The returned ruleset must be closed by the caller.
func Prepare(rules Rules) (*Ruleset, error) {
	abi, err := ABI()
	if err != nil {
		return nil, err
	}
	rs := &Ruleset{FD: -1, ABI: abi, HandledFS: handledFS(abi)}
	if rules.restrictsTCP() {
		rs.HandledNet = handledNet(abi)
	}
	attr := rulesetAttr{handledAccessFS: rs.HandledFS, handledAccessNet: rs.HandledNet}
	size := unsafe.Sizeof(attr.handledAccessFS)
	if rs.HandledNet != 0 {
		size = unsafe.Sizeof(attr)
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return nil, fmt.Errorf("landlock_create_ruleset: %w", e)
	}
	rs.FD = int(fd)
	lists := []struct {
		name   string
		paths  []string
		access uint64
	}{
		{"ro", rules.RO, accessRead},
		{"rw", rules.RW, accessRW},
		{"exec", rules.Exec, accessExec},
	}
	for _, l := range lists {
		for _, p := range l.paths {
			if err := rs.addPath(p, l.access); err != nil {
				rs.Close()
				return nil, fmt.Errorf("landlock %s path %s: %w", l.name, p, err)
			}
		}
	}
	if rs.HandledNet != 0 {
		for _, port := range rules.BindTCP {
			if err := rs.addPort(port, accessNetBindTCP); err != nil {
				rs.Close()
				return nil, fmt.Errorf("landlock bind TCP port %d: %w", port, err)
			}
		}
		for _, port := range rules.ConnectTCP {
			if err := rs.addPort(port, accessNetConnectTCP); err != nil {
				rs.Close()
				return nil, fmt.Errorf("landlock connect TCP port %d: %w", port, err)
			}
		}
	}
	rs.Note = note(abi, rules)
	return rs, nil
}

func (r *Ruleset) addPath(path string, access uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= accessFile
	}
	attr := unix.LandlockPathBeneathAttr{Allowed_access: access & r.HandledFS, Parent_fd: int32(fd)}
	if attr.Allowed_access == 0 {
		return nil
	}
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(r.FD), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return fmt.Errorf("landlock_add_rule: %w", e)
	}
	return nil
}

func (r *Ruleset) addPort(port uint16, access uint64) error {
	attr := netPortAttr{allowedAccess: access & r.HandledNet, port: uint64(port)}
	if attr.allowedAccess == 0 {
		return nil
	}
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(r.FD), ruleNetPort,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return fmt.Errorf("landlock_add_rule: %w", e)
	}
	return nil
}

func note(abi int, rules Rules) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Landlock ABI %d: files limited to %d read-only, %d read-write and %d executable path(s)",
		abi, len(rules.RO), len(rules.RW), len(rules.Exec))
	if rules.restrictsTCP() && abi >= 4 {
		fmt.Fprintf(&b, "; TCP limited to bind %v, connect %v", rules.BindTCP, rules.ConnectTCP)
	}
	if notes := downgradeNotes(abi, rules.restrictsTCP()); len(notes) > 0 {
		b.WriteString("; this kernel cannot do more: ")
		b.WriteString(strings.Join(notes, "; "))
	}
	return b.String()
}

// RestrictSelf enforces rs on the calling thread: it sets no_new_privs and
// calls landlock_restrict_self(rs.FD, 0), exactly the launcher child's two
// steps. It exists for tests and for single-threaded helpers.
//
// Preconditions: the goroutine is locked to its OS thread
// (runtime.LockOSThread) and stays locked until it exits, so the restricted
// thread is never reused for other goroutines. Only this thread (and
// processes it starts) is restricted; other threads of the process are not.
func RestrictSelf(rs *Ruleset) error {
	if rs == nil || rs.FD < 0 {
		return errors.New("landlock: restrict self: ruleset is closed")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("landlock: set no_new_privs: %w", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(rs.FD), 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}
