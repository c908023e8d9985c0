package proto1100

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"
)

// build assembles a little-endian LP64 stream from parts: int32 values,
// []byte raw bytes, fdAt(n) an 'F' marker carrying fd n, and 'X' markers.
type fdAt int

func build(parts ...any) *Buffer {
	b := &Buffer{}
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b.Data = LayoutLP64LE.appendInt(b.Data, int32(v))
		case int64:
			b.Data = LayoutLP64LE.appendLong(b.Data, v)
		case []byte:
			b.Data = append(b.Data, v...)
		case string:
			b.Data = append(b.Data, v...)
		case fdAt:
			b.FDs = append(b.FDs, Rights{Offset: len(b.Data), FD: int(v)})
			b.Data = append(b.Data, MarkerFD)
		default:
			panic("build: unknown part")
		}
	}
	return b
}

// request parts after the fd list: umask, root, cwd, argv, env.
func tail(argv, env []any) []any {
	out := []any{022, fdAt(20), fdAt(21)}
	out = append(out, argv...)
	return append(out, env...)
}

var okArgv = []any{2, 6, "ls\x00-l\x00"}
var okEnv = []any{1, 4, "A=1\x00"}

func TestReadRequestRejects(t *testing.T) {
	withFDs := func(fds []any, rest ...any) *Buffer { return build(append(fds, rest...)...) }
	tests := []struct {
		name string
		in   *Buffer
		lim  Limits
		want error
	}{
		{"argv count above the number of strings", build(append([]any{-1}, tail([]any{3, 6, "ls\x00-l\x00"}, okEnv)...)...), Limits{}, ErrMalformedArgv},
		{"argv count below the number of strings", build(append([]any{-1}, tail([]any{1, 6, "ls\x00-l\x00"}, okEnv)...)...), Limits{}, ErrMalformedArgv},
		{"argv without trailing NUL", build(append([]any{-1}, tail([]any{2, 6, "ls\x00-lx"}, okEnv)...)...), Limits{}, ErrMalformedArgv},
		{"argv count larger than its length", build(append([]any{-1}, tail([]any{9, 6, "ls\x00-l\x00"}, okEnv)...)...), Limits{}, ErrMalformedArgv},
		{"argv negative count", build(append([]any{-1}, tail([]any{-1, 0}, okEnv)...)...), Limits{}, ErrMalformedArgv},
		{"argv zero count with bytes", build(append([]any{-1}, tail([]any{0, 1, "\x00"}, okEnv)...)...), Limits{}, ErrMalformedArgv},
		{"argv over the entry limit", build(append([]any{-1}, tail(okArgv, okEnv)...)...), Limits{Args: 1}, ErrTooMany},
		{"argv over the byte limit", build(append([]any{-1}, tail(okArgv, okEnv)...)...), Limits{ArgBytes: 4}, ErrTooMany},
		{"env block not matching its count", build(append([]any{-1}, tail(okArgv, []any{2, 4, "A=1\x00"})...)...), Limits{}, ErrMalformedEnv},
		{"env over the byte limit", build(append([]any{-1}, tail(okArgv, okEnv)...)...), Limits{EnvBytes: 3}, ErrTooMany},
		{"env block cut short", build(append([]any{-1}, tail(okArgv, []any{1, 4, "A="})...)...), Limits{}, io.ErrUnexpectedEOF},
		{"fd number 1024", withFDs([]any{1024, fdAt(9), -1}, tail(okArgv, okEnv)...), Limits{}, ErrFDNumber},
		{"fd number below -1", withFDs([]any{-2, fdAt(9), -1}, tail(okArgv, okEnv)...), Limits{}, ErrFDNumber},
		{"fd number sent twice", withFDs([]any{3, fdAt(9), 3, fdAt(10), -1}, tail(okArgv, okEnv)...), Limits{}, ErrDuplicateFD},
		{"more fds than the limit", withFDs([]any{3, fdAt(9), 4, fdAt(10), -1}, tail(okArgv, okEnv)...), Limits{FDs: 1}, ErrTooMany},
		{"fd entry with X marker", withFDs([]any{3, "X", -1}, tail(okArgv, okEnv)...), Limits{}, ErrMissingFD},
		{"F marker without descriptor", withFDs([]any{3, "F", -1}, tail(okArgv, okEnv)...), Limits{}, ErrMissingFD},
		{"unknown marker byte", withFDs([]any{3, "Z", -1}, tail(okArgv, okEnv)...), Limits{}, ErrBadMarker},
		{"descriptor on an integer byte", &Buffer{Data: build(-1).Data, FDs: []Rights{{Offset: 1, FD: 9}}}, Limits{}, ErrUnexpectedFD},
		{"umask above 0777", build(-1, 0o1000, fdAt(20), fdAt(21), 0, 0, 0, 0), Limits{}, ErrBadValue},
		{"stream ends inside the fd list", build(3, fdAt(9)), Limits{}, io.ErrUnexpectedEOF},
		{"empty stream", build(), Limits{}, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDecoder(tc.in, LayoutLP64LE, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.ReadRequest()
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadRequest = %+v, %v; want %v", r, err, tc.want)
			}
		})
	}
}

func TestReadRequestAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   *Buffer
		argv []string
		env  []string
	}{
		{"empty argv and env", build(-1, 0, "X", "X", 0, 0, 0, 0), []string{}, []string{}},
		{"empty strings are entries", build(-1, 0, "X", "X", 2, 2, "\x00\x00", 1, 1, "\x00"), []string{"", ""}, []string{""}},
		{"env entry without = is kept", build(-1, 0, "X", "X", 1, 2, "a\x00", 1, 5, "NOEQ\x00"), []string{"a"}, []string{"NOEQ"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := NewDecoder(tc.in, LayoutLP64LE, Limits{})
			r, err := d.ReadRequest()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Argv, tc.argv) || !slices.Equal(r.Env, tc.env) {
				t.Fatalf("got %q %q, want %q %q", r.Argv, r.Env, tc.argv, tc.env)
			}
		})
	}
}

func TestReadScalarsRejects(t *testing.T) {
	tests := []struct {
		name string
		in   *Buffer
		read func(*Decoder) error
		want error
	}{
		{"version 1099", build(int64(1099), 5), func(d *Decoder) error { _, err := d.ReadHello(); return err }, ErrVersion},
		{"helper pid 0", build(int64(1100), 0), func(d *Decoder) error { _, err := d.ReadHello(); return err }, ErrBadValue},
		{"hello cut after the version", build(int64(1100)), func(d *Decoder) error { _, err := d.ReadHello(); return err }, io.ErrUnexpectedEOF},
		{"no hello at all", build(), func(d *Decoder) error { _, err := d.ReadHello(); return err }, io.EOF},
		{"wait flag 2", build(fdAt(0), 2), func(d *Decoder) error { _, err := d.ReadIntro(); return err }, ErrBadValue},
		{"native upgrade flag is not 1100", build(fdAt(0), "cove"), func(d *Decoder) error { _, err := d.ReadIntro(); return err }, ErrBadValue},
		{"wait reply 7", build(7), func(d *Decoder) error { _, err := d.ReadWaitReply(); return err }, ErrBadValue},
		{"signal mode 3", build(100, 3), func(d *Decoder) error { _, err := d.ReadStarted(); return err }, ErrBadValue},
		{"program pid -1", build(-1, 0), func(d *Decoder) error { _, err := d.ReadStarted(); return err }, ErrBadValue},
		{"exit status 256", build(256), func(d *Decoder) error { _, err := d.ReadExit(); return err }, ErrBadValue},
		{"exit status cut short", build([]byte{1, 0}), func(d *Decoder) error { _, err := d.ReadExit(); return err }, io.ErrUnexpectedEOF},
		{"signal channel bad marker", build("Q"), func(d *Decoder) error { _, err := d.ReadSignalChannel(); return err }, ErrBadMarker},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := NewDecoder(tc.in, LayoutLP64LE, Limits{})
			if err := tc.read(d); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLayouts(t *testing.T) {
	tests := []struct {
		name  string
		l     Layout
		hello string // hex of Hello{HelperPID: 0x01020304}
	}{
		{"lp64 little-endian: 8-byte long", LayoutLP64LE, "4c0400000000000004030201"},
		{"lp64 big-endian", LayoutLP64BE, "000000000000044c01020304"},
		{"ilp32 little-endian: 4-byte long", LayoutILP32LE, "4c04000004030201"},
		{"ilp32 big-endian", LayoutILP32BE, "0000044c01020304"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Buffer
			e, err := NewEncoder(&b, tc.l)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.WriteHello(Hello{HelperPID: 0x01020304}); err != nil {
				t.Fatal(err)
			}
			if got := hexs(b.Data); got != tc.hello {
				t.Fatalf("hello %s, want %s", got, tc.hello)
			}
			d, _ := NewDecoder(&b, tc.l, Limits{})
			h, err := d.ReadHello()
			if err != nil || h.HelperPID != 0x01020304 {
				t.Fatalf("ReadHello = %+v, %v", h, err)
			}
		})
	}
	if _, err := NewDecoder(&Buffer{}, Layout(0), Limits{}); !errors.Is(err, ErrLayout) {
		t.Errorf("zero layout accepted: %v", err)
	}
	if l := NativeLayout(); !l.Valid() || l.LongSize() != strconv.IntSize/8 {
		t.Errorf("NativeLayout() = %v with %d-byte long on a %d-bit machine", l, l.LongSize(), strconv.IntSize)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestEncoderRefusesWithoutWriting(t *testing.T) {
	ok := Request{Root: 4, Cwd: 5, Argv: []string{"true"}}
	tests := []struct {
		name string
		r    func(Request) Request
		want error
	}{
		{"fd number 1024 is refused, not dropped", func(r Request) Request { r.FDs = []PassedFD{{Num: 1024, FD: 3}}; return r }, ErrFDNumber},
		{"negative fd number", func(r Request) Request { r.FDs = []PassedFD{{Num: -1, FD: 3}}; return r }, ErrFDNumber},
		{"duplicate fd number", func(r Request) Request { r.FDs = []PassedFD{{3, 3}, {3, 4}}; return r }, ErrDuplicateFD},
		{"negative descriptor", func(r Request) Request { r.FDs = []PassedFD{{Num: 3, FD: -1}}; return r }, ErrBadValue},
		{"NUL inside an argument", func(r Request) Request { r.Argv = []string{"a\x00b"}; return r }, ErrNUL},
		{"NUL inside an env entry", func(r Request) Request { r.Env = []string{"A=\x00"}; return r }, ErrNUL},
		{"umask 01000", func(r Request) Request { r.Umask = 0o1000; return r }, ErrBadValue},
		{"root descriptor -5", func(r Request) Request { r.Root = -5; return r }, ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Buffer
			e, _ := NewEncoder(&b, LayoutLP64LE)
			if err := e.WriteRequest(tc.r(ok)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if len(b.Data) != 0 || len(b.FDs) != 0 {
				t.Fatalf("a refused request wrote %x %v", b.Data, b.FDs)
			}
		})
	}
	var b Buffer
	e, _ := NewEncoder(&b, LayoutLP64LE)
	for name, err := range map[string]error{
		"hello pid 0":     e.WriteHello(Hello{}),
		"started pid 0":   e.WriteStarted(Started{}),
		"signal mode 9":   e.WriteStarted(Started{PID: 1, SignalMode: 9}),
		"exit status 300": e.WriteExit(Exit{Status: 300}),
	} {
		if !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: got %v, want ErrBadValue", name, err)
		}
	}
}

func TestSiginfoSize(t *testing.T) {
	b, err := LayoutLP64LE.AppendSiginfo(nil, Siginfo{Signo: 15, Arch: 0xc000003e, Pad: [28]byte{27: 1}})
	if err != nil || len(b) != SiginfoSize {
		t.Fatalf("AppendSiginfo: %d bytes, %v", len(b), err)
	}
	if _, err := LayoutLP64LE.ParseSiginfo(b[:127]); !errors.Is(err, ErrBadSiginfo) {
		t.Errorf("127-byte datagram: %v", err)
	}
	si, err := LayoutLP64LE.ParseSiginfo(b)
	if err != nil || si.Signo != 15 || si.Arch != 0xc000003e || si.Pad[27] != 1 {
		t.Errorf("ParseSiginfo = %+v, %v", si, err)
	}
}
