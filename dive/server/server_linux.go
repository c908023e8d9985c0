package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/dive/proto1100"
	"github.com/covebox/cove/dive/wire"
	"github.com/covebox/cove/internal/caps"
	"github.com/covebox/cove/internal/launch"
)

// Config is a server's policy and limits.
type Config struct {
	Policy Policy
	// MaxClients bounds the connections served at once (default 64); the
	// accept loop waits for a free slot, so the kernel's backlog queues the
	// rest.
	MaxClients int
	// PhaseTimeout bounds each protocol phase before the program starts
	// (greeting to request, and the signal-channel answer); default 10 s.
	// It never bounds the program's run time.
	PhaseTimeout time.Duration
	// Allow, when non-nil, decides which peers may connect (abstract
	// sockets have no file permissions to do it).
	Allow *Allowlist
	// Native enables cove's native protocol (the upgrade from 1100); it is
	// on unless DisableNative.
	DisableNative bool
	// Logger receives one record per connection and per failure; nil
	// discards.
	Logger *slog.Logger
	// ReapChildren makes the server wait for every child of the process,
	// not only the programs it started: required when it is PID 1 of a PID
	// namespace (dived -s pid) or a child subreaper, where orphaned
	// descendants are reparented to it and would stay zombies.
	// Precondition: nothing else in the process waits for children (os/exec
	// included), and no other Server of the process sets it.
	ReapChildren bool
}

// Server serves dive clients. Create it with New.
type Server struct {
	cfg     Config
	log     *slog.Logger
	lastCap caps.Cap
	euid    int
	egid    int
	db      *hostDB
	reaper  *reaper
	// peerGroups: the policy needs the peer's groups from the host
	// database (an allowlist by gid, or programs run as the peer).
	peerGroups bool

	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[*net.UnixConn]struct{}
	ln    *net.UnixListener
	done  bool
}

// New checks cfg and returns a server. Precondition: cfg.Policy passed
// Validate.
func New(cfg Config) (*Server, error) {
	// Read the open-file limit programs get back now, before connections
	// hold descriptors: the first read briefly lowers this process's.
	launch.StartNofile()
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 64
	}
	if cfg.PhaseTimeout <= 0 {
		cfg.PhaseTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	last, err := caps.Last()
	if err != nil {
		return nil, fmt.Errorf("last capability: %w", err)
	}
	s := &Server{cfg: cfg, log: log, lastCap: last, euid: os.Geteuid(), egid: os.Getegid(), db: newHostDB(),
		sem: make(chan struct{}, cfg.MaxClients), conns: map[*net.UnixConn]struct{}{}}
	s.peerGroups = (cfg.Allow != nil && !cfg.Allow.Any && len(cfg.Allow.GIDs) > 0) ||
		(!cfg.Policy.NoSetuid && cfg.Policy.User == "")
	if cfg.ReapChildren {
		s.reaper = newReaper()
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown or an accept error. It
// returns nil after Shutdown.
func (s *Server) Serve(ln *net.UnixListener) error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		s.sem <- struct{}{}
		c, err := ln.AcceptUnix()
		if err != nil {
			<-s.sem
			s.mu.Lock()
			done := s.done
			s.mu.Unlock()
			if done {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			// EMFILE and friends: back off instead of spinning.
			s.log.Warn("accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			continue
		}
		if !s.track(c) {
			c.Close()
			<-s.sem
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			defer s.untrack(c)
			s.ServeConn(c)
		}()
	}
}

func (s *Server) track(c *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *net.UnixConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// Shutdown stops accepting, then waits for the connections being served
// (each ends when its program ends) until ctx is done, when it closes them.
// Programs keep running; the server no longer reports their end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.done = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() { s.wg.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-idle
	return ctx.Err()
}

// ServeConn serves one connection (an accepted client, or dived -i's fd 0)
// and closes it. It returns when the conversation ends.
func (s *Server) ServeConn(c *net.UnixConn) {
	defer c.Close()
	peer, err := peerOf(c)
	if err != nil {
		s.log.Warn("connection refused", "err", err)
		return
	}
	if u, err := s.db.userByID(peer.UID); err == nil {
		peer.User = u.name
	}
	if s.peerGroups {
		peer.Groups = s.db.groupsOf(peer.User, peer.GID)
	}
	log := s.log
	if log.Enabled(context.Background(), slog.LevelWarn) {
		// Only a logger that writes builds the per-connection attributes.
		log = log.With("peer_uid", peer.UID, "peer_gid", peer.GID, "peer_pid", peer.PID)
	}
	if s.cfg.Allow != nil && !s.cfg.Allow.Permits(peer) {
		log.Warn("connection refused: peer not in the allowlist")
		return
	}
	c.SetDeadline(time.Now().Add(s.cfg.PhaseTimeout))
	sock := proto1100.NewSocket(c)
	l := proto1100.NativeLayout()
	enc, _ := proto1100.NewEncoder(sock, l)
	dec, _ := proto1100.NewDecoder(sock, l, proto1100.Limits{})
	if err := enc.WriteHello(proto1100.Hello{HelperPID: HelperPID}); err != nil {
		log.Info("greeting", "err", err)
		return
	}
	raw, term, err := dec.ReadIntroRaw()
	if err != nil {
		log.Info("intro", "err", err)
		return
	}
	kind, derr := wire.Detect(raw[:])
	switch {
	case derr != nil:
		closeFD(term)
		log.Warn("unknown protocol", "err", derr)
	case kind == wire.KindNative && !s.cfg.DisableNative:
		closeFD(term)
		s.serveNative(c, peer, log)
	case kind == wire.KindNative:
		// Refuse the upgrade: answer as dived does, the client continues in
		// protocol 1100.
		s.serve1100(c, sock, enc, dec, peer, proto1100.Intro{Terminal: term, Wait: true}, log)
	default:
		in, err := l.ParseIntro(raw, term)
		if err != nil {
			closeFD(term)
			log.Warn("intro", "err", err)
			return
		}
		s.serve1100(c, sock, enc, dec, peer, in, log)
	}
}

// HelperPID is what the server announces as dived's "helper pid". There is
// no helper process: the pid is one no process can have (above the kernel's
// pid_max limit), so that a dive client forwarding signals to it by itself
// reaches nobody, never the server.
const HelperPID = 1<<30 - 1

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}
