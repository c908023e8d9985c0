package caps

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Last returns the kernel's highest capability number. It reads
// /proc/sys/kernel/cap_last_cap and, when /proc is not mounted (early in a
// sandbox), probes PR_CAPBSET_READ, which fails with EINVAL past the last.
// The answer is the running kernel's, so it is found once per process.
func Last() (Cap, error) { return last() }

var last = sync.OnceValues(func() (Cap, error) {
	if c, err := lastFromProc(); err == nil {
		return c, nil
	}
	return lastByProbe()
})

func lastFromProc() (Cap, error) {
	// Plain system calls, not os.ReadFile: this sysctl file is pollable,
	// and an *os.File for it would start the runtime's network poller.
	fd, err := unix.Open("/proc/sys/kernel/cap_last_cap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	var buf [16]byte
	k, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, err
	}
	b := buf[:max(k, 0)]
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 8)
	if err != nil || Cap(n) > MaxCap {
		return 0, fmt.Errorf("/proc/sys/kernel/cap_last_cap: unexpected %q", b)
	}
	return Cap(n), nil
}

func lastByProbe() (Cap, error) {
	for c := Cap(0); c <= MaxCap; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) && c > 0 {
				return c - 1, nil
			}
			return 0, fmt.Errorf("probe last capability: prctl(PR_CAPBSET_READ, %d): %w", c, err)
		}
	}
	return MaxCap, nil
}
