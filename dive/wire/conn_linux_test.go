package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if unix.Fstat(a, &sa) != nil || unix.Fstat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// TestConnRoundTrip sends every golden message, and a request with more
// descriptors than one sendmsg can carry, through a real socket.
func TestConnRoundTrip(t *testing.T) {
	a, b := socketPair(t)
	wa, wb := NewConn(a, Limits{}), NewConn(b, Limits{})
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	before := openFDs(t)

	many := Request{Argv: []string{"cat"}, Terminal: &Terminal{FD: null}}
	for i := 0; i < 600; i++ { // three sendmsg's worth
		many.FDs = append(many.FDs, PassedFD{Target: uint32(3 + i), FD: null})
	}
	msgs := []struct {
		stream uint32
		m      Message
	}{{9, many}}
	for _, g := range goldenMessages {
		msgs = append(msgs, struct {
			stream uint32
			m      Message
		}{g.stream, g.msg})
	}
	done := make(chan error, 1)
	go func() {
		for _, s := range msgs {
			m := s.m
			// Golden descriptor values are not open; send /dev/null in their place.
			switch v := m.(type) {
			case Request:
				if v.Terminal != nil {
					v.Terminal = &Terminal{FD: null, Size: v.Terminal.Size}
				}
				if v.Root.Kind == DirFD {
					v.Root.FD = null
				}
				fds := make([]PassedFD, len(v.FDs))
				for i, p := range v.FDs {
					fds[i] = PassedFD{Target: p.Target, FD: null}
				}
				v.FDs = fds
				m = v
			case Started:
				if v.HasPidFD {
					v.PidFD = null
				}
				m = v
			}
			if err := wa.WriteMessage(s.stream, m); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i, s := range msgs {
		stream, m, err := wb.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if stream != s.stream || m.Type() != s.m.Type() {
			t.Fatalf("message %d: stream %d %v, want %d %v", i, stream, m.Type(), s.stream, s.m.Type())
		}
		var got []int
		switch v := m.(type) {
		case Request:
			if v.Terminal != nil {
				got = append(got, v.Terminal.FD)
			}
			if v.Cwd.Kind == DirFD {
				got = append(got, v.Cwd.FD)
			}
			if v.Root.Kind == DirFD {
				got = append(got, v.Root.FD)
			}
			for _, p := range v.FDs {
				got = append(got, p.FD)
			}
			want := s.m.(Request)
			if !reflect.DeepEqual(v.Argv, want.Argv) || len(v.FDs) != len(want.FDs) {
				t.Errorf("message %d: request %+v", i, v)
			}
		case Started:
			if v.HasPidFD {
				got = append(got, v.PidFD)
			}
		default:
			if !reflect.DeepEqual(m, s.m) {
				t.Errorf("message %d: %#v, want %#v", i, m, s.m)
			}
		}
		for _, fd := range got {
			if !sameFile(t, fd, null) {
				t.Errorf("message %d: descriptor %d is not /dev/null", i, fd)
			}
		}
		CloseFDs(got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open, %d before", after, before)
	}
}

// TestConnRejectsAndCloses pins that a bad frame is refused and its
// descriptors are closed.
func TestConnRejectsAndCloses(t *testing.T) {
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	tests := []struct {
		name string
		data []byte
		fds  []int
		lim  Limits
		want error
	}{
		{"header declares fewer descriptors than arrive", unhexNoT("04000000 0500 0000 01000000 0f000000"), []int{null}, Limits{}, ErrFDCount},
		{"header declares more descriptors than arrive", unhexNoT("08000000 0300 0200 01000000 05000000 01000000"), []int{null}, Limits{}, ErrFDCount},
		{"decodable frame, undecodable message", unhexNoT("08000000 0300 0100 01000000 05000000 00000000"), []int{null}, Limits{}, ErrFDCount},
		{"oversized frame refused from its header", unhexNoT("00001000 0500 0000 01000000"), []int{null}, Limits{FrameBytes: 1024}, ErrFrameTooLarge},
		{"unknown type refused from its header", unhexNoT("00000000 2a00 0000 01000000"), []int{null}, Limits{}, ErrUnknownType},
		{"stream ends inside the payload", unhexNoT("08000000 0600 0000 01000000 0100"), []int{null}, Limits{}, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := socketPair(t)
			before := openFDs(t)
			if _, _, err := a.WriteMsgUnix(tc.data, unix.UnixRights(tc.fds...), nil); err != nil {
				t.Fatal(err)
			}
			a.CloseWrite()
			_, _, err := NewConn(b, tc.lim).ReadMessage()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open, %d before: received descriptors leaked", after, before)
			}
		})
	}
}

func TestConnEOFBetweenFrames(t *testing.T) {
	a, b := socketPair(t)
	a.CloseWrite()
	if _, err := NewConn(b, Limits{}).ReadFrame(); !errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
}
