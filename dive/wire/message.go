package wire

import (
	"fmt"
	"syscall"
	"unicode/utf8"
)

// NoFD marks an absent descriptor.
const NoFD = -1

// Version is the native protocol version this package speaks.
const Version = 1

// Message is one of the message types of this package: Hello, Request,
// Started, WinSize, Signal, Exit, Error.
type Message interface {
	Type() Type
	// encode appends the payload and returns the descriptors in wire order.
	encode(b []byte) ([]byte, []int, error)
}

// Encode turns m into a frame on stream. Hello travels on stream 0, every
// other message on a non-zero stream.
func Encode(stream uint32, m Message) (Frame, error) {
	if err := checkStream(m.Type(), stream); err != nil {
		return Frame{}, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	p, fds, err := m.encode(nil)
	if err != nil {
		return Frame{}, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	if len(p) > MaxFrameBytes || len(fds) > MaxFrameFDs {
		return Frame{}, fmt.Errorf("encode %s: %d bytes, %d descriptors: %w", m.Type(), len(p), len(fds), ErrFrameTooLarge)
	}
	return Frame{Type: m.Type(), Stream: stream, Payload: p, FDs: fds}, nil
}

// Decode turns a frame into its message. It takes no ownership of f.FDs: on
// error the caller still owns (and must close) them; on success they are
// referenced by the message.
func Decode(f Frame, lim Limits) (Message, error) {
	lim = lim.withDefaults()
	if err := checkStream(f.Type, f.Stream); err != nil {
		return nil, fmt.Errorf("decode %s: %w", f.Type, err)
	}
	if len(f.Payload) > lim.FrameBytes {
		return nil, fmt.Errorf("decode %s: %w", f.Type, ErrFrameTooLarge)
	}
	if len(f.FDs) > lim.FDs {
		return nil, fmt.Errorf("decode %s: %d descriptors: %w", f.Type, len(f.FDs), ErrTooMany)
	}
	var m Message
	var err error
	r := &reader{b: f.Payload}
	switch f.Type {
	case TypeHello:
		m, err = decodeHello(r, f.FDs)
	case TypeRequest:
		m, err = decodeRequest(r, f.FDs, lim)
	case TypeStarted:
		m, err = decodeStarted(r, f.FDs)
	case TypeWinSize:
		m, err = decodeWinSize(r, f.FDs)
	case TypeSignal:
		m, err = decodeSignal(r, f.FDs)
	case TypeExit:
		m, err = decodeExit(r, f.FDs)
	case TypeError:
		m, err = decodeError(r, f.FDs)
	default:
		err = fmt.Errorf("%w: %d", ErrUnknownType, uint16(f.Type))
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", f.Type, err)
	}
	return m, nil
}

func checkStream(t Type, stream uint32) error {
	if (t == TypeHello) != (stream == 0) {
		return fmt.Errorf("%s on stream %d: %w", t, stream, ErrStream)
	}
	return nil
}

func noFDs(fds []int) error {
	if len(fds) != 0 {
		return fmt.Errorf("%d descriptors on a message that carries none: %w", len(fds), ErrFDCount)
	}
	return nil
}

// Caps are capability bits, offered in Hello and agreed by Negotiate.
type Caps uint64

const (
	// CapPidFD: Started may carry a pidfd of the program.
	CapPidFD Caps = 1 << iota
	// CapWinSize: the client sends window sizes (Request and WinSize).
	CapWinSize
	// CapStructuredErrors: failures are reported as Error messages.
	CapStructuredErrors
	// CapPaths: Request may name cwd and root by path, resolved by the server.
	CapPaths
)

// Hello opens the native conversation on stream 0: the client sends its
// highest version and the capabilities it wants, the server answers with the
// result of Negotiate. Unknown capability bits are carried, not rejected.
type Hello struct {
	Version uint32
	Caps    Caps
}

func (Hello) Type() Type { return TypeHello }

func (h Hello) encode(b []byte) ([]byte, []int, error) {
	if h.Version == 0 {
		return b, nil, fmt.Errorf("version 0: %w", ErrBadValue)
	}
	return appendU64(appendU32(b, h.Version), uint64(h.Caps)), nil, nil
}

func decodeHello(r *reader, fds []int) (Message, error) {
	h := Hello{Version: r.u32("version"), Caps: Caps(r.u64("capabilities"))}
	if err := r.done(); err != nil {
		return nil, err
	}
	if h.Version == 0 {
		return nil, fmt.Errorf("version 0: %w", ErrBadValue)
	}
	return h, noFDs(fds)
}

// Negotiate returns what a server that supports (Version, caps) answers to
// the client's Hello: the lower version and the common capabilities.
func Negotiate(client Hello, version uint32, caps Caps) (Hello, error) {
	v := min(client.Version, version)
	if v == 0 {
		return Hello{}, fmt.Errorf("client version %d, server version %d: %w", client.Version, version, ErrVersion)
	}
	return Hello{Version: v, Caps: client.Caps & caps}, nil
}

// Started tells the client that the program runs (exec succeeded).
type Started struct {
	PID uint32 // > 0
	// HasPidFD says a pidfd of the program is attached (CapPidFD); PidFD is
	// that descriptor.
	HasPidFD bool
	PidFD    int
}

func (Started) Type() Type { return TypeStarted }

func (s Started) encode(b []byte) ([]byte, []int, error) {
	if s.PID == 0 || s.PID > 1<<22 {
		return b, nil, fmt.Errorf("pid %d: %w", s.PID, ErrBadValue)
	}
	var flags uint32
	var fds []int
	if s.HasPidFD {
		if s.PidFD < 0 {
			return b, nil, fmt.Errorf("pidfd %d: %w", s.PidFD, ErrBadValue)
		}
		flags |= 1
		fds = []int{s.PidFD}
	}
	return appendU32(appendU32(b, s.PID), flags), fds, nil
}

func decodeStarted(r *reader, fds []int) (Message, error) {
	s := Started{PID: r.u32("pid"), PidFD: NoFD}
	flags := r.u32("flags")
	if err := r.done(); err != nil {
		return nil, err
	}
	if s.PID == 0 || s.PID > 1<<22 {
		return nil, fmt.Errorf("pid %d: %w", s.PID, ErrBadValue)
	}
	if flags&^1 != 0 {
		return nil, fmt.Errorf("flags %#x: %w", flags, ErrReserved)
	}
	s.HasPidFD = flags&1 != 0
	want := 0
	if s.HasPidFD {
		want = 1
	}
	if len(fds) != want {
		return nil, fmt.Errorf("pidfd flag %v with %d descriptors: %w", s.HasPidFD, len(fds), ErrFDCount)
	}
	if s.HasPidFD {
		s.PidFD = fds[0]
	}
	return s, nil
}

// WinSize is a terminal window size (struct winsize), sent in Request and
// whenever the client's terminal changes size.
type WinSize struct {
	Rows, Cols, XPixel, YPixel uint16
}

func (WinSize) Type() Type { return TypeWinSize }

func (w WinSize) encode(b []byte) ([]byte, []int, error) {
	return appendU16(appendU16(appendU16(appendU16(b, w.Rows), w.Cols), w.XPixel), w.YPixel), nil, nil
}

func readWinSize(r *reader) WinSize {
	return WinSize{Rows: r.u16("rows"), Cols: r.u16("cols"), XPixel: r.u16("xpixel"), YPixel: r.u16("ypixel")}
}

func decodeWinSize(r *reader, fds []int) (Message, error) {
	w := readWinSize(r)
	if err := r.done(); err != nil {
		return nil, err
	}
	return w, noFDs(fds)
}

// MaxSignal is the highest signal number (SIGRTMAX on Linux).
const MaxSignal = 64

// Signal asks the server to deliver a signal to the program (or its process
// group, per Request.Signals).
type Signal struct {
	Signo uint32 // 1..MaxSignal
}

func (Signal) Type() Type { return TypeSignal }

func (s Signal) encode(b []byte) ([]byte, []int, error) {
	if s.Signo == 0 || s.Signo > MaxSignal {
		return b, nil, fmt.Errorf("signal %d: %w", s.Signo, ErrBadValue)
	}
	return appendU32(b, s.Signo), nil, nil
}

func decodeSignal(r *reader, fds []int) (Message, error) {
	s := Signal{Signo: r.u32("signal")}
	if err := r.done(); err != nil {
		return nil, err
	}
	if s.Signo == 0 || s.Signo > MaxSignal {
		return nil, fmt.Errorf("signal %d: %w", s.Signo, ErrBadValue)
	}
	return s, noFDs(fds)
}

// Exit ends a request: the program exited with Code, or was killed by
// Signal (non-zero), possibly dumping core. Unlike protocol 1100 the two are
// told apart; a stopped program is not an exit.
type Exit struct {
	Code       uint8
	Signal     uint32 // 0, or 1..MaxSignal when killed
	CoreDumped bool   // only with Signal
}

func (Exit) Type() Type { return TypeExit }

const (
	exitExited   = 1
	exitSignaled = 2
)

func (x Exit) encode(b []byte) ([]byte, []int, error) {
	switch {
	case x.Signal > MaxSignal:
		return b, nil, fmt.Errorf("signal %d: %w", x.Signal, ErrBadValue)
	case x.Signal != 0 && x.Code != 0:
		return b, nil, fmt.Errorf("both exit code %d and signal %d: %w", x.Code, x.Signal, ErrBadValue)
	case x.Signal == 0 && x.CoreDumped:
		return b, nil, fmt.Errorf("core dump without a signal: %w", ErrBadValue)
	}
	kind, value, flags := uint8(exitExited), uint32(x.Code), uint8(0)
	if x.Signal != 0 {
		kind, value = exitSignaled, x.Signal
	}
	if x.CoreDumped {
		flags = 1
	}
	b = append(b, kind, flags)
	b = appendU16(b, 0)
	return appendU32(b, value), nil, nil
}

func decodeExit(r *reader, fds []int) (Message, error) {
	kind, flags, reserved, value := r.u8("kind"), r.u8("flags"), r.u16("reserved"), r.u32("value")
	if err := r.done(); err != nil {
		return nil, err
	}
	if reserved != 0 || flags&^1 != 0 {
		return nil, fmt.Errorf("flags %#x reserved %#x: %w", flags, reserved, ErrReserved)
	}
	var x Exit
	switch kind {
	case exitExited:
		if value > 255 || flags != 0 {
			return nil, fmt.Errorf("exit code %d flags %#x: %w", value, flags, ErrBadValue)
		}
		x.Code = uint8(value)
	case exitSignaled:
		if value == 0 || value > MaxSignal {
			return nil, fmt.Errorf("signal %d: %w", value, ErrBadValue)
		}
		x.Signal, x.CoreDumped = value, flags&1 != 0
	default:
		return nil, fmt.Errorf("exit kind %d: %w", kind, ErrBadValue)
	}
	return x, noFDs(fds)
}

// Error limits.
const (
	MaxStepLen    = 64
	MaxMessageLen = 4096
)

// Error is a structured failure: which step of starting the program failed
// (a short lowercase name such as "setns", "chroot", "exec"), the errno if a
// system call failed, and a one-line message for the user.
type Error struct {
	Step    string
	Errno   syscall.Errno
	Message string
}

func (Error) Type() Type { return TypeError }

func (e Error) Error() string {
	s := e.Step + ": " + e.Message
	if e.Errno != 0 {
		s += ": " + e.Errno.Error()
	}
	return s
}

// Unwrap returns the errno, so errors.Is(err, syscall.ENOENT) works.
func (e Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

func checkError(e Error) error {
	if len(e.Step) == 0 || len(e.Step) > MaxStepLen {
		return fmt.Errorf("step %q: length %d not in 1..%d: %w", e.Step, len(e.Step), MaxStepLen, ErrBadValue)
	}
	for i := 0; i < len(e.Step); i++ {
		c := e.Step[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("step %q: byte %#02x not in [a-z0-9._-]: %w", e.Step, c, ErrBadValue)
		}
	}
	if len(e.Message) > MaxMessageLen || !utf8.ValidString(e.Message) {
		return fmt.Errorf("message: not UTF-8 of at most %d bytes: %w", MaxMessageLen, ErrBadValue)
	}
	return nil
}

func (e Error) encode(b []byte) ([]byte, []int, error) {
	if err := checkError(e); err != nil {
		return b, nil, err
	}
	b = appendU32(b, uint32(e.Errno))
	b = append(b, uint8(len(e.Step)))
	b = append(b, e.Step...)
	b = appendU16(b, uint16(len(e.Message)))
	return append(b, e.Message...), nil, nil
}

func decodeError(r *reader, fds []int) (Message, error) {
	e := Error{Errno: syscall.Errno(r.u32("errno"))}
	e.Step = string(r.take(int(r.u8("step length")), "step"))
	e.Message = string(r.take(int(r.u16("message length")), "message"))
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := checkError(e); err != nil {
		return nil, err
	}
	return e, noFDs(fds)
}
