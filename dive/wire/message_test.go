package wire

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenMessages pin the encoding byte for byte (docs/protocol.md shows the
// same examples). Descriptor values are arbitrary numbers.
var goldenMessages = []struct {
	name   string
	stream uint32
	msg    Message
	hex    string // header, then payload
}{
	{"hello offers version 1 with pidfd, winsize and structured errors", 0,
		Hello{Version: 1, Caps: CapPidFD | CapWinSize | CapStructuredErrors},
		"0c000000 0100 0000 00000000  01000000 0700000000000000"},
	{"request with terminal, window size, umask, fd list and path cwd", 7,
		Request{
			Argv: []string{"sh", "-c", "exit 3"}, Env: []string{"A=1"},
			Cwd: Dir{Kind: DirPath, Path: "/tmp"}, Root: Dir{Kind: DirFD, FD: 11},
			SetUmask: true, Umask: 0o027,
			FDs:      []PassedFD{{Target: 0, FD: 20}, {Target: 5, FD: 21}, {Target: 2048, FD: 22}},
			Terminal: &Terminal{FD: 10, Size: &WinSize{Rows: 24, Cols: 80}},
			Signals:  SignalGroup,
		},
		"51000000 0200 0500 07000000" +
			" 07000000 00 01 02 01 17000000 1800 5000 0000 0000" +
			" 03000000 00000000 05000000 00080000" +
			" 04000000 2f746d70" +
			" 03000000 02000000 7368 02000000 2d63 06000000 657869742033" +
			" 01000000 03000000 413d31"},
	{"minimal request: argv only, everything else the server's", 1,
		Request{Argv: []string{"true"}},
		"28000000 0200 0000 01000000" +
			" 00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000" +
			" 01000000 04000000 74727565 00000000"},
	{"started with pidfd", 7, Started{PID: 4242, HasPidFD: true, PidFD: 30},
		"08000000 0300 0100 07000000 92100000 01000000"},
	{"started without pidfd", 7, Started{PID: 4242, PidFD: NoFD},
		"08000000 0300 0000 07000000 92100000 00000000"},
	{"window size update", 7, WinSize{Rows: 50, Cols: 132, XPixel: 1, YPixel: 2},
		"08000000 0400 0000 07000000 3200 8400 0100 0200"},
	{"signal SIGTERM", 7, Signal{Signo: 15}, "04000000 0500 0000 07000000 0f000000"},
	{"exit code 3", 7, Exit{Code: 3}, "08000000 0600 0000 07000000 01 00 0000 03000000"},
	{"killed by SIGKILL", 7, Exit{Signal: 9}, "08000000 0600 0000 07000000 02 00 0000 09000000"},
	{"killed by SIGSEGV with core", 7, Exit{Signal: 11, CoreDumped: true}, "08000000 0600 0000 07000000 02 01 0000 0b000000"},
	{"structured error", 7, Error{Step: "exec", Errno: syscall.ENOENT, Message: "no such program"},
		"1a000000 0700 0000 07000000 02000000 04 65786563 0f00 6e6f2073756368207072 6f6772616d"},
}

func TestGoldenMessages(t *testing.T) {
	for _, tc := range goldenMessages {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Encode(tc.stream, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := AppendFrame(nil, f)
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.hex)
			if hex.EncodeToString(b) != hex.EncodeToString(want) {
				t.Fatalf("encoding\n got %x\nwant %x", b, want)
			}
			g, n, err := ParseFrame(b, f.FDs, Limits{})
			if err != nil || n != len(b) {
				t.Fatalf("ParseFrame: %d of %d bytes, %v", n, len(b), err)
			}
			m, err := Decode(g, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tc.msg) {
				t.Fatalf("decoded %#v\nwant %#v", m, tc.msg)
			}
		})
	}
}

func frameOf(typ Type, stream uint32, fds int, payload string) Frame {
	f := Frame{Type: typ, Stream: stream, Payload: unhexNoT(payload)}
	for i := 0; i < fds; i++ {
		f.FDs = append(f.FDs, 40+i)
	}
	return f
}

func unhexNoT(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

const minimalRequest = "00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000 01000000 04000000 74727565 00000000"

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		lim  Limits
		want error
	}{
		{"unknown type 99", frameOf(99, 1, 0, ""), Limits{}, ErrUnknownType},
		{"type 0", frameOf(0, 1, 0, ""), Limits{}, ErrUnknownType},
		{"hello on a request stream", frameOf(TypeHello, 3, 0, "01000000 0000000000000000"), Limits{}, ErrStream},
		{"request on stream 0", frameOf(TypeRequest, 0, 0, minimalRequest), Limits{}, ErrStream},
		{"hello version 0", frameOf(TypeHello, 0, 0, "00000000 0000000000000000"), Limits{}, ErrBadValue},
		{"hello truncated", frameOf(TypeHello, 0, 0, "01000000 00000000"), Limits{}, ErrShort},
		{"hello with trailing byte", frameOf(TypeHello, 0, 0, "01000000 0000000000000000 00"), Limits{}, ErrTrailing},
		{"hello with a descriptor", frameOf(TypeHello, 0, 1, "01000000 0000000000000000"), Limits{}, ErrFDCount},
		{"signal 0", frameOf(TypeSignal, 1, 0, "00000000"), Limits{}, ErrBadValue},
		{"signal 65", frameOf(TypeSignal, 1, 0, "41000000"), Limits{}, ErrBadValue},
		{"exit code 256", frameOf(TypeExit, 1, 0, "01 00 0000 00010000"), Limits{}, ErrBadValue},
		{"exit kind 3", frameOf(TypeExit, 1, 0, "03 00 0000 00000000"), Limits{}, ErrBadValue},
		{"exit reserved bits", frameOf(TypeExit, 1, 0, "01 00 0100 00000000"), Limits{}, ErrReserved},
		{"exit core flag on a normal exit", frameOf(TypeExit, 1, 0, "01 01 0000 00000000"), Limits{}, ErrBadValue},
		{"started pid 0", frameOf(TypeStarted, 1, 0, "00000000 00000000"), Limits{}, ErrBadValue},
		{"started pidfd flag without descriptor", frameOf(TypeStarted, 1, 0, "05000000 01000000"), Limits{}, ErrFDCount},
		{"started descriptor without flag", frameOf(TypeStarted, 1, 1, "05000000 00000000"), Limits{}, ErrFDCount},
		{"started unknown flag", frameOf(TypeStarted, 1, 0, "05000000 02000000"), Limits{}, ErrReserved},
		{"error step empty", frameOf(TypeError, 1, 0, "02000000 00 0000"), Limits{}, ErrBadValue},
		{"error step with a space", frameOf(TypeError, 1, 0, "02000000 02 6120 0000"), Limits{}, ErrBadValue},
		{"error message not UTF-8", frameOf(TypeError, 1, 0, "02000000 01 61 0100 ff"), Limits{}, ErrBadValue},
		{"error message cut short", frameOf(TypeError, 1, 0, "02000000 01 61 0500 6869"), Limits{}, ErrShort},
		{"request unknown flag bit", frameOf(TypeRequest, 1, 0, "08000000"+minimalRequest[8:]), Limits{}, ErrReserved},
		{"request window size without terminal", frameOf(TypeRequest, 1, 0, "02000000"+minimalRequest[8:]), Limits{}, ErrBadValue},
		{"request wait mode 2", frameOf(TypeRequest, 1, 0, "00000000 02"+minimalRequest[11:]), Limits{}, ErrBadValue},
		{"request cwd kind 3", frameOf(TypeRequest, 1, 0, "00000000 00 00 03"+minimalRequest[17:]), Limits{}, ErrBadValue},
		{"request umask without flag", frameOf(TypeRequest, 1, 0, "00000000 00 00 00 00 12000000"+minimalRequest[29:]), Limits{}, ErrBadValue},
		{"request terminal flag without descriptor", frameOf(TypeRequest, 1, 0, "01000000"+minimalRequest[8:]), Limits{}, ErrFDCount},
		{"request extra descriptor", frameOf(TypeRequest, 1, 1, minimalRequest), Limits{}, ErrFDCount},
		{"request fd count larger than the descriptors", frameOf(TypeRequest, 1, 0,
			"00000000 00 00 00 00 00000000 0000 0000 0000 0000 ffffffff 01000000 04000000 74727565 00000000"), Limits{}, ErrFDCount},
		{"request duplicate target", frameOf(TypeRequest, 1, 2,
			"00000000 00 00 00 00 00000000 0000 0000 0000 0000 02000000 03000000 03000000 01000000 04000000 74727565 00000000"), Limits{}, ErrBadValue},
		{"request target above the limit", frameOf(TypeRequest, 1, 1,
			"00000000 00 00 00 00 00000000 0000 0000 0000 0000 01000000 00100000 01000000 04000000 74727565 00000000"), Limits{MaxTarget: 1023}, ErrBadValue},
		{"request empty argv", frameOf(TypeRequest, 1, 0, "00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000 00000000 00000000"), Limits{}, ErrBadValue},
		{"request argv count beyond the payload", frameOf(TypeRequest, 1, 0, "00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000 ffffff00"), Limits{}, ErrTooMany},
		{"request argv string cut short", frameOf(TypeRequest, 1, 0, "00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000 01000000 09000000 74727565"), Limits{}, ErrShort},
		{"request argv with NUL", frameOf(TypeRequest, 1, 0, "00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000 01000000 02000000 6100 00000000"), Limits{}, ErrBadValue},
		{"request env without =", frameOf(TypeRequest, 1, 0, "00000000 00 00 00 00 00000000 0000 0000 0000 0000 00000000 01000000 01000000 61 01000000 01000000 41"), Limits{}, ErrBadValue},
		{"request argv over the byte limit", frameOf(TypeRequest, 1, 0, minimalRequest), Limits{ArgBytes: 3}, ErrTooMany},
		{"request trailing bytes", frameOf(TypeRequest, 1, 0, minimalRequest+"00"), Limits{}, ErrTrailing},
		{"payload over the frame limit", frameOf(TypeSignal, 1, 0, "0f000000"), Limits{FrameBytes: 3}, ErrFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.f, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %#v, %v; want %v", m, err, tc.want)
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		lim  Limits
		want error
	}{
		{"short header", "0000000001000000", Limits{}, ErrShort},
		{"unknown type before the payload is read", "00000000 6300 0000 01000000", Limits{}, ErrUnknownType},
		{"payload over the limit before it is read", "01000100 0500 0000 01000000", Limits{FrameBytes: 65536}, ErrFrameTooLarge},
		{"more descriptors than the limit", "04000000 0500 0200 01000000", Limits{FDs: 1}, ErrTooMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHeader(unhex(t, tc.hex), tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	b := unhex(t, "04000000 0500 0100 01000000 0f000000")
	if _, _, err := ParseFrame(b, nil, Limits{}); !errors.Is(err, ErrFDCount) {
		t.Errorf("frame declaring one descriptor parsed without it: %v", err)
	}
	if _, _, err := ParseFrame(b[:14], []int{3}, Limits{}); !errors.Is(err, ErrShort) {
		t.Errorf("truncated payload: %v", err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		stream uint32
		m      Message
		want   error
	}{
		{"hello version 0", 0, Hello{}, ErrBadValue},
		{"hello on stream 1", 1, Hello{Version: 1}, ErrStream},
		{"request on stream 0", 0, Request{Argv: []string{"x"}}, ErrStream},
		{"request without argv", 1, Request{}, ErrBadValue},
		{"request umask without SetUmask", 1, Request{Argv: []string{"x"}, Umask: 0o22}, ErrBadValue},
		{"request negative terminal", 1, Request{Argv: []string{"x"}, Terminal: &Terminal{FD: -1}}, ErrBadValue},
		{"request dir path empty", 1, Request{Argv: []string{"x"}, Cwd: Dir{Kind: DirPath}}, ErrBadValue},
		{"request dir path over PATH_MAX", 1, Request{Argv: []string{"x"}, Root: Dir{Kind: DirPath, Path: "/" + strings.Repeat("a", MaxPathLen)}}, ErrTooMany},
		{"request env entry without key", 1, Request{Argv: []string{"x"}, Env: []string{"=x"}}, ErrBadValue},
		{"request duplicate target", 1, Request{Argv: []string{"x"}, FDs: []PassedFD{{3, 4}, {3, 5}}}, ErrBadValue},
		{"exit with code and signal", 1, Exit{Code: 1, Signal: 9}, ErrBadValue},
		{"error step uppercase", 1, Error{Step: "Exec"}, ErrBadValue},
		{"started pidfd negative", 1, Started{PID: 1, HasPidFD: true, PidFD: -1}, ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Encode(tc.stream, tc.m); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	h, err := Negotiate(Hello{Version: 3, Caps: CapPidFD | CapPaths | 1<<40}, Version, CapPidFD|CapWinSize)
	if err != nil || h != (Hello{Version: 1, Caps: CapPidFD}) {
		t.Errorf("Negotiate = %+v, %v", h, err)
	}
	if _, err := Negotiate(Hello{}, Version, 0); !errors.Is(err, ErrVersion) {
		t.Errorf("version 0 negotiated: %v", err)
	}
}

func TestErrorUnwrapsErrno(t *testing.T) {
	var err error = Error{Step: "chdir", Errno: syscall.ENOENT, Message: "/nope"}
	if !errors.Is(err, syscall.ENOENT) || err.Error() != "chdir: /nope: no such file or directory" {
		t.Errorf("Error() = %q", err)
	}
}
