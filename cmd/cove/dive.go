package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/covebox/cove/dive/client"
	"github.com/covebox/cove/dive/wire"
	"github.com/covebox/cove/internal/sigcatch"
	"golang.org/x/sys/unix"
)

const diveToolUsage = `Dive client v1.9.0 (cove %s, proto 1100) https://github.com/vi/dive/
Usage: dive {socket_path|@abstract_address} [program arguments]
Start program in remote 'dived' and 'invite' it here by redirecting fds
    Environment variables:
    DIVE_CURDIR   - use this current directory instead of "."
    DIVE_ROOTDIR  - use this root directory instead of "/"
    DIVE_TERMINAL - use this instead of "@0" (can be path to file or @fd)
    DIVE_WAITMODE   - 
                    0(default) - request remote waiting
                    1 - don't wait, just start the program remotely in background
                    2 - workaround waiting (using a FD)
    DIVE_SIGFWMODE signal forwarding mode
                    0 - do not forward signals
                    1(default) - forward only to one PID
                    2 - forward to a process group (does not affect dived's -n mode)
    Note that DIVE_* variables are filtered out by dived.
`

// diveTool is the dive personality: vi/dive's client, protocol 1100 only,
// with its exit codes (see docs/dive.md).
func diveTool(argv []string) int {
	fds := client.InheritedFDs() // before this process opens anything
	runtime.UnlockOSThread()     // see diveMain
	if len(argv) < 2 || argv[1] == "-?" || argv[1] == "--help" || argv[1] == "--version" {
		fmt.Printf(diveToolUsage, Version)
		return 4
	}
	s, err := client.SettingsFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 12
	}
	if _, err := catchForwarded(&s); err != nil {
		fmt.Fprintf(os.Stderr, "dive: %v\n", err)
		return 12
	}
	c, err := client.DialRaw(argv[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "connect: %v\n", dialErrText(err))
		return 2
	}
	defer c.Close()
	out, err := client.Run1100(c, s, fds, argv[2:], os.Environ())
	switch {
	case out.Incompatible:
		fmt.Fprintln(os.Stderr, "Incompatible versions of dive and dived")
		return 3
	case err != nil && !out.ServerFailed:
		fmt.Fprintf(os.Stderr, "dive: %v\n", err)
		return 127
	case out.ServerFailed:
		fmt.Fprintln(os.Stderr, "dive: Something failed with the server ret=0")
		return 127
	}
	if out.Status == 127 {
		fmt.Fprintln(os.Stderr, "dive: Probably can't execute command")
	}
	return out.Status
}

// dialErrText is the strerror text of a dial error, as perror prints it.
func dialErrText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// diveMain implements `cove dive SOCKET|@ABSTRACT [COMMAND...]`.
func diveMain(args []string, stdout, stderr io.Writer) int {
	fds := client.InheritedFDs() // before this process opens anything
	// The engine pins the main goroutine to the main thread; a client
	// starts no sandbox, and the pin would cost a thread hand-off each
	// time this goroutine blocks.
	runtime.UnlockOSThread()
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprint(w, `Usage: cove dive SOCKET|@ABSTRACT [COMMAND [ARG...]]

Start COMMAND through a cove serve (or dived) socket as if here: this
process's descriptors, working directory, umask, environment, argv and
terminal travel with it; its exit status comes back (128+N when killed by
signal N; 125 when the start failed, 126/127 when the command could not be
executed or found). DIVE_CURDIR, DIVE_ROOTDIR, DIVE_TERMINAL, DIVE_WAITMODE
and DIVE_SIGFWMODE work as with dive. See docs/dive.md.
`)
		if len(args) == 0 {
			return exitSetup
		}
		return 0
	}
	s, err := client.SettingsFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "cove dive: %v\n", err)
		return exitSetup
	}
	sigs, err := catchForwarded(&s)
	if err != nil {
		fmt.Fprintf(stderr, "cove dive: %v\n", err)
		return exitSetup
	}
	c, err := client.DialRaw(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "cove dive: connect %s: %v\n", args[0], dialErrText(err))
		return exitSetup
	}
	defer c.Close()
	term, closeTerm := diveTerminal(s.Terminal, fds)
	if closeTerm {
		defer unix.Close(term)
	}
	cn, pending, err := client.OpenSingle(c, term)
	if err != nil {
		fmt.Fprintf(stderr, "cove dive: %v\n", err)
		return exitSetup
	}
	if pending != nil {
		// A real dived: protocol 1100 on the same connection.
		out, err := pending.Run(s, fds, args[1:], os.Environ())
		if err != nil || out.ServerFailed {
			fmt.Fprintf(stderr, "cove dive: the server dropped the connection (%v)\n", err)
			return exitSetup
		}
		return out.Status
	}
	r := client.Request{Argv: args[1:], Env: os.Environ(), Files: make(map[int]int, len(fds)), Dir: -1, Root: -1, Terminal: term,
		Detach: s.WaitMode == 1, SignalGroup: s.SigFwMode == 2}
	for _, fd := range fds {
		r.Files[fd] = fd
	}
	if fd, err := unix.Open(s.Curdir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		r.Dir = fd
		defer unix.Close(fd)
	}
	if fd, err := unix.Open(s.Rootdir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		r.Root = fd
		defer unix.Close(fd)
	}
	um := unix.Umask(0)
	unix.Umask(um)
	r.Umask, r.SetUmask = um, true
	if term >= 0 {
		if ws, err := unix.IoctlGetWinsize(term, unix.TIOCGWINSZ); err == nil {
			r.Size = &wire.WinSize{Rows: ws.Row, Cols: ws.Col, XPixel: ws.Xpixel, YPixel: ws.Ypixel}
		}
	}
	if len(r.Argv) == 0 {
		r.Argv = []string{""} // the server's forced command, if any, runs; else it refuses
	}
	if err := cn.Start(r); err != nil {
		return reportStartError(stderr, err)
	}
	if cn.PidFD >= 0 {
		unix.Close(cn.PidFD)
	}
	// Our copies go, so that EOF reaches the program's peers (as dive does).
	for _, fd := range fds {
		if fd != 2 {
			unix.Close(fd)
		}
	}
	if r.Detach {
		return 0
	}
	if sigs != nil {
		go forwardSignals(cn, sigs, term)
	}
	x, err := cn.Wait()
	if errors.Is(err, client.ErrNoWait) {
		return 0 // started; a --no-wait server never reports the end
	}
	if err != nil {
		return reportStartError(stderr, err)
	}
	if x.Signal != 0 {
		return 128 + int(x.Signal)
	}
	return int(x.Code)
}

// forwardSignals sends the signals this process catches to the program
// (SIGWINCH as a window-size update) until the process exits.
func forwardSignals(cn *client.Single, sigs <-chan os.Signal, term int) {
	for sig := range sigs {
		n, ok := sig.(syscall.Signal)
		if !ok {
			continue
		}
		if n == syscall.SIGWINCH && term >= 0 {
			if ws, err := unix.IoctlGetWinsize(term, unix.TIOCGWINSZ); err == nil {
				cn.Resize(wire.WinSize{Rows: ws.Row, Cols: ws.Col, XPixel: ws.Xpixel, YPixel: ws.Ypixel})
			}
			continue
		}
		cn.Signal(n)
	}
}

func reportStartError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "cove dive: %v\n", err)
	var we wire.Error
	if errors.As(err, &we) {
		switch {
		case we.Step == "exec" && (we.Errno == syscall.ENOENT || we.Errno == syscall.ENOTDIR):
			return exitNotFound
		case we.Step == "exec":
			return exitNotExec
		case we.Step == "no-program":
			return exitNotFound
		}
	}
	return exitSetup
}

// diveTerminal resolves DIVE_TERMINAL against the inherited fds.
func diveTerminal(spec string, fds []int) (int, bool) {
	if spec == "" {
		return -1, false
	}
	if spec[0] == '@' {
		n, err := strconv.Atoi(spec[1:])
		if err != nil {
			return -1, false
		}
		for _, f := range fds {
			if f == n {
				return n, false
			}
		}
		return -1, false
	}
	fd, err := unix.Open(spec, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false
	}
	return fd, true
}

// catchForwarded catches client.Forwarded with internal/sigcatch (a few
// system calls, where signal.Notify made thirteen round trips to the
// runtime's signal thread) and hands them to the client in s.Signals. It
// does nothing when s does not forward signals.
func catchForwarded(s *client.Settings) (<-chan os.Signal, error) {
	if s.SigFwMode == 0 {
		return nil, nil
	}
	want := make([]syscall.Signal, 0, len(client.Forwarded))
	for _, sig := range client.Forwarded {
		want = append(want, sig.(syscall.Signal))
	}
	c, err := sigcatch.CatchAll(want...) // as dive: ignored ones too
	if err != nil {
		return nil, err
	}
	ch := make(chan os.Signal, 64)
	c.Forward(func(sig syscall.Signal) { ch <- sig })
	s.Signals = ch
	return ch, nil
}
