package proto1100

import (
	"fmt"
	"math"
	"strings"
)

// Encoder writes the messages of one direction of a protocol-1100
// connection. Every message is validated completely before its first byte is
// written, so a refused message never desynchronises the stream (dive's
// failing sendmsg inside the fd loop does, bug 11). Bytes are collected and
// handed to the Sink just before each descriptor and at the end of a
// message. It is not safe for concurrent use.
type Encoder struct {
	sink Sink
	l    Layout
	buf  []byte
}

// NewEncoder returns an Encoder writing to sink with layout l.
func NewEncoder(sink Sink, l Layout) (*Encoder, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return &Encoder{sink: sink, l: l}, nil
}

func (e *Encoder) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	err := e.sink.WriteBytes(e.buf)
	e.buf = e.buf[:0]
	return err
}

func (e *Encoder) int(v int32) { e.buf = e.l.appendInt(e.buf, v) }

// marker writes a descriptor slot. Precondition: fd >= 0 or fd == NoFD.
func (e *Encoder) marker(fd int) error {
	if fd == NoFD {
		e.buf = append(e.buf, MarkerNone)
		return nil
	}
	if err := e.flush(); err != nil {
		return err
	}
	return e.sink.WriteFD(fd)
}

func checkSlot(what string, fd int) error {
	if fd < NoFD {
		return fmt.Errorf("%s: descriptor %d: %w", what, fd, ErrBadValue)
	}
	return nil
}

// WriteHello writes the server's greeting with Version.
func (e *Encoder) WriteHello(h Hello) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	if h.HelperPID <= 0 {
		return fmt.Errorf("write hello: helper pid %d: %w", h.HelperPID, ErrBadValue)
	}
	e.buf = e.l.appendLong(e.buf, Version)
	e.int(h.HelperPID)
	return wrap("write hello", e.flush())
}

// WriteIntro writes the client's terminal slot and wait flag.
func (e *Encoder) WriteIntro(in Intro) error {
	var flag [IntSize]byte
	if in.Wait {
		e.l.order().PutUint32(flag[:], 1)
	}
	return e.WriteIntroRaw(in.Terminal, flag)
}

// WriteIntroRaw writes an Intro whose wait flag is the four given bytes. It
// exists for protocol upgrades: a real dived reads any non-zero flag as "wait
// requested", which lets cove's native client offer its protocol in the flag
// (see the wire package); ordinary clients use WriteIntro.
func (e *Encoder) WriteIntroRaw(terminal int, flag [IntSize]byte) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	if err := checkSlot("write intro: terminal", terminal); err != nil {
		return err
	}
	if err := e.marker(terminal); err != nil {
		return wrap("write intro", err)
	}
	e.buf = append(e.buf, flag[:]...)
	return wrap("write intro", e.flush())
}

// WriteWaitReply writes the server's answer to the wait flag.
func (e *Encoder) WriteWaitReply(w WaitReply) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	e.int(boolInt(w.Enabled))
	return wrap("write wait reply", e.flush())
}

// WriteRequest writes the fd list, umask, root and cwd slots, argv and
// environment.
func (e *Encoder) WriteRequest(r Request) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	if err := checkRequest(r); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	for _, p := range r.FDs {
		e.int(int32(p.Num))
		if err := e.marker(p.FD); err != nil {
			return wrap("write request", err)
		}
	}
	e.int(-1)
	e.int(int32(r.Umask))
	if err := e.marker(r.Root); err != nil {
		return wrap("write request", err)
	}
	if err := e.marker(r.Cwd); err != nil {
		return wrap("write request", err)
	}
	e.block(r.Argv)
	e.block(r.Env)
	return wrap("write request", e.flush())
}

func checkRequest(r Request) error {
	seen := make(map[int]bool, len(r.FDs))
	for i, p := range r.FDs {
		if p.Num < 0 || p.Num >= MaxFDNumber {
			return fmt.Errorf("fd list entry %d: %w: %d (protocol 1100 carries 0..%d)", i, ErrFDNumber, p.Num, MaxFDNumber-1)
		}
		if seen[p.Num] {
			return fmt.Errorf("fd list entry %d: %w: %d", i, ErrDuplicateFD, p.Num)
		}
		seen[p.Num] = true
		if p.FD < 0 {
			return fmt.Errorf("fd list entry %d (fd %d): descriptor %d: %w", i, p.Num, p.FD, ErrBadValue)
		}
	}
	if r.Umask > 0o777 {
		return fmt.Errorf("umask %#o: %w", r.Umask, ErrBadValue)
	}
	if err := checkSlot("root directory", r.Root); err != nil {
		return err
	}
	if err := checkSlot("current directory", r.Cwd); err != nil {
		return err
	}
	if err := checkBlock(r.Argv); err != nil {
		return fmt.Errorf("argv: %w", err)
	}
	if err := checkBlock(r.Env); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	return nil
}

func checkBlock(ss []string) error {
	total := 0
	for i, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("entry %d: %w", i, ErrNUL)
		}
		total += len(s) + 1
		if total > math.MaxInt32 {
			return fmt.Errorf("%w: block longer than %d bytes", ErrTooMany, math.MaxInt32)
		}
	}
	return nil
}

// block appends `int count, int totlen` and the NUL-terminated strings.
// Precondition: checkBlock(ss) == nil.
func (e *Encoder) block(ss []string) {
	total := 0
	for _, s := range ss {
		total += len(s) + 1
	}
	e.int(int32(len(ss)))
	e.int(int32(total))
	for _, s := range ss {
		e.buf = append(e.buf, s...)
		e.buf = append(e.buf, 0)
	}
}

// WriteStarted writes the program's pid and the signal mode.
func (e *Encoder) WriteStarted(s Started) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	if s.PID <= 0 {
		return fmt.Errorf("write started: pid %d: %w", s.PID, ErrBadValue)
	}
	if s.SignalMode < SignalsOff || s.SignalMode > SignalsGroup {
		return fmt.Errorf("write started: signal mode %d: %w", s.SignalMode, ErrBadValue)
	}
	e.int(s.PID)
	e.int(int32(s.SignalMode))
	return wrap("write started", e.flush())
}

// WriteSignalChannel writes the signal-channel slot.
func (e *Encoder) WriteSignalChannel(c SignalChannel) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	if err := checkSlot("write signal channel", c.FD); err != nil {
		return err
	}
	if err := e.marker(c.FD); err != nil {
		return wrap("write signal channel", err)
	}
	return wrap("write signal channel", e.flush())
}

// WriteExit writes the program's status.
func (e *Encoder) WriteExit(x Exit) error {
	e.buf = e.buf[:0] // drop what a failed message left behind
	if x.Status < 0 || x.Status > 255 {
		return fmt.Errorf("write exit: status %d: %w", x.Status, ErrBadValue)
	}
	e.int(x.Status)
	return wrap("write exit", e.flush())
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
