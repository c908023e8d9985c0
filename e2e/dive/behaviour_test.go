package dive

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBehaviour runs each case against one server per distinct server
// configuration, with both clients: the dive personality (protocol 1100,
// byte-compatible with vi/dive) and cove dive (native protocol).
func TestBehaviour(t *testing.T) {
	need(t)
	wd := worldDir(t)
	data := filepath.Join(wd, "data")
	os.WriteFile(data, []byte("hello\n"), 0o644)
	open := func() *os.File {
		f, err := os.Open(data)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	u := strconv.Itoa(uid)
	cases := []struct {
		name   string
		server []string
		r      func() run
		cmd    []string
		want   string // substring of stdout
		absent string // must not be in stdout
		code   func(c client) int
	}{
		{name: "exit code", cmd: []string{"sh", "-c", "exit 3"}, code: fixed(3)},
		{name: "killed by signal", cmd: []string{"sh", "-c", "kill -TERM $$"}, code: func(c client) int { return c.signalExit(syscall.SIGTERM) }},
		{name: "runs as the client with its groups", cmd: []string{"id", "-u"}, want: u + "\n"},
		{name: "cwd", r: func() run { return run{dir: wd} }, cmd: []string{"pwd"}, want: wd + "\n"},
		{name: "umask", r: func() run { return run{env: []string{"X=1"}} }, cmd: []string{"sh", "-c", "umask"}, want: "0022"},
		{name: "env passes, client DIVE_* removed, server DIVE_* set", r: func() run { return run{env: []string{"FOO=bar", "DIVE_UID=0", "DIVE_EVIL=1"}} },
			cmd: []string{"env"}, want: "DIVE_UID=" + u + "\n", absent: "DIVE_EVIL"},
		{name: "env FOO", r: func() run { return run{env: []string{"FOO=bar"}} }, cmd: []string{"env"}, want: "FOO=bar"},
		{name: "fds 3 5 7 at their numbers, CLOEXEC cleared (bug 3)", r: func() run { return run{files: []*os.File{open(), nil, open(), nil, open()}} },
			cmd: []string{"sh", "-c", "cat <&3; cat <&5; cat <&7; test -e /proc/self/fd/4 || echo no4"}, want: "hello\nhello\nhello\nno4"},
		{name: "stdin passes and reaches EOF", r: func() run { return run{stdin: "in-data"} }, cmd: []string{"cat"}, want: "in-data"},
		{name: "forced argv plus client argv", server: []string{"--", "/bin/echo", "forced"}, cmd: []string{"a", "b"}, want: "forced a b\n"},
		{name: "forced argv, client argv dropped (-A)", server: []string{"-A", "--", "/bin/echo", "forced"}, cmd: []string{"a", "b"}, want: "forced\n"},
		{name: "forced program found in the server PATH, not the client's (bug 14)", server: []string{"--", "echo", "safe"},
			r: func() run { return run{env: []string{"PATH=/nonexistent"}} }, cmd: []string{}, want: "safe\n"},
		{name: "-E ignores the client env", server: []string{"-E"}, r: func() run { return run{env: []string{"FOO=bar"}} }, cmd: []string{"env"}, absent: "FOO=bar"},
		{name: "-H ignores the client cwd", server: []string{"-H", "--chdir", "/usr"}, r: func() run { return run{dir: wd} }, cmd: []string{"pwd"}, want: "/usr\n"},
		{name: "-O ignores the client fds", server: []string{"-O"}, r: func() run { return run{files: []*os.File{open()}} }, cmd: []string{"sh", "-c", "test -e /proc/self/fd/3 && exit 1 || exit 0"}},
		{name: "-M ignores the client umask", server: []string{"-M"}, cmd: []string{"sh", "-c", "umask"}, absent: "0077"},
		{name: "auth program refuses", server: []string{"-a", "exit 1"}, cmd: []string{"true"}, code: func(c client) int {
			if c.name == "dive" {
				return 127
			}
			return 125
		}},
		{name: "auth program sees DIVE_UID", server: []string{"-a", `test "$DIVE_UID" = ` + u}, cmd: []string{"echo", "ok"}, want: "ok"},
		{name: "rlimit (cove syntax soft:hard)", server: []string{"--rlimit", "nofile=50:100"}, cmd: []string{"sh", "-c", "ulimit -n; ulimit -Hn"}, want: "50\n100\n"},
		{name: "no_new_privs", server: []string{"-X"}, cmd: []string{"grep", "NoNewPrivs", "/proc/self/status"}, want: "1"},
		{name: "bounding set -B", server: []string{"-P", "-B", "cap_net_raw"}, cmd: []string{"grep", "CapBnd", "/proc/self/status"}, want: "0000000000002000"},
		{name: "ambient capability as the client", server: []string{"-m", "cap_net_bind_service"}, cmd: []string{"grep", "CapAmb", "/proc/self/status"}, want: "0000000000000400"},
		{name: "no program is a clear error (bug 8)", cmd: []string{}, code: func(c client) int {
			if c.name == "dive" {
				return 127
			}
			return 127
		}},
		{name: "command not found", cmd: []string{"/nonexistent/prog"}, code: fixed(127)},
	}
	servers := map[string]*server{}
	for _, tc := range cases {
		key := strings.Join(tc.server, "\x00")
		if servers[key] == nil {
			servers[key] = startServer(t, false, tc.server...)
		}
		s := servers[key]
		for _, c := range clients {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				r := run{}
				if tc.r != nil {
					r = tc.r()
				}
				umaskCmd := append([]string(nil), tc.cmd...)
				if tc.name == "umask" || tc.name == "-M ignores the client umask" {
					// The client's umask is set by a shell around it.
					argv := c.argv(s.sock, umaskCmd...)
					m := "022"
					if tc.name == "-M ignores the client umask" {
						m = "077"
					}
					argv = append([]string{"/bin/sh", "-c", "umask " + m + "; exec \"$@\"", "sh"}, argv...)
					check(t, tc.want, tc.absent, tc.code, c, r, argv)
					return
				}
				check(t, tc.want, tc.absent, tc.code, c, r, c.argv(s.sock, tc.cmd...))
			})
		}
	}
}

func fixed(n int) func(client) int { return func(client) int { return n } }

func check(t *testing.T, want, absent string, code func(client) int, c client, r run, argv []string) {
	t.Helper()
	out, errs, rc := do(t, r, argv)
	wantCode := 0
	if code != nil {
		wantCode = code(c)
	}
	if rc != wantCode {
		t.Errorf("exit %d, want %d; stdout %q stderr %q", rc, wantCode, out, errs)
	}
	if want != "" && !strings.Contains(out, want) {
		t.Errorf("stdout %q does not contain %q (stderr %q)", out, want, errs)
	}
	if absent != "" && strings.Contains(out, absent) {
		t.Errorf("stdout %q contains %q", out, absent)
	}
}

// TestClosedStdio: fds 0-2 closed in the client are closed in the program
// (dived bug 12 gave it dived's /dev/null).
func TestClosedStdio(t *testing.T) {
	need(t)
	s := startServer(t, false)
	wd := worldDir(t)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			res := filepath.Join(wd, "res-"+strings.ReplaceAll(c.name, " ", ""))
			f, _ := os.Create(res)
			f.Chmod(0o666)
			argv := append([]string{"/bin/sh", "-c", `exec "$@" <&- >&- 2>&-`, "sh"}, c.argv(s.sock, "sh", "-c", "for i in 0 1 2; do if test -e /proc/self/fd/$i; then echo open$i >&3; fi; done")...)
			_, errs, rc := do(t, run{files: []*os.File{f}}, argv)
			f.Close()
			b, _ := os.ReadFile(res)
			if rc != 0 || strings.Contains(string(b), "open") {
				t.Errorf("rc %d, program saw %q (stderr %q)", rc, b, errs)
			}
		})
	}
}

// TestStopIsNotExit: a stopped program is not reported as an exit (bug 5).
func TestStopIsNotExit(t *testing.T) {
	need(t)
	s := startServer(t, false)
	wd := worldDir(t)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			pidf := filepath.Join(wd, "pid-"+strings.ReplaceAll(c.name, " ", ""))
			done := make(chan int, 1)
			go func() {
				_, _, rc := do(t, run{}, c.argv(s.sock, "sh", "-c", "echo $$ > "+pidf+"; kill -STOP $$; exit 7"))
				done <- rc
			}()
			var pid int
			for i := 0; i < 200 && pid == 0; i++ {
				time.Sleep(10 * time.Millisecond)
				b, _ := os.ReadFile(pidf)
				pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			select {
			case rc := <-done:
				t.Fatalf("client returned %d while the program was stopped", rc)
			case <-time.After(300 * time.Millisecond):
			}
			syscall.Kill(pid, syscall.SIGCONT)
			if rc := <-done; rc != 7 {
				t.Errorf("exit %d, want 7", rc)
			}
		})
	}
}

// TestSignalForwarding: each server mode with each client.
func TestSignalForwarding(t *testing.T) {
	need(t)
	prog := []string{"sh", "-c", `trap "exit 42" USR1; echo ready; while :; do sleep 0.05; done`}
	for _, mode := range [][]string{nil, {"-n"}, {"--signals-pgid"}} {
		s := startServer(t, false, mode...)
		for _, c := range clients {
			for _, fw := range []string{"1", "2"} {
				t.Run(fmt.Sprintf("%v/%s/DIVE_SIGFWMODE=%s", mode, c.name, fw), func(t *testing.T) {
					argv := c.argv(s.sock, prog...)
					cmd := exec.Command(argv[0], argv[1:]...)
					cmd.Env = []string{"PATH=/usr/bin:/bin", "DIVE_SIGFWMODE=" + fw}
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
					out, _ := cmd.StdoutPipe()
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					b := make([]byte, 6)
					out.Read(b)
					cmd.Process.Signal(syscall.SIGUSR1)
					done := make(chan struct{})
					go func() { cmd.Wait(); close(done) }()
					select {
					case <-done:
					case <-time.After(5 * time.Second):
						cmd.Process.Kill()
						<-done
						t.Fatal("signal not delivered")
					}
					if rc := cmd.ProcessState.ExitCode(); rc != 42 {
						t.Errorf("exit %d, want 42", rc)
					}
					if s.cmd.ProcessState != nil {
						t.Fatal("server died (bug 6)")
					}
				})
			}
		}
	}
}

// TestWaitModes: DIVE_WAITMODE 1 returns at once, 2 waits through a pipe,
// and -w on the server makes dive fall back to the pipe.
func TestWaitModes(t *testing.T) {
	need(t)
	s := startServer(t, false)
	sw := startServer(t, false, "-w")
	cases := []struct {
		name   string
		client string
		s      *server
		mode   string
		code   int
		min    time.Duration
	}{
		{"fire and forget", "", s, "1", 0, 0},
		{"workaround pipe: status always 0", "dive", s, "2", 0, 300 * time.Millisecond},
		{"server -w falls back to the pipe", "dive", sw, "0", 0, 300 * time.Millisecond},
		{"native: mode 2 still reports the status", "cove dive", s, "2", 5, 300 * time.Millisecond},
		{"native: server -w reports nothing", "cove dive", sw, "0", 0, 0},
	}
	for _, tc := range cases {
		for _, c := range clients {
			if tc.client != "" && tc.client != c.name {
				continue
			}
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				t0 := time.Now()
				_, errs, rc := do(t, run{env: []string{"DIVE_WAITMODE=" + tc.mode}}, c.argv(tc.s.sock, "sh", "-c", "sleep 0.4; exit 5"))
				el := time.Since(t0)
				if rc != tc.code || el < tc.min {
					t.Errorf("exit %d after %v, want %d after ≥ %v (stderr %q)", rc, el, tc.code, tc.min, errs)
				}
			})
		}
	}
}
