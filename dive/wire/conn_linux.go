package wire

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/dive/scm"
)

// scmMaxFD is the kernel's limit of descriptors per sendmsg (SCM_MAX_FD).
const scmMaxFD = 253

// readChunk bounds each allocation while a payload arrives, so a header
// alone cannot make the reader allocate a whole FrameBytes.
const readChunk = 64 << 10

// MsgConn is what a Conn needs of a connected AF_UNIX SOCK_STREAM socket
// (see scm.MsgConn).
type MsgConn = scm.MsgConn

// Conn reads and writes frames over a connected AF_UNIX SOCK_STREAM socket.
// Reads are not safe for concurrent use; writes are (a mutex keeps frames
// whole). Received descriptors have FD_CLOEXEC set and belong to the caller.
// Deadlines are set on the underlying connection.
type Conn struct {
	c   MsgConn
	lim Limits
	oob []byte
	wmu sync.Mutex
}

// NewConn returns a Conn over c; zero fields of lim take the defaults.
// Precondition: c is a connected SOCK_STREAM AF_UNIX socket, positioned at a
// frame boundary (after the upgrade handshake).
func NewConn(c MsgConn, lim Limits) *Conn {
	return &Conn{c: c, lim: lim.withDefaults(), oob: make([]byte, unix.CmsgSpace(scmMaxFD*4))}
}

// readFull reads exactly len(b) bytes, appending arriving descriptors to
// *fds. It returns io.EOF only if the stream ended before the first byte.
func (c *Conn) readFull(b []byte, fds *[]int) error {
	got := 0
	for got < len(b) {
		n, oobn, flags, _, err := c.c.ReadMsgUnix(b[got:], c.oob)
		rights, perr := scm.Rights(c.oob[:oobn])
		*fds = append(*fds, rights...)
		got += n
		switch {
		case flags&unix.MSG_CTRUNC != 0:
			return ErrCtrunc
		case perr != nil:
			return perr
		case err != nil && !errors.Is(err, io.EOF):
			return err
		case n == 0: // end of stream, reported as io.EOF or as a zero read
			if got > 0 {
				return io.ErrUnexpectedEOF
			}
			return io.EOF
		}
	}
	return nil
}

// CloseFDs closes descriptors, e.g. those of a frame the caller rejects.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// ReadFrame reads one frame: exactly its header, then exactly its payload.
// The header is checked before the payload is read. On error every
// descriptor received for the frame is closed; io.EOF means the peer closed
// the connection between frames.
func (c *Conn) ReadFrame() (Frame, error) {
	var fds []int
	var hb [HeaderSize]byte
	if err := c.readFull(hb[:], &fds); err != nil {
		CloseFDs(fds)
		return Frame{}, fmt.Errorf("read frame header: %w", err)
	}
	h, err := ParseHeader(hb[:], c.lim)
	if err != nil {
		CloseFDs(fds)
		return Frame{}, fmt.Errorf("read frame: %w", err)
	}
	payload := make([]byte, 0, min(int(h.Length), readChunk))
	for len(payload) < int(h.Length) {
		n := min(int(h.Length)-len(payload), readChunk)
		payload = append(payload, make([]byte, n)...)
		if err := c.readFull(payload[len(payload)-n:], &fds); err != nil {
			CloseFDs(fds)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, fmt.Errorf("read %s payload: %w", h.Type, err)
		}
	}
	if len(fds) != int(h.NFDs) {
		CloseFDs(fds)
		return Frame{}, fmt.Errorf("read %s frame: header declares %d descriptors, %d arrived: %w", h.Type, h.NFDs, len(fds), ErrFDCount)
	}
	return Frame{Type: h.Type, Stream: h.Stream, Payload: payload, FDs: fds}, nil
}

// WriteFrame sends f. Its descriptors ride on the header's sendmsg; more than
// the kernel's 253 per sendmsg are spread over the following payload bytes,
// which the reader collects the same way. The descriptors stay open.
func (c *Conn) WriteFrame(f Frame) error {
	b, err := AppendFrame(nil, f)
	if err != nil {
		return err
	}
	chunks := (len(f.FDs) + scmMaxFD - 1) / scmMaxFD
	if chunks > 1 && len(f.Payload) < chunks-1 {
		return fmt.Errorf("write %s frame: %d descriptors need %d payload bytes to ride on: %w", f.Type, len(f.FDs), chunks-1, ErrTooMany)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if chunks <= 1 {
		return c.send(b, f.FDs)
	}
	// First sendmsg: everything but the last chunks-1 bytes, with the first
	// 253 descriptors; then one byte per further chunk.
	head := len(b) - (chunks - 1)
	if err := c.send(b[:head], f.FDs[:scmMaxFD]); err != nil {
		return err
	}
	for i := 1; i < chunks; i++ {
		end := min((i+1)*scmMaxFD, len(f.FDs))
		if err := c.send(b[head+i-1:head+i], f.FDs[i*scmMaxFD:end]); err != nil {
			return err
		}
	}
	return nil
}

// send writes b with fds attached to its first byte, finishing partial writes.
func (c *Conn) send(b []byte, fds []int) error {
	if len(fds) == 0 {
		_, err := c.c.Write(b)
		return wrapWrite(err)
	}
	n, _, err := c.c.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
	if err != nil {
		return wrapWrite(err)
	}
	if n < len(b) {
		// The descriptors went with the first part; the rest is plain data.
		_, err = c.c.Write(b[n:])
	}
	return wrapWrite(err)
}

func wrapWrite(err error) error {
	if err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ReadMessage reads and decodes one frame. On a decode error the frame's
// descriptors are closed.
func (c *Conn) ReadMessage() (uint32, Message, error) {
	f, err := c.ReadFrame()
	if err != nil {
		return 0, nil, err
	}
	m, err := Decode(f, c.lim)
	if err != nil {
		CloseFDs(f.FDs)
		return f.Stream, nil, err
	}
	return f.Stream, m, nil
}

// WriteMessage encodes m on stream and sends it.
func (c *Conn) WriteMessage(stream uint32, m Message) error {
	f, err := Encode(stream, m)
	if err != nil {
		return err
	}
	return c.WriteFrame(f)
}
