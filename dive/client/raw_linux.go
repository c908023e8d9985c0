package client

import (
	"errors"
	"io"
	"net"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/dive/scm"
)

// Transport is a connected AF_UNIX SOCK_STREAM socket as the clients use
// it: *net.UnixConn, or a RawConn.
type Transport interface {
	scm.MsgConn
	Close() error
}

// RawConn is a connected socket used with blocking system calls: no
// goroutine, no runtime poller, no descriptors of its own beyond the
// socket. It suits a short-lived client process that does one thing at a
// time (a blocked call holds its thread; the runtime hands the processor to
// other goroutines). Reads are not safe for concurrent use; writes are
// serialised by the callers (wire.Conn's mutex).
type RawConn struct {
	fd int
}

// DialRaw connects to addr, a socket path or "@name" for an abstract
// socket.
func DialRaw(addr string) (*RawConn, error) {
	if addr == "" || addr == "@" {
		return nil, errors.New("empty socket address")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: err}
	}
	sa := &unix.SockaddrUnix{Name: addr}
	if strings.HasPrefix(addr, "@") {
		sa.Name = "\x00" + addr[1:]
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: addr, Net: "unix"}, Err: err}
	}
	return &RawConn{fd: fd}, nil
}

// FD returns the socket's descriptor.
func (c *RawConn) FD() int { return c.fd }

// ReadMsgUnix reads with recvmsg(MSG_CMSG_CLOEXEC). A zero read at the end
// of the stream is io.EOF, as net's.
func (c *RawConn) ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error) {
	for {
		n, oobn, flags, _, err = unix.Recvmsg(c.fd, b, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil && n == 0 && oobn == 0 && len(b) > 0 {
		err = io.EOF
	}
	return n, oobn, flags, nil, err
}

// WriteMsgUnix sends b with the control message oob.
func (c *RawConn) WriteMsgUnix(b, oob []byte, _ *net.UnixAddr) (n, oobn int, err error) {
	for {
		n, err = unix.SendmsgN(c.fd, b, oob, nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return n, 0, err
	}
	return n, len(oob), nil
}

// Write sends all of b.
func (c *RawConn) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.SendmsgN(c.fd, b[done:], nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// Close closes the socket.
func (c *RawConn) Close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}
