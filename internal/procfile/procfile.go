// Package procfile reads the small files of /proc and /sys with plain
// system calls.
//
// os.ReadFile wraps the descriptor in an *os.File, and the first *os.File a
// process opens on Linux starts the Go runtime's network poller (an epoll
// instance, an eventfd, and an attempt to register the file, which the
// kernel refuses for /proc files). A short-lived cove run pays for that on
// every start, and the scheduler polls the idle poller from then on; a
// file of /proc never needs it.
package procfile

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// maxSize bounds what Read returns: the files it is for are a line or a
// few hundred bytes (sysctls, id maps, setgroups).
const maxSize = 1 << 20

// Read returns the contents of the file at path, as os.ReadFile does, with
// errors as *fs.PathError. It is for files of a few kilobytes at most; a
// file larger than 1 MiB is an error.
func Read(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxSize {
				return nil, &fs.PathError{Op: "read", Path: path, Err: unix.EFBIG}
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
