package client

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/covebox/cove/dive/server"
	"github.com/covebox/cove/dive/wire"
	"golang.org/x/sys/unix"
)

// serve runs a dive server as this process's user on a temporary socket.
func serve(t *testing.T, p server.Policy) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := server.Listen(server.Address(sock), 0, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	return sock
}

// TestSingle: the CLI path (blocking socket, pipelined handshake) starts
// programs, reports exit codes, signals and start failures.
func TestSingle(t *testing.T) {
	sock := serve(t, server.Policy{})
	cases := []struct {
		name   string
		argv   []string
		code   uint8
		signal uint32
		step   string
	}{
		{"exit code", []string{"/bin/sh", "-c", "exit 3"}, 3, 0, ""},
		{"killed", []string{"/bin/sh", "-c", "kill -KILL $$"}, 0, 9, ""},
		{"not found", []string{"/nonexistent/prog"}, 0, 0, "exec"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := DialRaw(sock)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			s, pending, err := OpenSingle(rc, -1)
			if err != nil || pending != nil {
				t.Fatalf("OpenSingle: %v, pending %v", err, pending != nil)
			}
			err = s.Start(Request{Argv: c.argv, Env: []string{"PATH=/bin:/usr/bin"}, Dir: -1, Root: -1, Terminal: -1})
			if c.step != "" {
				var we wire.Error
				if !errors.As(err, &we) || we.Step != c.step {
					t.Fatalf("Start: %v, want a wire.Error at step %q", err, c.step)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Pid <= 0 {
				t.Errorf("pid %d", s.Pid)
			}
			if s.PidFD >= 0 {
				unix.Close(s.PidFD)
			}
			x, err := s.Wait()
			if err != nil || x.Code != c.code || x.Signal != c.signal {
				t.Errorf("Wait = %+v, %v; want code %d signal %d", x, err, c.code, c.signal)
			}
		})
	}
}

// TestSingleFDs: descriptors arrive at their numbers, over a RawConn.
func TestSingleFDs(t *testing.T) {
	sock := serve(t, server.Policy{})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := DialRaw(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	s, _, err := OpenSingle(rc, -1)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(Request{Argv: []string{"/bin/sh", "-c", "echo hello >&7"}, Files: map[int]int{7: int(w.Fd())}, Dir: -1, Root: -1, Terminal: -1})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "hello\n" {
		t.Errorf("fd 7 carried %q", buf[:n])
	}
}

// TestConnAndRawAgree: the held-connection library over net.UnixConn and
// the CLI path see the same results.
func TestConnAndRawAgree(t *testing.T) {
	sock := serve(t, server.Policy{})
	cn, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	for i := 0; i < 5; i++ {
		p, err := cn.Start(Request{Argv: []string{"/bin/sh", "-c", "exit 5"}, Dir: -1, Root: -1, Terminal: -1})
		if err != nil {
			t.Fatal(err)
		}
		if p.PidFD >= 0 {
			unix.Close(p.PidFD)
		}
		if x, err := p.Wait(); err != nil || x.Code != 5 {
			t.Errorf("run %d: %+v, %v", i, x, err)
		}
	}
}

// TestDialRawErrors: a missing socket is a connect error, an empty name an
// error before any system call.
func TestDialRawErrors(t *testing.T) {
	if _, err := DialRaw(filepath.Join(t.TempDir(), "none")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing socket: %v, want ENOENT", err)
	}
	var oe *net.OpError
	if _, err := DialRaw("@"); err == nil || errors.As(err, &oe) {
		t.Errorf("empty abstract name: %v", err)
	}
}
