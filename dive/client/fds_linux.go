package client

import (
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// InheritedFDs lists the open descriptors of this process in ascending
// order, read from /proc/self/fd (so numbers ≥ 1024 are seen too) with raw
// system calls: an *os.File would register with the runtime's poller and
// open its epoll descriptors first. Call it before opening anything, so that
// the list is what the process inherited. Descriptors of the Go runtime's
// poller (eventpoll, eventfd), if it already made them, are left out.
func InheritedFDs() []int {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fallbackFDs()
	}
	var out []int
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dir, buf)
		if err != nil {
			unix.Close(dir)
			return fallbackFDs()
		}
		if n <= 0 {
			break
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			fd, err := strconv.Atoi(name)
			if err != nil || fd == dir {
				continue
			}
			out = append(out, fd)
		}
	}
	unix.Close(dir)
	kept := out[:0]
	for _, fd := range out {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			continue
		}
		l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if (l == "anon_inode:[eventpoll]" || l == "anon_inode:[eventfd]") && runtimePoller(fd) {
			continue
		}
		if fd <= 2 && l == "/dev/null" && openRDWR(fd) {
			// The Go runtime opens /dev/null O_RDWR on a standard fd that
			// was closed at exec; the caller had it closed.
			continue
		}
		kept = append(kept, fd)
	}
	slices.Sort(kept)
	return kept
}

// openRDWR reports whether fd was opened O_RDWR.
func openRDWR(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE == unix.O_RDWR
}

// runtimePoller reports whether fd is close-on-exec, as the runtime's
// poller descriptors are (an inherited descriptor never is: exec closed those).
func runtimePoller(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil && fl&unix.FD_CLOEXEC != 0
}

// fallbackFDs is dive's way: fstat every number below 1024.
func fallbackFDs() []int {
	var out []int
	for fd := 0; fd < 1024; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			out = append(out, fd)
		}
	}
	return out
}
