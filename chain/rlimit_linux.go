package chain

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// rlimitNames maps cove's short resource names (those of prlimit(1) and systemd's Limit*=) to
// RLIMIT_* numbers.
var rlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// getrlimit and setrlimit go through package syscall (not x/sys/unix) so that the Go runtime
// learns about an explicit RLIMIT_NOFILE change and does not restore its startup value at exec.
func getrlimit(res int) (syscall.Rlimit, error) {
	var r syscall.Rlimit
	err := syscall.Getrlimit(res, &r)
	return r, err
}

func setrlimit(res int, r syscall.Rlimit) error { return syscall.Setrlimit(res, &r) }

// scanULong parses digits the way djb's scan_ulong is used by softlimit and chpst: the whole
// string must be digits; the empty string is 0; values past 2^64-1 saturate (they are clamped to
// the hard limit anyway).
func scanULong(s string) (uint64, bool) {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			n = math.MaxUint64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// softLimit sets the soft limit of res to value clamped to the hard limit, or to the hard limit
// itself when toHard is set — the semantics shared by daemontools softlimit, s6-softlimit and
// chpst.
func softLimit(res int, value uint64, toHard bool) error {
	r, err := getrlimit(res)
	if err != nil {
		return stepErr("getrlimit", err)
	}
	if toHard || value > r.Max {
		r.Cur = r.Max
	} else {
		r.Cur = value
	}
	if err := setrlimit(res, r); err != nil {
		return stepErr("setrlimit", err)
	}
	return nil
}

// softlimitResources maps softlimit's option letters to the resources each one sets, in the
// order the originals set them (-m is data, stack, memlock and address space).
func softlimitResources(letter byte) []int {
	switch letter {
	case 'a':
		return []int{unix.RLIMIT_AS}
	case 'c':
		return []int{unix.RLIMIT_CORE}
	case 'd':
		return []int{unix.RLIMIT_DATA}
	case 'f':
		return []int{unix.RLIMIT_FSIZE}
	case 'l':
		return []int{unix.RLIMIT_MEMLOCK}
	case 'm':
		return []int{unix.RLIMIT_DATA, unix.RLIMIT_STACK, unix.RLIMIT_MEMLOCK, unix.RLIMIT_AS}
	case 'o':
		return []int{unix.RLIMIT_NOFILE}
	case 'p':
		return []int{unix.RLIMIT_NPROC}
	case 'r':
		return []int{unix.RLIMIT_RSS}
	case 's':
		return []int{unix.RLIMIT_STACK}
	case 't':
		return []int{unix.RLIMIT_CPU}
	}
	return nil
}

// rlimitSetting is one `--rlimit NAME=SOFT[:HARD]` of cove exec.
type rlimitSetting struct {
	name     string
	resource int
	soft     uint64
	hard     uint64
	setHard  bool // HARD was given; otherwise the hard limit is left alone
}

// parseRlimitValue parses a limit: a decimal number, or unlimited/infinity/inf.
func parseRlimitValue(s string) (uint64, error) {
	switch strings.ToLower(s) {
	case "unlimited", "infinity", "inf":
		return unix.RLIM_INFINITY, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or \"unlimited\"", s)
	}
	return n, nil
}

// parseRlimit parses NAME=SOFT[:HARD]. NAME is a short name (nofile) or RLIMIT_NOFILE, in any case.
func parseRlimit(spec string) (rlimitSetting, error) {
	name, value, ok := strings.Cut(spec, "=")
	if !ok {
		return rlimitSetting{}, fmt.Errorf("--rlimit %q: want NAME=SOFT[:HARD]", spec)
	}
	key := strings.TrimPrefix(strings.ToLower(name), "rlimit_")
	res, ok := rlimitNames[key]
	if !ok {
		return rlimitSetting{}, fmt.Errorf("--rlimit %q: unknown resource %q (known: as core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack)", spec, name)
	}
	s := rlimitSetting{name: key, resource: res}
	softStr, hardStr, hasHard := strings.Cut(value, ":")
	var err error
	if s.soft, err = parseRlimitValue(softStr); err != nil {
		return rlimitSetting{}, fmt.Errorf("--rlimit %s: soft limit %w", spec, err)
	}
	if hasHard {
		if s.hard, err = parseRlimitValue(hardStr); err != nil {
			return rlimitSetting{}, fmt.Errorf("--rlimit %s: hard limit %w", spec, err)
		}
		if s.soft > s.hard {
			return rlimitSetting{}, fmt.Errorf("--rlimit %s: soft limit above hard limit", spec)
		}
		s.setHard = true
	}
	return s, nil
}

// apply sets the limit. Without a hard value the hard limit is kept and a soft value above it is
// an error (cove never clamps silently; softlimit's personalities do, as the originals).
func (s rlimitSetting) apply() error {
	r, err := getrlimit(s.resource)
	if err != nil {
		return fmt.Errorf("getrlimit %s: %w", s.name, err)
	}
	r.Cur = s.soft
	if s.setHard {
		r.Max = s.hard
	} else if r.Cur > r.Max {
		return fmt.Errorf("rlimit %s: soft limit %d above hard limit %d (give SOFT:HARD to raise the hard limit)", s.name, s.soft, r.Max)
	}
	if err := setrlimit(s.resource, r); err != nil {
		return fmt.Errorf("setrlimit %s: %w", s.name, err)
	}
	return nil
}
