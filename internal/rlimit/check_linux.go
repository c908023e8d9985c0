package rlimit

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/procfile"
)

// resources matches names; read-only.
var resources = [...]int{
	unix.RLIMIT_AS, unix.RLIMIT_CORE, unix.RLIMIT_CPU, unix.RLIMIT_DATA,
	unix.RLIMIT_FSIZE, unix.RLIMIT_LOCKS, unix.RLIMIT_MEMLOCK, unix.RLIMIT_MSGQUEUE,
	unix.RLIMIT_NICE, unix.RLIMIT_NOFILE, unix.RLIMIT_NPROC, unix.RLIMIT_RSS,
	unix.RLIMIT_RTPRIO, unix.RLIMIT_RTTIME, unix.RLIMIT_SIGPENDING, unix.RLIMIT_STACK,
}

// Resolve returns limits with every kept half (KeepSoft, KeepHard) replaced
// by the calling process's current value, read with getrlimit(2). The
// launcher's child inherits these current values, so this is what it will
// apply.
func Resolve(limits []Limit) ([]Limit, error) {
	out := make([]Limit, len(limits))
	for i, l := range limits {
		if l.KeepSoft || l.KeepHard {
			var cur unix.Rlimit
			if err := unix.Getrlimit(l.Resource, &cur); err != nil {
				return nil, fmt.Errorf("rlimit %s: getrlimit: %w", l.Name, err)
			}
			if l.KeepSoft {
				l.Soft, l.KeepSoft = cur.Cur, false
			}
			if l.KeepHard {
				l.Hard, l.KeepHard = cur.Max, false
			}
		}
		out[i] = l
	}
	return out, nil
}

// Check reports, before anything starts, the errors setrlimit(2) would
// give: a resource named twice, soft above hard (after [Resolve]), a hard
// limit raised above the current one when privileged is false (raising
// needs CAP_SYS_RESOURCE in the initial user namespace; see [Privileged]),
// and nofile above fs.nr_open, which not even root may exceed.
func Check(limits []Limit, privileged bool) error {
	resolved, err := Resolve(limits)
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, l := range resolved {
		if seen[l.Resource] {
			return fmt.Errorf("rlimit %s given twice", l.Name)
		}
		seen[l.Resource] = true
		if l.Soft > l.Hard {
			return fmt.Errorf("rlimit %s: %w: soft %s > hard %s", l.Name, ErrSoftAboveHard, FormatValue(l.Soft), FormatValue(l.Hard))
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(l.Resource, &cur); err != nil {
			return fmt.Errorf("rlimit %s: getrlimit: %w", l.Name, err)
		}
		if l.Hard > cur.Max && !privileged {
			return fmt.Errorf("rlimit %s: %w: hard %s is above the current hard limit %s",
				l.Name, ErrRaiseHard, FormatValue(l.Hard), FormatValue(cur.Max))
		}
		if l.Resource == unix.RLIMIT_NOFILE {
			if ceiling, ok := nrOpen(); ok && l.Hard > ceiling {
				return fmt.Errorf("rlimit nofile: hard %s is above fs.nr_open (%d), the kernel's ceiling even for root",
					FormatValue(l.Hard), ceiling)
			}
		}
	}
	return nil
}

func nrOpen() (uint64, bool) {
	b, err := procfile.Read("/proc/sys/fs/nr_open")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// Privileged reports whether the calling thread may raise hard limits:
// CAP_SYS_RESOURCE in its effective set, and the thread in the initial user
// namespace (the kernel checks the capability there, so root inside a user
// namespace may not).
func Privileged() (bool, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Errorf("capget: %w", err)
	}
	if data[0].Effective&(1<<unix.CAP_SYS_RESOURCE) == 0 {
		return false, nil
	}
	m, err := procfile.Read("/proc/self/uid_map")
	if err != nil {
		return false, fmt.Errorf("read uid_map: %w", err)
	}
	f := strings.Fields(string(m))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295", nil
}
