// Package scm is what both dive protocols need of AF_UNIX sockets that
// carry descriptors: the connection interface and SCM_RIGHTS parsing.
package scm

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// MsgConn is a connected AF_UNIX SOCK_STREAM socket that can carry
// descriptors: *net.UnixConn has it, and so does a socket read and written
// with blocking system calls (dive/client's CLI path, which needs no
// poller).
type MsgConn interface {
	ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error)
	WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error)
	Write(b []byte) (int, error)
}

// Rights returns the descriptors of every SCM_RIGHTS message in oob (other
// control messages, e.g. SCM_CREDENTIALS, are skipped). On error it still
// returns the descriptors parsed so far, which the caller must close.
func Rights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, fmt.Errorf("parse SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
