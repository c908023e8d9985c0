package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/covebox/cove/dive/proto1100"
	"github.com/covebox/cove/internal/launch"
	"golang.org/x/sys/unix"
)

// serve1100 continues a protocol-1100 conversation after the Intro.
func (s *Server) serve1100(c *net.UnixConn, sock *proto1100.Socket, enc *proto1100.Encoder, dec *proto1100.Decoder, peer Peer, in proto1100.Intro, log *slog.Logger) {
	p := &s.cfg.Policy
	wait := in.Wait && !p.NoWait
	if err := enc.WriteWaitReply(proto1100.WaitReply{Enabled: wait}); err != nil {
		closeFD(in.Terminal)
		log.Info("wait reply", "err", err)
		return
	}
	req, err := dec.ReadRequest()
	if err != nil {
		closeFD(in.Terminal)
		log.Warn("request refused", "err", err)
		return
	}
	j := &job{peer: peer, terminal: in.Terminal, umask: int(req.Umask), root: req.Root, cwd: req.Cwd, argv: req.Argv, env: req.Env}
	for _, f := range req.FDs {
		j.fds = append(j.fds, passedFD{target: f.Num, fd: f.FD})
	}
	defer j.close(false)
	if err := s.authenticate(j); err != nil {
		log.Warn("authentication failed", "err", err)
		return
	}
	ch, err := s.start(j)
	if err != nil {
		log.Info("start failed", "err", err)
		s.tellClient(j, err)
		var se *StartError
		if !wait || !errors.As(err, &se) {
			return // dive: "Something failed with the server" (127)
		}
		// As dived: a program pid, no signal relaying, then the status
		// (127 not found, 126 otherwise).
		if enc.WriteStarted(proto1100.Started{PID: HelperPID, SignalMode: proto1100.SignalsOff}) != nil {
			return
		}
		if sc, err := dec.ReadSignalChannel(); err == nil {
			closeFD(sc.FD)
		}
		enc.WriteExit(proto1100.Exit{Status: int32(se.ExitCode())})
		return
	}
	// The server's copies go now, so that EOF reaches the program's peers.
	j.close(false)
	log.Info("started", "pid", ch.pid, "argv0", firstArg(p.ForcedArgv, req.Argv))
	if !wait {
		go ch.await() // reaps it; the connection is done
		return
	}
	mode := proto1100.SignalMode(p.Signals)
	if err := enc.WriteStarted(proto1100.Started{PID: int32(ch.pid), SignalMode: mode}); err != nil {
		log.Info("started", "err", err)
		ch.await()
		return
	}
	sc, err := dec.ReadSignalChannel()
	c.SetDeadline(time.Time{})
	var relay *net.UnixConn
	if err == nil && sc.FD >= 0 {
		if mode != proto1100.SignalsOff {
			relay = fileConn(sc.FD)
		} else {
			closeFD(sc.FD)
		}
	}
	if relay != nil {
		go func() {
			for {
				si, err := proto1100.ReadSiginfo(relay, proto1100.NativeLayout())
				if err != nil {
					if !errors.Is(err, proto1100.ErrBadSiginfo) {
						return
					}
					continue
				}
				if si.Signo == 0 || si.Signo > 64 {
					continue
				}
				ch.signal(unix.Signal(si.Signo), mode == proto1100.SignalsGroup)
			}
		}()
	}
	ch.await()
	if relay != nil {
		relay.Close()
	}
	if ch.lost {
		// As a dived whose helper died: dive reports the server failed.
		log.Warn("the program's end was not observed: the -D helper ended first", "pid", ch.pid)
		return
	}
	if err := enc.WriteExit(proto1100.Exit{Status: diveStatus(ch.ws)}); err != nil {
		log.Info("exit status not delivered", "err", err)
	}
	log.Info("exited", "pid", ch.pid, "status", diveStatus(ch.ws))
}

func firstArg(a, b []string) string {
	if len(a) > 0 {
		return a[0]
	}
	if len(b) > 0 {
		return b[0]
	}
	return ""
}

// fileConn turns a received descriptor into a *net.UnixConn, consuming fd.
func fileConn(fd int) *net.UnixConn {
	f := os.NewFile(uintptr(fd), "signal-channel")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil
	}
	return uc
}

// clientFD returns the server's copy of the client's descriptor target, or -1.
func (j *job) clientFD(target int) int {
	for _, f := range j.fds {
		if f.target == target {
			return f.fd
		}
	}
	return -1
}

// tellClient writes a one-line reason to the client's stderr (its fd 2),
// which is what a protocol-1100 client shows its user.
func (s *Server) tellClient(j *job, err error) {
	fd := j.clientFD(2)
	if fd < 0 {
		return
	}
	d, derr := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if derr != nil {
		return
	}
	msg := []byte("cove serve: " + err.Error() + "\n")
	// A full pipe must not hold the connection: write from a goroutine.
	go func() {
		unix.Write(d, msg)
		unix.Close(d)
	}()
}

// authenticate runs the policy's auth program (dived -a) as the server's
// user: `/bin/sh -c CMD` with the client's fds 0-2 as its stdio (closed
// where the client's are) and the DIVE_* variables set. It goes through the
// launcher like every other child, so a reaping server (ReapChildren) sees
// it too.
func (s *Server) authenticate(j *job) error {
	p := &s.cfg.Policy
	if p.Auth == "" {
		return nil
	}
	env := p.ServerEnv
	if env == nil {
		env = os.Environ()
	}
	pid, err := launch.Start(&launch.Params{
		Path: []string{"/bin/sh"}, Argv: []string{"sh", "-c", p.Auth}, Env: DiveEnv(env, j.peer),
		Files: []int{j.clientFD(0), j.clientFD(1), j.clientFD(2)},
		UID:   -1, GID: -1, Umask: -1, LandlockFD: -1, LastCap: int(s.lastCap),
	})
	if err != nil {
		return fmt.Errorf("start the authentication program: %w", err)
	}
	c := s.watch(pid, false)
	if p.AuthTimeout > 0 {
		t := time.AfterFunc(p.AuthTimeout, func() { c.signal(unix.SIGKILL, false) })
		defer t.Stop()
	}
	c.await()
	if c.ws.Signaled() || c.ws.ExitStatus() != 0 {
		return fmt.Errorf("the authentication program refused (%s)", describeStatus(c.ws))
	}
	return nil
}

// describeStatus is a wait status in words.
func describeStatus(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
