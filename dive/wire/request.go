package wire

import (
	"fmt"
	"strings"
)

// WaitMode says whether the client wants the program's end reported.
type WaitMode uint8

const (
	// WaitExit (the default): the server sends Started, then Exit or Error.
	WaitExit WaitMode = 0
	// WaitDetach: the server sends Started and forgets the program.
	WaitDetach WaitMode = 1
)

// SignalTarget says where the server delivers Signal messages.
type SignalTarget uint8

const (
	SignalProcess SignalTarget = 0 // the program's pid (the default)
	SignalGroup   SignalTarget = 1 // the program's process group (the program leads it)
)

// DirKind says how a Request names a directory.
type DirKind uint8

const (
	DirInherit DirKind = 0 // the server's choice (the default)
	DirFD      DirKind = 1 // an attached descriptor, as dive sends
	DirPath    DirKind = 2 // a path resolved by the server (CapPaths)
)

// MaxPathLen bounds a path in a Request (PATH_MAX).
const MaxPathLen = 4096

// Dir names the program's working or root directory.
type Dir struct {
	Kind DirKind
	FD   int    // with DirFD
	Path string // with DirPath: non-empty, no NUL
}

// Terminal is the descriptor to make the program's controlling terminal,
// kept apart from the fd list so that it never collides with a passed
// descriptor (dived bug 4).
type Terminal struct {
	FD   int
	Size *WinSize // initial window size (CapWinSize), or nil
}

// PassedFD is one descriptor the program gets.
type PassedFD struct {
	Target uint32 // the number the program sees; any value up to Limits.MaxTarget
	FD     int    // the descriptor carrying it
}

// Request asks the server to start a program. Descriptors travel attached to
// the frame in this order: terminal, cwd (DirFD), root (DirFD), then FDs.
type Request struct {
	Argv     []string // argv[0] is the program; at least one entry
	Env      []string // "KEY=VALUE" entries
	Cwd      Dir
	Root     Dir
	SetUmask bool   // apply Umask; otherwise the server's umask stays
	Umask    uint32 // 0..0777, zero unless SetUmask
	FDs      []PassedFD
	Terminal *Terminal // nil: no controlling terminal
	Wait     WaitMode
	Signals  SignalTarget
}

func (Request) Type() Type { return TypeRequest }

const (
	reqTerminal = 1 << 0
	reqWinSize  = 1 << 1
	reqUmask    = 1 << 2
	reqKnown    = reqTerminal | reqWinSize | reqUmask
)

func (q Request) encode(b []byte) ([]byte, []int, error) {
	if err := checkRequest(q); err != nil {
		return b, nil, err
	}
	var flags uint32
	var fds []int
	var ws WinSize
	if q.Terminal != nil {
		flags |= reqTerminal
		fds = append(fds, q.Terminal.FD)
		if q.Terminal.Size != nil {
			flags |= reqWinSize
			ws = *q.Terminal.Size
		}
	}
	if q.SetUmask {
		flags |= reqUmask
	}
	for _, d := range []Dir{q.Cwd, q.Root} {
		if d.Kind == DirFD {
			fds = append(fds, d.FD)
		}
	}
	b = appendU32(b, flags)
	b = append(b, uint8(q.Wait), uint8(q.Signals), uint8(q.Cwd.Kind), uint8(q.Root.Kind))
	b = appendU32(b, q.Umask)
	b, _, _ = ws.encode(b)
	b = appendU32(b, uint32(len(q.FDs)))
	for _, p := range q.FDs {
		b = appendU32(b, p.Target)
		fds = append(fds, p.FD)
	}
	for _, d := range []Dir{q.Cwd, q.Root} {
		if d.Kind == DirPath {
			b = appendStr(b, d.Path)
		}
	}
	for _, list := range [][]string{q.Argv, q.Env} {
		b = appendU32(b, uint32(len(list)))
		for _, s := range list {
			b = appendStr(b, s)
		}
	}
	return b, fds, nil
}

// checkRequest applies the rules the decoder enforces (with the hard bounds,
// not a peer's Limits), so that nothing undecodable is sent.
func checkRequest(q Request) error {
	lim := Limits{MaxTarget: ^uint32(0), Args: 1 << 30, ArgBytes: MaxFrameBytes, Env: 1 << 30, EnvBytes: MaxFrameBytes}.withDefaults()
	if q.Wait > WaitDetach {
		return fmt.Errorf("wait mode %d: %w", q.Wait, ErrBadValue)
	}
	if q.Signals > SignalGroup {
		return fmt.Errorf("signal target %d: %w", q.Signals, ErrBadValue)
	}
	if !q.SetUmask && q.Umask != 0 {
		return fmt.Errorf("umask %#o without SetUmask: %w", q.Umask, ErrBadValue)
	}
	if q.Umask > 0o777 {
		return fmt.Errorf("umask %#o: %w", q.Umask, ErrBadValue)
	}
	if q.Terminal != nil && q.Terminal.FD < 0 {
		return fmt.Errorf("terminal descriptor %d: %w", q.Terminal.FD, ErrBadValue)
	}
	if err := checkDir("cwd", q.Cwd); err != nil {
		return err
	}
	if err := checkDir("root", q.Root); err != nil {
		return err
	}
	if err := checkFDs(q.FDs, lim); err != nil {
		return err
	}
	if err := checkStrings("argv", q.Argv, lim.Args, lim.ArgBytes); err != nil {
		return err
	}
	if len(q.Argv) == 0 {
		return fmt.Errorf("argv: empty: %w", ErrBadValue)
	}
	if err := checkStrings("env", q.Env, lim.Env, lim.EnvBytes); err != nil {
		return err
	}
	for i, e := range q.Env {
		if strings.IndexByte(e, '=') < 1 {
			return fmt.Errorf("env entry %d %q: not KEY=VALUE: %w", i, e, ErrBadValue)
		}
	}
	return nil
}

func checkDir(name string, d Dir) error {
	switch d.Kind {
	case DirInherit:
		if d.FD != 0 && d.FD != NoFD || d.Path != "" {
			return fmt.Errorf("%s: inherited directory with a descriptor or path: %w", name, ErrBadValue)
		}
	case DirFD:
		if d.FD < 0 || d.Path != "" {
			return fmt.Errorf("%s: descriptor %d, path %q: %w", name, d.FD, d.Path, ErrBadValue)
		}
	case DirPath:
		if d.Path == "" || strings.IndexByte(d.Path, 0) >= 0 || d.FD != 0 && d.FD != NoFD {
			return fmt.Errorf("%s: path %q: %w", name, d.Path, ErrBadValue)
		}
		if len(d.Path) > MaxPathLen {
			return fmt.Errorf("%s: path of %d bytes (limit %d): %w", name, len(d.Path), MaxPathLen, ErrTooMany)
		}
	default:
		return fmt.Errorf("%s: kind %d: %w", name, d.Kind, ErrBadValue)
	}
	return nil
}

func checkFDs(fds []PassedFD, lim Limits) error {
	seen := make(map[uint32]bool, len(fds))
	for i, p := range fds {
		if p.Target > lim.MaxTarget {
			return fmt.Errorf("fd entry %d: target %d above %d: %w", i, p.Target, lim.MaxTarget, ErrBadValue)
		}
		if seen[p.Target] {
			return fmt.Errorf("fd entry %d: target %d twice: %w", i, p.Target, ErrBadValue)
		}
		seen[p.Target] = true
		if p.FD < 0 {
			return fmt.Errorf("fd entry %d: descriptor %d: %w", i, p.FD, ErrBadValue)
		}
	}
	return nil
}

func checkStrings(field string, ss []string, maxCount, maxBytes int) error {
	if len(ss) > maxCount {
		return fmt.Errorf("%s: %d entries (limit %d): %w", field, len(ss), maxCount, ErrTooMany)
	}
	total := 0
	for i, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%s entry %d: contains NUL: %w", field, i, ErrBadValue)
		}
		total += len(s)
		if total > maxBytes {
			return fmt.Errorf("%s: more than %d bytes: %w", field, maxBytes, ErrTooMany)
		}
	}
	return nil
}

func decodeRequest(r *reader, fds []int, lim Limits) (Message, error) {
	var q Request
	flags := r.u32("flags")
	q.Wait = WaitMode(r.u8("wait mode"))
	q.Signals = SignalTarget(r.u8("signal target"))
	q.Cwd.Kind = DirKind(r.u8("cwd kind"))
	q.Root.Kind = DirKind(r.u8("root kind"))
	q.Umask = r.u32("umask")
	ws := readWinSize(r)
	nfds := r.u32("fd count")
	if r.err != nil {
		return nil, r.err
	}
	if flags&^reqKnown != 0 {
		return nil, fmt.Errorf("flags %#x: %w", flags, ErrReserved)
	}
	q.SetUmask = flags&reqUmask != 0
	if flags&reqWinSize != 0 && flags&reqTerminal == 0 {
		return nil, fmt.Errorf("window size without a terminal: %w", ErrBadValue)
	}
	if flags&reqWinSize == 0 && ws != (WinSize{}) {
		return nil, fmt.Errorf("window size fields set without the flag: %w", ErrReserved)
	}
	// Count the descriptors the payload promises before trusting nfds.
	want := uint64(nfds)
	if flags&reqTerminal != 0 {
		want++
	}
	for _, k := range []DirKind{q.Cwd.Kind, q.Root.Kind} {
		if k == DirFD {
			want++
		}
	}
	if want != uint64(len(fds)) {
		return nil, fmt.Errorf("payload names %d descriptors, %d attached: %w", want, len(fds), ErrFDCount)
	}
	next := 0
	take := func() int { fd := fds[next]; next++; return fd }
	if flags&reqTerminal != 0 {
		q.Terminal = &Terminal{FD: take()}
		if flags&reqWinSize != 0 {
			q.Terminal.Size = &ws
		}
	}
	for _, d := range []*Dir{&q.Cwd, &q.Root} {
		if d.Kind == DirFD {
			d.FD = take()
		}
	}
	if nfds > 0 {
		q.FDs = make([]PassedFD, nfds)
		for i := range q.FDs {
			q.FDs[i] = PassedFD{Target: r.u32("fd target"), FD: take()}
		}
	}
	for _, d := range []*Dir{&q.Cwd, &q.Root} {
		if d.Kind == DirPath {
			d.Path = r.str("path", MaxPathLen)
		}
	}
	q.Argv = readStrings(r, "argv", lim.Args, lim.ArgBytes)
	q.Env = readStrings(r, "env", lim.Env, lim.EnvBytes)
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := checkRequest(q); err != nil {
		return nil, err
	}
	if err := checkFDs(q.FDs, lim); err != nil {
		return nil, err
	}
	return q, nil
}

// readStrings reads a u32 count and that many length-prefixed strings,
// refusing counts and totals above the limits before allocating for them.
func readStrings(r *reader, field string, maxCount, maxBytes int) []string {
	n := r.u32(field + " count")
	if r.err != nil {
		return nil
	}
	// Each entry takes at least its 4-byte length.
	if uint64(n) > uint64(maxCount) {
		r.fail(fmt.Errorf("%s: %d entries (limit %d): %w", field, n, maxCount, ErrTooMany))
		return nil
	}
	if uint64(n)*4 > uint64(len(r.b)) {
		r.fail(fmt.Errorf("%s: %d entries in %d bytes: %w", field, n, len(r.b), ErrShort))
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	total := 0
	for i := uint32(0); i < n && r.err == nil; i++ {
		s := r.str(field, maxBytes-total)
		total += len(s)
		out = append(out, s)
	}
	return out
}
