package client

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/covebox/cove/dive/proto1100"
	"golang.org/x/sys/unix"
)

// Settings are the dive client's environment variables (DIVE_CURDIR,
// DIVE_ROOTDIR, DIVE_TERMINAL, DIVE_WAITMODE, DIVE_SIGFWMODE).
type Settings struct {
	Curdir, Rootdir string // default "." and "/"
	Terminal        string // "@N" (fd N) or a path; "" or "@-1": none; default "@0"
	WaitMode        int    // 0 remote wait, 1 fire and forget, 2 workaround pipe
	SigFwMode       int    // 0 none, 1 the program, 2 its process group
	// Signals, when not nil, delivers the signals to forward (a caller
	// that catches them itself: cove's CLI does, more cheaply than
	// os/signal). When nil and SigFwMode is not 0, the client catches
	// Forwarded with signal.Notify while it waits.
	Signals <-chan os.Signal
}

// signalSource returns where the signals to forward come from under s, and
// what to call when done with them.
func signalSource(s Settings) (<-chan os.Signal, func()) {
	if s.SigFwMode == 0 {
		return nil, func() {}
	}
	if s.Signals != nil {
		return s.Signals, func() {}
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, Forwarded...)
	return sigs, func() { signal.Stop(sigs) }
}

// SettingsFromEnv reads the DIVE_* variables as dive does (atoi: garbage is
// 0). A WaitMode outside 0..2 is an error (dive exits 12).
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{Curdir: ".", Rootdir: "/", Terminal: "@0", SigFwMode: 1}
	if v := getenv("DIVE_CURDIR"); v != "" {
		s.Curdir = v
	}
	if v := getenv("DIVE_ROOTDIR"); v != "" {
		s.Rootdir = v
	}
	if v, ok := lookup(getenv, "DIVE_TERMINAL"); ok {
		s.Terminal = v
	}
	if v := getenv("DIVE_WAITMODE"); v != "" {
		s.WaitMode = atoi(v)
	}
	if v := getenv("DIVE_SIGFWMODE"); v != "" {
		s.SigFwMode = atoi(v)
	}
	if s.WaitMode < 0 || s.WaitMode > 2 {
		return s, errUnknownWaitMode
	}
	return s, nil
}

func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// atoi is C's atoi: leading blanks, sign, digits; anything else stops.
func atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '-' || s[j] == '+') {
		j++
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[i:j])
	return n
}

// Forwarded are the signals the clients catch and forward. dive blocks
// every signal; asking the Go runtime for all 64 costs milliseconds at
// start, so the clients take the ones a user or a supervisor sends.
var Forwarded = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGCONT,
	syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPWR}

// errUnknownWaitMode is dive's own message, capital letter included.
var errUnknownWaitMode = errors.New("Unknown DIVE_WAITMODE value") //lint:ignore ST1005 dive's exact text

// Outcome1100 is how a protocol-1100 conversation ended.
type Outcome1100 struct {
	// Status is what dive exits with: the program's exit code, or the
	// signal number that killed it; 0 when not waiting.
	Status int
	// ServerFailed: the server closed the connection before the status
	// (dive: "Something failed with the server", 127).
	ServerFailed bool
	// Incompatible: the greeting was not protocol 1100 (dive exits 3).
	Incompatible bool
	// Warning is dive's 4-line message when the server refused waiting.
	Warning string
}

// Run1100 runs one program over c in protocol 1100, exactly as dive does:
// terminal, wait flag, every descriptor of fds (each closed here after it
// was sent, except 2, so that EOF reaches the program's peers), umask, root
// and cwd, argv and env; then it waits and relays signals per s.
//
// Preconditions: c is connected and nothing was read from it; fds are the
// caller's open descriptors and do not include c; env is the environment to
// send. Signals are forwarded while it waits (see Settings.Signals).
func Run1100(c Transport, s Settings, fds []int, argv, env []string) (Outcome1100, error) {
	var out Outcome1100
	sock := proto1100.NewSocket(c)
	l := proto1100.NativeLayout()
	enc, _ := proto1100.NewEncoder(sock, l)
	dec, _ := proto1100.NewDecoder(sock, l, proto1100.Limits{})
	sigs, stop := signalSource(s)
	defer stop()
	hello, err := dec.ReadHello()
	if err != nil {
		out.Incompatible = true
		return out, err
	}
	term, closeTerm := terminalFD(s.Terminal, fds)
	wait := s.WaitMode == 0
	if err := enc.WriteIntro(proto1100.Intro{Terminal: term, Wait: wait}); err != nil {
		if closeTerm {
			unix.Close(term)
		}
		out.ServerFailed = true
		return out, err
	}
	if closeTerm {
		unix.Close(term)
	}
	reply, err := dec.ReadWaitReply()
	if err != nil {
		out.ServerFailed = true
		return out, err
	}
	return finish1100(c, enc, dec, s, fds, argv, env, hello.HelperPID, reply.Enabled, sigs, out)
}

// finish1100 runs the conversation from the fd list on; it is shared with
// the native client's fallback against a real dived.
func finish1100(c Transport, enc *proto1100.Encoder, dec *proto1100.Decoder, s Settings, fds []int, argv, env []string, helper int32, enabled bool, sigs <-chan os.Signal, out Outcome1100) (Outcome1100, error) {
	mode := s.WaitMode
	if mode == 0 && !enabled {
		out.Warning = "dive: Warning: can't request proper waiting for program termination from dived\n" +
			"Switching to workaround waiting (adding additional FD)\n" +
			"Use DIVE_WAITMODE=1 to explicitly disable the waiting\n" +
			"or DIVE_WAITMODE=2 to explicitly request workaround waiting\n"
		os.Stderr.WriteString(out.Warning)
		mode = 2
	}
	var pipe [2]int = [2]int{-1, -1}
	if mode == 2 {
		if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
			return out, fmt.Errorf("pipe2: %w", err)
		}
	}
	req := proto1100.Request{Root: proto1100.NoFD, Cwd: proto1100.NoFD, Argv: argv, Env: env}
	send := append([]int(nil), fds...)
	if pipe[1] >= 0 {
		send = append(send, pipe[1])
	}
	for _, fd := range send {
		if fd >= proto1100.MaxFDNumber {
			// Protocol 1100 cannot carry it (dive silently skipped it).
			closeFDs(pipe[:])
			return out, fmt.Errorf("descriptor %d: %w; cove dive passes it with a cove server", fd, proto1100.ErrFDNumber)
		}
		req.FDs = append(req.FDs, proto1100.PassedFD{Num: fd, FD: fd})
	}
	um := unix.Umask(0)
	unix.Umask(um)
	req.Umask = uint32(um)
	root, err := unix.Open(s.Rootdir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		req.Root = root
		defer unix.Close(root)
	}
	cwd, err := unix.Open(s.Curdir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		req.Cwd = cwd
		defer unix.Close(cwd)
	}
	if err := enc.WriteRequest(req); err != nil {
		closeFDs(pipe[:])
		out.ServerFailed = true
		return out, err
	}
	for _, fd := range fds {
		if fd != 2 {
			unix.Close(fd)
		}
	}
	if pipe[1] >= 0 {
		unix.Close(pipe[1])
	}
	pid := helper
	remote := proto1100.SignalsOff
	var sv [2]int = [2]int{-1, -1}
	if enabled {
		st, err := dec.ReadStarted()
		if err != nil {
			closeFDs(pipe[:1])
			out.ServerFailed = true
			return out, nil
		}
		pid, remote = st.PID, st.SignalMode
		if remote != proto1100.SignalsOff {
			if sv, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
				return out, fmt.Errorf("socketpair: %w", err)
			}
			err = enc.WriteSignalChannel(proto1100.SignalChannel{FD: sv[0]})
			unix.Close(sv[0])
		} else {
			err = enc.WriteSignalChannel(proto1100.SignalChannel{FD: proto1100.NoFD})
		}
		if err != nil {
			out.ServerFailed = true
			return out, nil
		}
		defer closeFDs(sv[1:])
	} else {
		c.Close()
		if pipe[0] < 0 {
			return out, nil // fire and forget
		}
	}
	// Wait for the status (or the pipe's EOF), relaying signals meanwhile.
	done := make(chan Outcome1100, 1)
	go func() {
		o := out
		if pipe[0] >= 0 {
			var b [4]byte
			for {
				n, err := unix.Read(pipe[0], b[:])
				if err == unix.EINTR {
					continue
				}
				if n <= 0 {
					break
				}
			}
			unix.Close(pipe[0])
			done <- o // workaround waiting: always 0
			return
		}
		x, err := dec.ReadExit()
		if err != nil {
			o.ServerFailed = true
		} else {
			o.Status = int(x.Status)
		}
		done <- o
	}()
	for {
		select {
		case o := <-done:
			return o, nil
		case sig := <-sigs:
			n, ok := sig.(syscall.Signal)
			if !ok {
				continue
			}
			switch {
			case remote != proto1100.SignalsOff:
				si := proto1100.Siginfo{Signo: uint32(n), PID: uint32(os.Getpid()), UID: uint32(os.Getuid())}
				b, _ := proto1100.NativeLayout().AppendSiginfo(nil, si)
				unix.Write(sv[1], b)
			case s.SigFwMode == 1:
				unix.Kill(int(pid), n)
			case s.SigFwMode == 2 && pid != 1:
				unix.Kill(-int(pid), n)
			}
		}
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// terminalFD resolves DIVE_TERMINAL: "@N" is fd N if it is one of the
// inherited fds (never the client's own socket: dived bug 12), a path is
// opened read-only (closeIt), "" and "@-1" mean none.
func terminalFD(spec string, fds []int) (fd int, closeIt bool) {
	if spec == "" {
		return proto1100.NoFD, false
	}
	if spec[0] == '@' {
		n := atoi(spec[1:])
		for _, f := range fds {
			if f == n {
				return n, false
			}
		}
		return proto1100.NoFD, false
	}
	t, err := unix.Open(spec, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return proto1100.NoFD, false
	}
	return t, true
}
