package proto1100

import (
	"errors"
	"net"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair returns two connected AF_UNIX sockets of the given type.
func socketPair(t *testing.T, typ int) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
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

// sameFile reports whether two descriptors refer to the same open file.
func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// TestSocketConversation runs a whole session over a socketpair with real
// descriptors, both directions through Socket.
func TestSocketConversation(t *testing.T) {
	cl, sv := socketPair(t, unix.SOCK_STREAM)
	l := NativeLayout()
	csock, ssock := NewSocket(cl), NewSocket(sv)
	cenc, _ := NewEncoder(csock, l)
	cdec, _ := NewDecoder(csock, l, Limits{})
	senc, _ := NewEncoder(ssock, l)
	sdec, _ := NewDecoder(ssock, l, Limits{})

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	dir, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	sigA, sigB := socketPair(t, unix.SOCK_DGRAM)
	sigFile, err := sigA.File()
	if err != nil {
		t.Fatal(err)
	}
	defer sigFile.Close()
	before := openFDs(t)

	want := Request{
		FDs:   []PassedFD{{Num: 0, FD: p[0]}, {Num: 7, FD: p[1]}, {Num: 1023, FD: p[0]}},
		Umask: 0o027, Root: dir, Cwd: NoFD,
		Argv: []string{"sh", "-c", "exit 3"}, Env: []string{"A=1", "B="},
	}
	errc := make(chan error, 1)
	go func() { // the client
		errc <- func() error {
			if _, err := cdec.ReadHello(); err != nil {
				return err
			}
			if err := cenc.WriteIntro(Intro{Terminal: p[0], Wait: true}); err != nil {
				return err
			}
			if w, err := cdec.ReadWaitReply(); err != nil || !w.Enabled {
				return errors.Join(err, errors.New("wait refused"))
			}
			if err := cenc.WriteRequest(want); err != nil {
				return err
			}
			if _, err := cdec.ReadStarted(); err != nil {
				return err
			}
			if err := cenc.WriteSignalChannel(SignalChannel{FD: int(sigFile.Fd())}); err != nil {
				return err
			}
			if err := WriteSiginfo(sigB, l, Siginfo{Signo: uint32(unix.SIGUSR1)}); err != nil {
				return err
			}
			x, err := cdec.ReadExit()
			if err == nil && x.Status != 3 {
				err = errors.New("wrong status")
			}
			return err
		}()
	}()

	if err := senc.WriteHello(Hello{HelperPID: int32(os.Getpid())}); err != nil {
		t.Fatal(err)
	}
	in, err := sdec.ReadIntro()
	if err != nil {
		t.Fatal(err)
	}
	if !in.Wait || !sameFile(t, in.Terminal, p[0]) {
		t.Errorf("intro %+v", in)
	}
	if err := senc.WriteWaitReply(WaitReply{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	got, err := sdec.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	for i, pf := range got.FDs {
		if pf.Num != want.FDs[i].Num || !sameFile(t, pf.FD, want.FDs[i].FD) {
			t.Errorf("fd %d: got %+v, want number %d as the same file", i, pf, want.FDs[i].Num)
		}
		if flags, _ := unix.FcntlInt(uintptr(pf.FD), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("received fd %d lacks FD_CLOEXEC", pf.FD)
		}
	}
	if got.Cwd != NoFD || !sameFile(t, got.Root, dir) || got.Umask != want.Umask ||
		!slices.Equal(got.Argv, want.Argv) || !slices.Equal(got.Env, want.Env) {
		t.Errorf("request %+v, want %+v", got, want)
	}
	if err := senc.WriteStarted(Started{PID: 1234, SignalMode: SignalsProcess}); err != nil {
		t.Fatal(err)
	}
	ch, err := sdec.ReadSignalChannel()
	if err != nil {
		t.Fatal(err)
	}
	sf := os.NewFile(uintptr(ch.FD), "signal channel")
	sc, err := net.FileConn(sf)
	sf.Close()
	if err != nil {
		t.Fatal(err)
	}
	si, err := ReadSiginfo(sc.(*net.UnixConn), l)
	sc.Close()
	if err != nil || si.Signo != uint32(unix.SIGUSR1) {
		t.Errorf("ReadSiginfo = %+v, %v", si, err)
	}
	if err := senc.WriteExit(Exit{Status: 3}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client: %v", err)
	}
	unix.Close(in.Terminal)
	unix.Close(got.Root)
	for _, pf := range got.FDs {
		unix.Close(pf.FD)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the session, %d before", after, before)
	}
}

// TestSocketStrayDescriptors pins that descriptors in the wrong place are
// errors and are closed, not leaked.
func TestSocketStrayDescriptors(t *testing.T) {
	many := make([]int, 20) // more than fit in the read's control buffer
	tests := []struct {
		name string
		send func(t *testing.T, c *net.UnixConn, fd int)
		read func(s *Socket) error
		want error
	}{
		{"descriptor on an integer", func(t *testing.T, c *net.UnixConn, fd int) {
			if _, _, err := c.WriteMsgUnix([]byte{1, 0, 0, 0}, unix.UnixRights(fd), nil); err != nil {
				t.Fatal(err)
			}
		}, func(s *Socket) error { _, err := s.ReadBytes(4); return err }, ErrUnexpectedFD},
		{"two descriptors on one marker", func(t *testing.T, c *net.UnixConn, fd int) {
			if _, _, err := c.WriteMsgUnix([]byte{'F'}, unix.UnixRights(fd, fd), nil); err != nil {
				t.Fatal(err)
			}
		}, func(s *Socket) error { _, _, err := s.ReadMarker(); return err }, ErrUnexpectedFD},
		{"control message truncated", func(t *testing.T, c *net.UnixConn, fd int) {
			for i := range many {
				many[i] = fd
			}
			if _, _, err := c.WriteMsgUnix([]byte{'F'}, unix.UnixRights(many...), nil); err != nil {
				t.Fatal(err)
			}
		}, func(s *Socket) error { _, _, err := s.ReadMarker(); return err }, ErrCtrunc},
		{"descriptor on an X marker", func(t *testing.T, c *net.UnixConn, fd int) {
			if _, _, err := c.WriteMsgUnix([]byte{'X'}, unix.UnixRights(fd), nil); err != nil {
				t.Fatal(err)
			}
		}, func(s *Socket) error {
			d, _ := NewDecoder(s, NativeLayout(), Limits{})
			_, err := d.ReadSignalChannel()
			return err
		}, ErrUnexpectedFD},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := socketPair(t, unix.SOCK_STREAM)
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			before := openFDs(t)
			tc.send(t, a, fd)
			if err := tc.read(NewSocket(b)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open, %d before: received descriptors leaked", after, before)
			}
		})
	}
}
