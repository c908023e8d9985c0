package proto1100

import (
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/dive/scm"
)

// oobFDs is how many descriptors one read makes room for. Protocol 1100
// sends one per marker; the room for more lets extra descriptors be seen
// and closed instead of being cut off by MSG_CTRUNC.
const oobFDs = 8

// readChunk bounds each allocation while reading a long block, so that a
// peer cannot make us allocate a 10 MB argv block with eight bytes.
const readChunk = 64 << 10

// MsgConn is what a Socket needs of a connected AF_UNIX SOCK_STREAM
// socket (see scm.MsgConn).
type MsgConn = scm.MsgConn

// Socket carries protocol 1100 over a connected AF_UNIX SOCK_STREAM socket;
// it is both a Source and a Sink. Received descriptors have FD_CLOEXEC set
// (Go reads with MSG_CMSG_CLOEXEC) and belong to the caller. A Socket does
// not own the connection; deadlines are set on it directly.
type Socket struct {
	c   MsgConn
	oob []byte
}

// NewSocket returns a Socket over c. Precondition: c is a connected
// SOCK_STREAM AF_UNIX socket.
func NewSocket(c MsgConn) *Socket {
	return &Socket{c: c, oob: make([]byte, unix.CmsgSpace(oobFDs*4))}
}

// recv reads up to len(b) bytes and returns the descriptors that came with
// them. On MSG_CTRUNC the descriptors that did arrive are closed.
func (s *Socket) recv(b []byte) (int, []int, error) {
	n, oobn, flags, _, err := s.c.ReadMsgUnix(b, s.oob)
	fds, perr := scm.Rights(s.oob[:oobn])
	if flags&unix.MSG_CTRUNC != 0 {
		closeAll(fds)
		return n, nil, ErrCtrunc
	}
	if perr != nil {
		closeAll(fds)
		return n, nil, perr
	}
	if err != nil {
		closeAll(fds)
		return n, nil, err
	}
	return n, fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// ReadBytes implements Source.
func (s *Socket) ReadBytes(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("read %d bytes: %w", n, ErrBadValue)
	}
	out := make([]byte, 0, min(n, readChunk))
	for len(out) < n {
		if len(out) == cap(out) {
			out = append(out, make([]byte, min(n-len(out), readChunk))...)[:len(out)]
		}
		m, fds, err := s.recv(out[len(out):cap(out)])
		out = out[:len(out)+m]
		if len(fds) > 0 {
			closeAll(fds)
			return nil, fmt.Errorf("%d descriptors inside %d data bytes: %w", len(fds), n, ErrUnexpectedFD)
		}
		if err != nil {
			return nil, eofIfEmpty(len(out), err)
		}
		if m == 0 {
			return nil, eofIfEmpty(len(out), io.EOF)
		}
	}
	return out, nil
}

func eofIfEmpty(got int, err error) error {
	if errors.Is(err, io.EOF) && got > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadMarker implements Source. It reads exactly one byte: the descriptor
// dive sends rides on the 'F' byte's own sendmsg, and reading further could
// consume the next one.
func (s *Socket) ReadMarker() (byte, int, error) {
	var b [1]byte
	n, fds, err := s.recv(b[:])
	if err != nil {
		return 0, NoFD, err
	}
	switch {
	case n == 0:
		closeAll(fds)
		return 0, NoFD, io.EOF
	case len(fds) == 0:
		return b[0], NoFD, nil
	case len(fds) == 1:
		return b[0], fds[0], nil
	}
	closeAll(fds)
	return 0, NoFD, fmt.Errorf("%d descriptors on one marker: %w", len(fds), ErrUnexpectedFD)
}

// Release implements Source by closing fd.
func (s *Socket) Release(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// WriteBytes implements Sink.
func (s *Socket) WriteBytes(b []byte) error {
	_, err := s.c.Write(b)
	return err
}

// WriteFD implements Sink: one sendmsg of the byte 'F' with fd attached.
// The descriptor stays open; the caller closes it when it wants to.
func (s *Socket) WriteFD(fd int) error {
	if fd < 0 {
		return fmt.Errorf("write descriptor %d: %w", fd, ErrBadValue)
	}
	n, _, err := s.c.WriteMsgUnix([]byte{MarkerFD}, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("send descriptor %d: %w", fd, err)
	}
	if n != 1 {
		return fmt.Errorf("send descriptor %d: short write", fd)
	}
	return nil
}

// ReadSiginfo reads one datagram from the signal channel (the SOCK_DGRAM
// socket received in SignalChannel). A datagram that is not exactly
// SiginfoSize bytes is ErrBadSiginfo; descriptors sent with it are closed and
// reported as ErrUnexpectedFD.
func ReadSiginfo(c *net.UnixConn, l Layout) (Siginfo, error) {
	var b [SiginfoSize + 1]byte
	oob := make([]byte, unix.CmsgSpace(oobFDs*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(b[:], oob)
	fds, perr := scm.Rights(oob[:oobn])
	closeAll(fds)
	switch {
	case err != nil:
		return Siginfo{}, fmt.Errorf("read signal: %w", err)
	case perr != nil:
		return Siginfo{}, fmt.Errorf("read signal: %w", perr)
	case len(fds) > 0 || flags&unix.MSG_CTRUNC != 0:
		return Siginfo{}, fmt.Errorf("read signal: %w", ErrUnexpectedFD)
	case flags&unix.MSG_TRUNC != 0:
		return Siginfo{}, fmt.Errorf("read signal: %w: datagram longer than %d bytes", ErrBadSiginfo, SiginfoSize)
	}
	return l.ParseSiginfo(b[:n])
}

// WriteSiginfo sends si as one datagram over the signal channel.
func WriteSiginfo(c *net.UnixConn, l Layout, si Siginfo) error {
	b, err := l.AppendSiginfo(make([]byte, 0, SiginfoSize), si)
	if err != nil {
		return err
	}
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("write signal: %w", err)
	}
	return nil
}
