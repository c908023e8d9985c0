package client

import (
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// InheritedFDs lists the open descriptors of this process in ascending
// order, read from /proc/self/fd (so numbers ≥ 1024 are seen too) with raw
// system calls: an *os.File would register with the runtime's poller and
// open its epoll descriptors first. Call it before opening anything, so that
// the list is what the process inherited.
//
// A descriptor with FD_CLOEXEC set was opened by this process (exec closed
// every inherited one that had it): the runtime's poller, the directory
// being read. Left out too: a standard descriptor that the Go runtime
// opened on /dev/null, O_RDWR, because the caller had it closed (Go does
// that at start); an inherited /dev/null is kept unless it is O_RDWR too,
// which a shell's "<>/dev/null" is, and then it is taken as closed.
func InheritedFDs() []int {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fallbackFDs()
	}
	var out []int
	var buf [4096]byte
	for {
		n, err := unix.Getdents(dir, buf[:])
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
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC != 0 {
				continue
			}
			if fd <= 2 && runtimeDevNull(fd) {
				continue
			}
			out = append(out, fd)
		}
	}
	unix.Close(dir)
	slices.Sort(out)
	return out
}

// runtimeDevNull reports whether fd is /dev/null (character device 1:3)
// opened O_RDWR, as the Go runtime opens it on a closed standard fd.
func runtimeDevNull(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE == unix.O_RDWR
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
