package client

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/covebox/cove/dive/wire"
)

// Single is one program over a connection of its own, driven by the
// caller's goroutine: Start, then Wait. It starts no goroutine, so over a
// RawConn a command-line client runs without the runtime's poller and
// without hand-offs between goroutines. Signal and Resize may be called
// from another goroutine while Wait reads.
//
// The Request is sent right after the Hello, before the server's Hello is
// read (docs/protocol.md, "Pipelining"): one round trip less than Conn.
type Single struct {
	t      Transport
	wc     *wire.Conn
	caps   wire.Caps // known once Start has read the server's Hello
	detach bool
	// Pid is the program's pid once Start returned; PidFD a pidfd of it in
	// this process, or -1 (close it when done).
	Pid   int
	PidFD int
}

// singleStream is the stream of a Single's only request.
const singleStream = 1

// OpenSingle reads the greeting of a fresh connection and offers the native
// protocol, sending terminal (or -1) as dive would. It returns a *Single
// when the server is cove, or a *Pending1100 when it is a real dived.
func OpenSingle(t Transport, terminal int) (*Single, *Pending1100, error) {
	wc, pending, err := upgrade(t, terminal)
	if err != nil || pending != nil {
		return nil, pending, err
	}
	if err := wc.WriteMessage(0, wire.Hello{Version: wire.Version, Caps: WantCaps}); err != nil {
		return nil, nil, err
	}
	return &Single{t: t, wc: wc, PidFD: -1}, nil, nil
}

// Start sends r and waits until the program runs (or the server reports
// why it could not start it: a wire.Error). Window sizes ride along only
// because the client offered CapWinSize; a server that did not take it
// ignores them.
func (s *Single) Start(r Request) error {
	if err := s.wc.WriteMessage(singleStream, r.wire(WantCaps)); err != nil {
		return err
	}
	caps, err := readHello(s.wc)
	if err != nil {
		return err
	}
	s.caps, s.detach = caps, r.Detach
	stream, m, err := s.wc.ReadMessage()
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case wire.Started:
		if stream != singleStream {
			closeMessage(m)
			return fmt.Errorf("server answered on stream %d", stream)
		}
		s.Pid = int(m.PID)
		if m.HasPidFD {
			s.PidFD = m.PidFD
		}
		return nil
	case wire.Error:
		return m
	}
	return fmt.Errorf("server sent %s before Started", m.Type())
}

// ErrNoWait: the server does not report when programs end (--no-wait).
var ErrNoWait = errors.New("dive client: the server does not report the program's end")

// Wait reads until the program's end. A detached program returns at once.
func (s *Single) Wait() (wire.Exit, error) {
	if s.detach {
		return wire.Exit{}, nil
	}
	for {
		stream, m, err := s.wc.ReadMessage()
		if err != nil {
			return wire.Exit{}, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		if stream != singleStream {
			closeMessage(m)
			continue
		}
		switch m := m.(type) {
		case wire.Exit:
			return m, nil
		case wire.Error:
			if m.Step == "no-wait" {
				return wire.Exit{}, ErrNoWait
			}
			return wire.Exit{}, m
		default:
			closeMessage(m)
		}
	}
}

// Signal asks the server to deliver sig.
func (s *Single) Signal(sig syscall.Signal) error {
	return s.wc.WriteMessage(singleStream, wire.Signal{Signo: uint32(sig)})
}

// Resize sends a new window size for the program's terminal; nothing when
// the server did not take CapWinSize.
func (s *Single) Resize(ws wire.WinSize) error {
	if s.caps&wire.CapWinSize == 0 {
		return nil
	}
	return s.wc.WriteMessage(singleStream, ws)
}

// Close closes the connection; the program keeps running on the server.
func (s *Single) Close() error { return s.t.Close() }
