package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// idleAfter is how long a program runs before its supervisor calls
// releaseIdle.
const idleAfter = 200 * time.Millisecond

// releaseIdle gives back the memory a supervisor does not need while its
// program runs: it drops this process's mappings of the cove binary's
// pages (they stay in the page cache, shared and reclaimable, and come
// back in minor faults for the little code the wait runs) and returns the
// Go heap's free pages to the kernel. Call it once the program has
// started; it only costs time, never correctness.
func releaseIdle() {
	// The collection first: it reads the binary's tables (pclntab) that
	// the madvise below drops.
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || fields[1][1] == 'w' {
			continue // only read-only mappings of the binary: text, rodata
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_ = madvise(uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

func madvise(addr, length uintptr, advice int) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, length, uintptr(advice))
	if errno != 0 {
		return errno
	}
	return nil
}
