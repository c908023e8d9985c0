package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/covebox/cove/dive/wire"
	"golang.org/x/sys/unix"
)

// NativeCaps are the capabilities this server offers in the native Hello.
const NativeCaps = wire.CapPidFD | wire.CapWinSize | wire.CapStructuredErrors

// MaxRequestsPerConn bounds the programs one native connection runs at once.
const MaxRequestsPerConn = 1024

// nativeLimits bounds native requests; fd numbers above 65535 are refused so
// that one request cannot make the launcher walk a million-entry fd table.
var nativeLimits = wire.Limits{MaxTarget: 65535}

type running struct {
	ch       *child
	terminal int
	group    bool
}

// serveNative runs the native conversation after the upgrade offer.
func (s *Server) serveNative(c *net.UnixConn, peer Peer, log *slog.Logger) {
	if _, err := c.Write([]byte(wire.UpgradeAccept)); err != nil {
		return
	}
	wc := wire.NewConn(c, nativeLimits)
	stream, m, err := wc.ReadMessage()
	hello, ok := m.(wire.Hello)
	if err != nil || !ok || stream != 0 {
		log.Info("native hello", "err", err)
		closeMessage(m)
		return
	}
	neg, err := wire.Negotiate(hello, wire.Version, NativeCaps)
	if err != nil {
		return
	}
	if err := wc.WriteMessage(0, neg); err != nil {
		return
	}
	c.SetDeadline(time.Time{})

	var (
		mu   sync.Mutex
		runs = map[uint32]*running{}
		wg   sync.WaitGroup
	)
	defer wg.Wait()
	sendErr := func(stream uint32, step string, errno unix.Errno, msg string) {
		if len(msg) > wire.MaxMessageLen {
			msg = msg[:wire.MaxMessageLen]
		}
		wc.WriteMessage(stream, wire.Error{Step: step, Errno: errno, Message: msg})
	}
	for {
		stream, m, err := wc.ReadMessage()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				log.Info("native read", "err", err)
				var we wire.Error
				if !errors.As(err, &we) {
					sendErr(stream, "protocol", 0, err.Error())
				}
			}
			return
		}
		switch m := m.(type) {
		case wire.Request:
			mu.Lock()
			busy, n := runs[stream] != nil, len(runs)
			mu.Unlock()
			j := jobFromWire(m, peer)
			switch {
			case stream == 0 || busy:
				j.close(false)
				sendErr(stream, "protocol", 0, "stream id 0 or already in use")
				continue
			case n >= MaxRequestsPerConn:
				j.close(false)
				sendErr(stream, "limit", unix.EAGAIN, "too many programs running on this connection")
				continue
			case m.Cwd.Kind == wire.DirPath || m.Root.Kind == wire.DirPath:
				j.close(false)
				sendErr(stream, "protocol", unix.EINVAL, "directories by path are not supported; send descriptors")
				continue
			}
			if err := s.authenticate(j); err != nil {
				j.close(false)
				sendErr(stream, "authenticate", 0, "the server's authentication program refused the request")
				continue
			}
			ch, err := s.start(j)
			if err != nil {
				j.close(false)
				var se *StartError
				if errors.As(err, &se) {
					sendErr(stream, se.Step, se.Errno, se.Message)
				} else {
					sendErr(stream, "start", 0, err.Error())
				}
				continue
			}
			term := j.terminal
			j.close(true)
			st := wire.Started{PID: uint32(ch.pid), PidFD: wire.NoFD}
			if neg.Caps&wire.CapPidFD != 0 {
				if fd, err := unix.PidfdOpen(ch.pid, 0); err == nil {
					st.HasPidFD, st.PidFD = true, fd
				}
			}
			r := &running{ch: ch, terminal: term, group: m.Signals == wire.SignalGroup}
			mu.Lock()
			runs[stream] = r
			mu.Unlock()
			werr := wc.WriteMessage(stream, st)
			closeFD(st.PidFD)
			if werr == nil && s.cfg.Policy.NoWait && m.Wait != wire.WaitDetach {
				sendErr(stream, "no-wait", 0, "the server does not report when programs end (--no-wait)")
			}
			wg.Add(1)
			go func(stream uint32, detach bool) {
				defer wg.Done()
				ch.await()
				mu.Lock()
				delete(runs, stream)
				closeFD(r.terminal)
				mu.Unlock()
				if detach || werr != nil || s.cfg.Policy.NoWait {
					return
				}
				if ch.lost {
					sendErr(stream, "daemon", 0, "the program's end was not observed: the -D helper ended first")
					return
				}
				x := wire.Exit{}
				if ch.ws.Signaled() {
					x.Signal, x.CoreDumped = uint32(ch.ws.Signal()), ch.ws.CoreDump()
				} else {
					x.Code = uint8(ch.ws.ExitStatus())
				}
				wc.WriteMessage(stream, x)
			}(stream, m.Wait == wire.WaitDetach)
		case wire.Signal:
			mu.Lock()
			r := runs[stream]
			mu.Unlock()
			if r != nil {
				r.ch.signal(unix.Signal(m.Signo), r.group)
			}
		case wire.WinSize:
			// Under the lock: the waiter closes the terminal after removing
			// the entry, so the descriptor cannot be a reused number here.
			mu.Lock()
			if r := runs[stream]; r != nil && r.terminal >= 0 {
				ws := unix.Winsize{Row: m.Rows, Col: m.Cols, Xpixel: m.XPixel, Ypixel: m.YPixel}
				unix.IoctlSetWinsize(r.terminal, unix.TIOCSWINSZ, &ws)
			}
			mu.Unlock()
		default:
			closeMessage(m)
			sendErr(stream, "protocol", 0, "unexpected message "+m.Type().String())
			return
		}
	}
}

// closeMessage closes the descriptors a message carries.
func closeMessage(m wire.Message) {
	switch m := m.(type) {
	case wire.Request:
		jobFromWire(m, Peer{}).close(false)
	case wire.Started:
		if m.HasPidFD {
			closeFD(m.PidFD)
		}
	}
}

func jobFromWire(m wire.Request, peer Peer) *job {
	j := &job{peer: peer, terminal: -1, umask: -1, root: -1, cwd: -1, argv: m.Argv, env: m.Env}
	if len(j.argv) == 1 && j.argv[0] == "" {
		j.argv = nil // "no command": only a forced command can run
	}
	if m.Terminal != nil {
		j.terminal = m.Terminal.FD
		if ws := m.Terminal.Size; ws != nil {
			j.winsize = &unix.Winsize{Row: ws.Rows, Col: ws.Cols, Xpixel: ws.XPixel, Ypixel: ws.YPixel}
		}
	}
	if m.Cwd.Kind == wire.DirFD {
		j.cwd = m.Cwd.FD
	}
	if m.Root.Kind == wire.DirFD {
		j.root = m.Root.FD
	}
	if m.SetUmask {
		j.umask = int(m.Umask)
	}
	for _, f := range m.FDs {
		j.fds = append(j.fds, passedFD{target: int(f.Target), fd: f.FD})
	}
	return j
}
