package caps

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/procfile"
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
	b, err := procfile.Read("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
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
