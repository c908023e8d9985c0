package chain

import (
	"errors"
	"syscall"
)

// djbErrors holds the wording of djb's error_str (daemontools, runit), which replaces strerror in
// every message those tools print. Only errnos a chain-loader can meet are listed; others fall
// back to the same "unknown error" djb prints.
var djbErrors = map[syscall.Errno]string{
	syscall.EINTR:        "interrupted system call",
	syscall.ENOMEM:       "out of memory",
	syscall.ENOENT:       "file does not exist",
	syscall.ETXTBSY:      "text busy",
	syscall.EIO:          "input/output error",
	syscall.EEXIST:       "file already exists",
	syscall.ETIMEDOUT:    "timed out",
	syscall.EINPROGRESS:  "operation in progress",
	syscall.EAGAIN:       "temporary failure",
	syscall.EPIPE:        "broken pipe",
	syscall.EPERM:        "permission denied",
	syscall.EACCES:       "access denied",
	syscall.ENXIO:        "device not configured",
	syscall.EPROTO:       "protocol error",
	syscall.EISDIR:       "is a directory",
	syscall.ECONNREFUSED: "connection refused",
	syscall.ENOTDIR:      "not a directory",
	syscall.ESRCH:        "no such process",
	syscall.E2BIG:        "argument list too long",
	syscall.ENOEXEC:      "exec format error",
	syscall.EBADF:        "file descriptor not open",
	syscall.ECHILD:       "no child processes",
	syscall.EDEADLK:      "operation would cause deadlock",
	syscall.EFAULT:       "bad address",
	syscall.EBUSY:        "device busy",
	syscall.EXDEV:        "cross-device link",
	syscall.ENODEV:       "device does not support operation",
	syscall.EINVAL:       "invalid argument",
	syscall.ENFILE:       "system cannot open more files",
	syscall.EMFILE:       "process cannot open more files",
	syscall.ENOTTY:       "not a tty",
	syscall.EFBIG:        "file too big",
	syscall.ENOSPC:       "out of disk space",
	syscall.EROFS:        "read-only file system",
	syscall.EMLINK:       "too many links",
	syscall.ELOOP:        "symbolic link loop",
	syscall.ENAMETOOLONG: "file name too long",
	syscall.ENOTEMPTY:    "directory not empty",
	syscall.EDQUOT:       "disk quota exceeded",
	syscall.ESTALE:       "stale NFS file handle",
	syscall.ENOLCK:       "no locks available",
	syscall.ENOSYS:       "system call not available",
	syscall.EOPNOTSUPP:   "operation not supported",
}

// errnoOf digs the errno out of err; errors without one count as EINVAL.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EINVAL
}

// djbStr words err the way daemontools and runit do ("file does not exist").
func djbStr(err error) string {
	if s, ok := djbErrors[errnoOf(err)]; ok {
		return s
	}
	return "unknown error"
}

// strerror words err the way glibc's strerror does ("No such file or directory"), as skarnet's
// and nosh's tools print it. Go's errno table is glibc's, lower-cased.
func strerror(err error) string {
	s := errnoOf(err).Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
