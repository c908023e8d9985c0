package chain

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The lock descriptors below are opened without O_CLOEXEC on purpose: the program that is exec'd
// next inherits the descriptor and, with it, the lock, which is released when it exits.

// openFlockFile opens path as daemontools' open_append does (O_WRONLY|O_APPEND|O_CREAT|O_NONBLOCK,
// mode 0600).
func openFlockFile(path string) (int, error) {
	return unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NONBLOCK, 0o600)
}

// flockExclusive takes an exclusive flock(2) lock on fd, waiting for it unless nowait is set (then
// a held lock gives EWOULDBLOCK).
func flockExclusive(fd int, nowait bool) error {
	how := unix.LOCK_EX
	if nowait {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(fd, how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// openPosixLockFile opens path as s6-setlock does: created if missing (mode 0666 before the umask),
// for writing for an exclusive lock, read-only for a shared one.
func openPosixLockFile(path string, shared bool) (int, error) {
	if shared {
		return unix.Open(path, unix.O_RDONLY|unix.O_CREAT, 0o666)
	}
	return unix.Open(path, unix.O_WRONLY|unix.O_CREAT, 0o666)
}

// posixLock takes a whole-file fcntl(2) record lock on fd: a read lock if shared, else a write
// lock. timeout < 0 waits forever, 0 does not wait, > 0 polls until it expires (then ETIMEDOUT).
// A lock held by someone else is reported as EBUSY, the errno skalibs reports.
func posixLock(fd int, shared bool, timeout time.Duration) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if shared {
		lk.Type = unix.F_RDLCK
	}
	if timeout < 0 {
		for {
			err := unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, &lk)
			if err != syscall.EINTR {
				return err
			}
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		err := unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk)
		switch err {
		case nil:
			return nil
		case syscall.EAGAIN, syscall.EACCES:
			if timeout == 0 {
				return syscall.EBUSY
			}
			if time.Now().After(deadline) {
				return syscall.ETIMEDOUT
			}
			time.Sleep(5 * time.Millisecond)
		case syscall.EINTR:
		default:
			return err
		}
	}
}
