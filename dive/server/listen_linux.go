package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Address is a socket address as dive spells it: a filesystem path, or
// "@name" for an abstract socket.
type Address string

// Abstract reports whether a is an abstract socket name.
func (a Address) Abstract() bool { return strings.HasPrefix(string(a), "@") }

// Listen binds a stream socket at addr. A stale socket file at a path is
// removed first (as dived does); any other kind of file is an error. When
// mode is non-zero the socket file is chmod'ed to it; uid/gid ≥ 0 chown it.
// Abstract sockets have no file: mode and owner are errors there, and the
// caller should give the server an Allowlist.
func Listen(addr Address, mode os.FileMode, uid, gid int) (*net.UnixListener, error) {
	if addr == "" || addr == "@" {
		return nil, errors.New("listen: empty socket address")
	}
	name := string(addr)
	if addr.Abstract() {
		if mode != 0 || uid >= 0 || gid >= 0 {
			return nil, fmt.Errorf("listen %s: --chmod and --chown need a socket path, not an abstract name", addr)
		}
	} else {
		var st unix.Stat_t
		if err := unix.Lstat(name, &st); err == nil {
			if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
				return nil, fmt.Errorf("listen %s: exists and is not a socket", addr)
			}
			if err := os.Remove(name); err != nil {
				return nil, fmt.Errorf("listen %s: remove stale socket: %w", addr, err)
			}
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if !addr.Abstract() {
		if uid >= 0 || gid >= 0 {
			if err := os.Lchown(name, uid, gid); err != nil {
				ln.Close()
				return nil, fmt.Errorf("listen %s: chown: %w", addr, err)
			}
		}
		if mode != 0 {
			if err := os.Chmod(name, mode); err != nil {
				ln.Close()
				return nil, fmt.Errorf("listen %s: chmod: %w", addr, err)
			}
		}
	}
	return ln, nil
}
