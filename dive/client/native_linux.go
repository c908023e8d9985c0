package client

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"github.com/covebox/cove/dive/proto1100"
	"github.com/covebox/cove/dive/wire"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned for programs whose connection ended before their
// status arrived.
var ErrClosed = errors.New("dive client: connection closed")

// WantCaps are the capabilities the client asks for.
const WantCaps = wire.CapPidFD | wire.CapWinSize | wire.CapStructuredErrors

// Conn is a held native connection to a cove server. It is safe for
// concurrent use: each Start runs on its own stream.
type Conn struct {
	c    Transport
	wc   *wire.Conn
	caps wire.Caps

	mu    sync.Mutex
	next  uint32
	procs map[uint32]*Process
	err   error
}

// Pending1100 is a connection whose server turned out to be a real dived:
// the Intro (terminal, wait requested) is sent and answered; Run finishes
// the conversation in protocol 1100.
type Pending1100 struct {
	c       Transport
	enc     *proto1100.Encoder
	dec     *proto1100.Decoder
	helper  int32
	enabled bool
}

// Run finishes the protocol-1100 conversation as dive does (see Run1100).
func (p *Pending1100) Run(s Settings, fds []int, argv, env []string) (Outcome1100, error) {
	sigs, stop := signalSource(s)
	defer stop()
	return finish1100(p.c, p.enc, p.dec, s, fds, argv, env, p.helper, p.enabled, sigs, Outcome1100{})
}

// Open offers the native protocol on a fresh connection, sending terminal
// (or -1) as dive would, and reads the server's greeting and answer. It returns a
// *Conn when the server is cove, or a *Pending1100 when it is a real dived.
func Open(c Transport, terminal int) (*Conn, *Pending1100, error) {
	wc, pending, err := upgrade(c, terminal)
	if err != nil || pending != nil {
		return nil, pending, err
	}
	if err := wc.WriteMessage(0, wire.Hello{Version: wire.Version, Caps: WantCaps}); err != nil {
		return nil, nil, err
	}
	caps, err := readHello(wc)
	if err != nil {
		return nil, nil, err
	}
	cn := &Conn{c: c, wc: wc, caps: caps, procs: map[uint32]*Process{}}
	go cn.read()
	return cn, nil, nil
}

// upgrade sends the upgrade offer with terminal, reads the protocol-1100
// greeting, and then the answer: a cove server accepts (a wire.Conn is
// returned), a real dived answers as to "wait requested" (a Pending1100).
func upgrade(c Transport, terminal int) (*wire.Conn, *Pending1100, error) {
	sock := proto1100.NewSocket(c)
	l := proto1100.NativeLayout()
	enc, _ := proto1100.NewEncoder(sock, l)
	dec, _ := proto1100.NewDecoder(sock, l, proto1100.Limits{})
	// The offer goes before the greeting is read: every server reads the
	// client's first bytes only after sending its greeting, so the order
	// on the wire is the same and one round trip is saved.
	var offer [4]byte
	copy(offer[:], wire.UpgradeOffer)
	if err := enc.WriteIntroRaw(terminal, offer); err != nil {
		return nil, nil, fmt.Errorf("upgrade offer: %w", err)
	}
	hello, err := dec.ReadHello()
	if err != nil {
		return nil, nil, fmt.Errorf("greeting: %w", err)
	}
	reply, err := sock.ReadBytes(4)
	if err != nil {
		return nil, nil, fmt.Errorf("upgrade reply: %w", err)
	}
	kind, err := wire.DetectReply(reply)
	if err != nil {
		return nil, nil, err
	}
	if kind == wire.KindDive1100 {
		w, err := l.ParseWaitReply(reply)
		if err != nil {
			return nil, nil, err
		}
		return nil, &Pending1100{c: c, enc: enc, dec: dec, helper: hello.HelperPID, enabled: w.Enabled}, nil
	}
	return wire.NewConn(c, wire.Limits{}), nil, nil
}

// readHello reads the server's Hello.
func readHello(wc *wire.Conn) (wire.Caps, error) {
	stream, m, err := wc.ReadMessage()
	if err != nil {
		return 0, fmt.Errorf("hello: %w", err)
	}
	h, ok := m.(wire.Hello)
	if !ok || stream != 0 {
		closeMessage(m)
		return 0, fmt.Errorf("hello: server sent %s on stream %d", m.Type(), stream)
	}
	return h.Caps, nil
}

// closeMessage closes the descriptors a server message carries.
func closeMessage(m wire.Message) {
	if s, ok := m.(wire.Started); ok && s.HasPidFD {
		unix.Close(s.PidFD)
	}
}

// Dial connects to a cove server at addr (a path or "@name") and returns a
// held native connection. Against a real dived it returns ErrDive1100.
func Dial(addr string) (*Conn, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, err
	}
	cn, p, err := Open(c, -1)
	if err != nil {
		c.Close()
		return nil, err
	}
	if p != nil {
		c.Close()
		return nil, ErrDive1100
	}
	return cn, nil
}

// ErrDive1100: the server is a real dived; use Run1100.
var ErrDive1100 = errors.New("dive client: server speaks only protocol 1100 (dived)")

// Caps returns the negotiated capabilities.
func (cn *Conn) Caps() wire.Caps { return cn.caps }

// Close closes the connection; programs keep running on the server.
func (cn *Conn) Close() error { return cn.c.Close() }

// Request is a program to start. Descriptors stay the caller's: Start sends
// copies.
type Request struct {
	Argv, Env []string
	// Files maps the program's descriptor numbers to the caller's
	// descriptors (any numbers).
	Files map[int]int
	// Dir and Root are descriptors of directories, or -1 (server's choice).
	Dir, Root int
	// Umask, when SetUmask.
	Umask    int
	SetUmask bool
	// Terminal (or -1) becomes the controlling terminal; Size its window.
	Terminal int
	Size     *wire.WinSize
	// Detach: no exit status.
	Detach bool
	// SignalGroup sends Signal to the program's process group.
	SignalGroup bool
}

// wire is the Request message for r; caps are the negotiated (or, before
// the server's Hello, the offered) capabilities.
func (r Request) wire(caps wire.Caps) wire.Request {
	q := wire.Request{Argv: r.Argv, Env: r.Env, Wait: wire.WaitExit}
	if r.Detach {
		q.Wait = wire.WaitDetach
	}
	if r.SignalGroup {
		q.Signals = wire.SignalGroup
	}
	if r.Terminal >= 0 {
		q.Terminal = &wire.Terminal{FD: r.Terminal}
		if r.Size != nil && caps&wire.CapWinSize != 0 {
			q.Terminal.Size = r.Size
		}
	}
	if r.Dir >= 0 {
		q.Cwd = wire.Dir{Kind: wire.DirFD, FD: r.Dir}
	}
	if r.Root >= 0 {
		q.Root = wire.Dir{Kind: wire.DirFD, FD: r.Root}
	}
	if r.SetUmask {
		q.SetUmask, q.Umask = true, uint32(r.Umask)
	}
	for target, fd := range r.Files {
		q.FDs = append(q.FDs, wire.PassedFD{Target: uint32(target), FD: fd})
	}
	return q
}

// Process is a program started by Start.
type Process struct {
	Pid int
	// PidFD is a pidfd of the program in this process (-1 when the server
	// did not send one). Close it when done.
	PidFD int

	cn      *Conn
	stream  uint32
	detach  bool
	started chan error
	done    chan struct{}
	exit    wire.Exit
	err     error
}

// Start asks the server to start r and waits for it to run.
func (cn *Conn) Start(r Request) (*Process, error) {
	q := r.wire(cn.caps)
	p := &Process{cn: cn, PidFD: -1, detach: r.Detach, started: make(chan error, 1), done: make(chan struct{})}
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return nil, err
	}
	cn.next++
	if cn.next == 0 {
		cn.next = 1
	}
	p.stream = cn.next
	cn.procs[p.stream] = p
	cn.mu.Unlock()
	if err := cn.wc.WriteMessage(p.stream, q); err != nil {
		cn.mu.Lock()
		delete(cn.procs, p.stream)
		cn.mu.Unlock()
		return nil, err
	}
	if err := <-p.started; err != nil {
		return nil, err
	}
	return p, nil
}

// read dispatches the server's messages to their processes.
func (cn *Conn) read() {
	for {
		stream, m, err := cn.wc.ReadMessage()
		if err != nil {
			cn.mu.Lock()
			cn.err = ErrClosed
			procs := cn.procs
			cn.procs = map[uint32]*Process{}
			cn.mu.Unlock()
			for _, p := range procs {
				p.fail(ErrClosed)
			}
			return
		}
		cn.mu.Lock()
		p := cn.procs[stream]
		cn.mu.Unlock()
		if p == nil {
			closeMessage(m)
			continue
		}
		switch m := m.(type) {
		case wire.Started:
			p.Pid = int(m.PID)
			if m.HasPidFD {
				p.PidFD = m.PidFD
			}
			if p.detach {
				cn.forget(p)
				close(p.done)
			}
			p.started <- nil
		case wire.Exit:
			cn.forget(p)
			p.exit = m
			close(p.done)
		case wire.Error:
			cn.forget(p)
			if m.Step == "no-wait" {
				close(p.done) // started; the server will not report the end
				continue
			}
			p.fail(m)
		}
	}
}

func (cn *Conn) forget(p *Process) {
	cn.mu.Lock()
	delete(cn.procs, p.stream)
	cn.mu.Unlock()
}

// fail ends p with err: before Started it is Start's error, after it Wait's.
func (p *Process) fail(err error) {
	select {
	case p.started <- err:
		return
	default:
	}
	p.err = err
	select {
	case <-p.done:
	default:
		close(p.done)
	}
}

// Wait waits for the program's end. For a detached program it returns at
// once with a zero Exit.
func (p *Process) Wait() (wire.Exit, error) {
	<-p.done
	return p.exit, p.err
}

// Done is closed when the program has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal asks the server to deliver sig.
func (p *Process) Signal(sig syscall.Signal) error {
	return p.cn.wc.WriteMessage(p.stream, wire.Signal{Signo: uint32(sig)})
}

// Resize sends a new window size for the program's terminal.
func (p *Process) Resize(ws wire.WinSize) error {
	return p.cn.wc.WriteMessage(p.stream, ws)
}
