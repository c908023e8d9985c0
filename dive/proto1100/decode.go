package proto1100

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Decoder reads the messages of one direction of a protocol-1100 connection,
// in the order of the conversation (see the package doc). It is not safe for
// concurrent use.
type Decoder struct {
	src Source
	l   Layout
	lim Limits
}

// NewDecoder returns a Decoder reading from src with layout l. Zero fields of
// lim take dived's defaults.
func NewDecoder(src Source, l Layout, lim Limits) (*Decoder, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return &Decoder{src: src, l: l, lim: lim.withDefaults()}, nil
}

// eofMid turns io.EOF into io.ErrUnexpectedEOF for fields after the first of
// a message: the stream may only end between messages.
func eofMid(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *Decoder) readInt(first bool) (int32, error) {
	b, err := d.src.ReadBytes(IntSize)
	if err != nil {
		if !first {
			err = eofMid(err)
		}
		return 0, err
	}
	return d.l.int(b), nil
}

// readMarker reads a descriptor slot and returns its descriptor or NoFD.
func (d *Decoder) readMarker(first bool) (int, error) {
	c, fd, err := d.src.ReadMarker()
	if err != nil {
		if !first {
			err = eofMid(err)
		}
		return NoFD, err
	}
	if err := checkMarker(c, fd); err != nil {
		if fd != NoFD {
			d.src.Release(fd)
		}
		return NoFD, err
	}
	return fd, nil
}

func checkMarker(c byte, fd int) error {
	switch {
	case c == MarkerFD && fd == NoFD:
		return ErrMissingFD
	case c == MarkerNone && fd != NoFD:
		return fmt.Errorf("descriptor on 'X' marker: %w", ErrUnexpectedFD)
	case c != MarkerFD && c != MarkerNone:
		if fd != NoFD {
			return fmt.Errorf("byte %#02x carries a descriptor: %w", c, ErrUnexpectedFD)
		}
		return fmt.Errorf("%w: %#02x", ErrBadMarker, c)
	}
	return nil
}

// ReadHello reads the server's greeting. A version other than 1100 is
// ErrVersion.
func (d *Decoder) ReadHello() (Hello, error) {
	b, err := d.src.ReadBytes(d.l.LongSize())
	if err != nil {
		return Hello{}, fmt.Errorf("read hello: version: %w", err)
	}
	if v := d.l.long(b); v != Version {
		return Hello{}, fmt.Errorf("read hello: %w: server sent %d, want %d", ErrVersion, v, Version)
	}
	pid, err := d.readInt(false)
	if err != nil {
		return Hello{}, fmt.Errorf("read hello: helper pid: %w", err)
	}
	if pid <= 0 {
		return Hello{}, fmt.Errorf("read hello: helper pid %d: %w", pid, ErrBadValue)
	}
	return Hello{HelperPID: pid}, nil
}

// IntroSize is the number of bytes of an Intro: the marker and the flag.
const IntroSize = 1 + IntSize

// ReadIntroRaw reads an Intro without judging its wait flag: the five bytes
// as sent (marker, then the flag) and the terminal descriptor or NoFD. A
// server that also speaks cove's native protocol classifies the bytes
// (wire.Detect) before calling ParseIntro; other callers use ReadIntro.
//
// Postcondition: on error no descriptor is left to the caller.
func (d *Decoder) ReadIntroRaw() (raw [IntroSize]byte, terminal int, err error) {
	c, fd, err := d.src.ReadMarker()
	if err != nil {
		return raw, NoFD, fmt.Errorf("read intro: terminal: %w", err)
	}
	if err := checkMarker(c, fd); err != nil {
		if fd != NoFD {
			d.src.Release(fd)
		}
		return raw, NoFD, fmt.Errorf("read intro: terminal: %w", err)
	}
	b, err := d.src.ReadBytes(IntSize)
	if err != nil {
		if fd != NoFD {
			d.src.Release(fd)
		}
		return raw, NoFD, fmt.Errorf("read intro: wait flag: %w", eofMid(err))
	}
	raw[0] = c
	copy(raw[1:], b)
	return raw, fd, nil
}

// ParseIntro judges the bytes returned by ReadIntroRaw. It does not release
// terminal on error; the caller owns it.
func (l Layout) ParseIntro(raw [IntroSize]byte, terminal int) (Intro, error) {
	if err := l.check(); err != nil {
		return Intro{}, err
	}
	if err := checkMarker(raw[0], terminal); err != nil {
		return Intro{}, fmt.Errorf("intro: terminal: %w", err)
	}
	w := l.int(raw[1:])
	if w != 0 && w != 1 {
		return Intro{}, fmt.Errorf("intro: wait flag %d: %w", w, ErrBadValue)
	}
	return Intro{Terminal: terminal, Wait: w == 1}, nil
}

// ReadIntro reads the client's Intro.
//
// Postcondition: on error no descriptor is left to the caller.
func (d *Decoder) ReadIntro() (Intro, error) {
	raw, fd, err := d.ReadIntroRaw()
	if err != nil {
		return Intro{}, err
	}
	in, err := d.l.ParseIntro(raw, fd)
	if err != nil {
		if fd != NoFD {
			d.src.Release(fd)
		}
		return Intro{}, fmt.Errorf("read %w", err)
	}
	return in, nil
}

// ParseWaitReply judges the four bytes of a WaitReply.
func (l Layout) ParseWaitReply(b []byte) (WaitReply, error) {
	if err := l.check(); err != nil {
		return WaitReply{}, err
	}
	if len(b) != IntSize {
		return WaitReply{}, fmt.Errorf("wait reply: %d bytes: %w", len(b), ErrBadValue)
	}
	v := l.int(b)
	if v != 0 && v != 1 {
		return WaitReply{}, fmt.Errorf("wait reply: %d: %w", v, ErrBadValue)
	}
	return WaitReply{Enabled: v == 1}, nil
}

// ReadWaitReply reads the server's answer to the wait flag.
func (d *Decoder) ReadWaitReply() (WaitReply, error) {
	b, err := d.src.ReadBytes(IntSize)
	if err != nil {
		return WaitReply{}, fmt.Errorf("read wait reply: %w", err)
	}
	w, err := d.l.ParseWaitReply(b)
	if err != nil {
		return WaitReply{}, fmt.Errorf("read %w", err)
	}
	return w, nil
}

// ReadRequest reads the client's fd list, umask, root and cwd descriptors,
// argv and environment.
//
// Postcondition: on error every descriptor received for the Request has been
// released; on success they all belong to the caller.
func (d *Decoder) ReadRequest() (Request, error) {
	var r Request
	held := []int{}
	fail := func(err error) (Request, error) {
		for _, fd := range held {
			d.src.Release(fd)
		}
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	seen := make(map[int32]bool)
	for i := 0; ; i++ {
		n, err := d.readInt(i == 0)
		if err != nil {
			return fail(fmt.Errorf("fd list entry %d: %w", i, err))
		}
		if n == -1 {
			break
		}
		if n < 0 || n >= MaxFDNumber {
			return fail(fmt.Errorf("fd list entry %d: %w: %d", i, ErrFDNumber, n))
		}
		if seen[n] {
			return fail(fmt.Errorf("fd list entry %d: %w: %d", i, ErrDuplicateFD, n))
		}
		if len(r.FDs) >= d.lim.FDs {
			return fail(fmt.Errorf("fd list: %w: more than %d descriptors", ErrTooMany, d.lim.FDs))
		}
		seen[n] = true
		fd, err := d.readMarker(false)
		if err != nil {
			return fail(fmt.Errorf("fd list entry %d (fd %d): %w", i, n, err))
		}
		if fd == NoFD {
			return fail(fmt.Errorf("fd list entry %d (fd %d): 'X' marker: %w", i, n, ErrMissingFD))
		}
		held = append(held, fd)
		r.FDs = append(r.FDs, PassedFD{Num: int(n), FD: fd})
	}
	um, err := d.readInt(false)
	if err != nil {
		return fail(fmt.Errorf("umask: %w", err))
	}
	if um < 0 || um > 0o777 {
		return fail(fmt.Errorf("umask %#o: %w", um, ErrBadValue))
	}
	r.Umask = uint32(um)
	if r.Root, err = d.readMarker(false); err != nil {
		return fail(fmt.Errorf("root directory: %w", err))
	}
	if r.Root != NoFD {
		held = append(held, r.Root)
	}
	if r.Cwd, err = d.readMarker(false); err != nil {
		return fail(fmt.Errorf("current directory: %w", err))
	}
	if r.Cwd != NoFD {
		held = append(held, r.Cwd)
	}
	if r.Argv, err = d.readBlock(d.lim.Args, d.lim.ArgBytes, ErrMalformedArgv); err != nil {
		return fail(fmt.Errorf("argv: %w", err))
	}
	if r.Env, err = d.readBlock(d.lim.Env, d.lim.EnvBytes, ErrMalformedEnv); err != nil {
		return fail(fmt.Errorf("environment: %w", err))
	}
	return r, nil
}

// readBlock reads `int count, int totlen` and totlen bytes holding exactly
// count NUL-terminated strings.
func (d *Decoder) readBlock(maxCount, maxBytes int, malformed error) ([]string, error) {
	count, err := d.readInt(false)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	total, err := d.readInt(false)
	if err != nil {
		return nil, fmt.Errorf("length: %w", err)
	}
	switch {
	case count < 0 || total < 0:
		return nil, fmt.Errorf("%w: count %d, length %d", malformed, count, total)
	case int64(count) > int64(maxCount):
		return nil, fmt.Errorf("%w: %d entries (limit %d)", ErrTooMany, count, maxCount)
	case int64(total) > int64(maxBytes):
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooMany, total, maxBytes)
	case count > total:
		// Every entry takes at least its NUL; refuse before reading.
		return nil, fmt.Errorf("%w: %d entries in %d bytes", malformed, count, total)
	}
	block, err := d.src.ReadBytes(int(total))
	if err != nil {
		return nil, fmt.Errorf("block: %w", eofMid(err))
	}
	return splitBlock(block, int(count), malformed)
}

// splitBlock splits a block of exactly count NUL-terminated strings.
func splitBlock(block []byte, count int, malformed error) ([]string, error) {
	if count == 0 {
		if len(block) != 0 {
			return nil, fmt.Errorf("%w: no entries but %d bytes", malformed, len(block))
		}
		return []string{}, nil
	}
	if block[len(block)-1] != 0 {
		return nil, fmt.Errorf("%w: last entry not NUL-terminated", malformed)
	}
	if n := bytes.Count(block, []byte{0}); n != count {
		return nil, fmt.Errorf("%w: %d NUL-terminated entries, count says %d", malformed, n, count)
	}
	out := make([]string, 0, count)
	for len(block) > 0 {
		i := bytes.IndexByte(block, 0)
		out = append(out, string(block[:i]))
		block = block[i+1:]
	}
	return out, nil
}

// ReadStarted reads the program's pid and the server's signal mode.
func (d *Decoder) ReadStarted() (Started, error) {
	pid, err := d.readInt(true)
	if err != nil {
		return Started{}, fmt.Errorf("read started: pid: %w", err)
	}
	if pid <= 0 {
		return Started{}, fmt.Errorf("read started: pid %d: %w", pid, ErrBadValue)
	}
	m, err := d.readInt(false)
	if err != nil {
		return Started{}, fmt.Errorf("read started: signal mode: %w", err)
	}
	if m < int32(SignalsOff) || m > int32(SignalsGroup) {
		return Started{}, fmt.Errorf("read started: signal mode %d: %w", m, ErrBadValue)
	}
	return Started{PID: pid, SignalMode: SignalMode(m)}, nil
}

// ReadSignalChannel reads the client's signal-channel descriptor slot.
func (d *Decoder) ReadSignalChannel() (SignalChannel, error) {
	fd, err := d.readMarker(true)
	if err != nil {
		return SignalChannel{}, fmt.Errorf("read signal channel: %w", err)
	}
	return SignalChannel{FD: fd}, nil
}

// ReadExit reads the program's status.
func (d *Decoder) ReadExit() (Exit, error) {
	s, err := d.readInt(true)
	if err != nil {
		return Exit{}, fmt.Errorf("read exit: %w", err)
	}
	if s < 0 || s > 255 {
		return Exit{}, fmt.Errorf("read exit: status %d: %w", s, ErrBadValue)
	}
	return Exit{Status: s}, nil
}
