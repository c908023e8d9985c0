package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/covebox/cove"
)

// terminal relays between the caller's terminal and a pseudo-terminal that
// belongs to the sandboxed program. The program never holds the caller's
// terminal, so nothing inside can push input into it (TIOCSTI) or change its
// settings; the caller's terminal mode is restored however cove exits.
type terminal struct {
	master, slave *os.File
	saved         *term.State
	winch         chan os.Signal
	out           sync.WaitGroup
}

// startTerminal prepares cmd's stdio. With mode "auto" a pty is used when
// stdin is a terminal; "always" requires one; "never" passes stdio through.
// It returns a usable (possibly inactive) terminal in every case.
func startTerminal(cmd *cove.Cmd, mode string) (*terminal, error) {
	t := &terminal{}
	in := int(os.Stdin.Fd())
	isTTY := term.IsTerminal(in)
	if mode == "never" || (mode == "auto" && !isTTY) {
		return t, nil
	}
	if !isTTY {
		return t, errors.New("--tty always: standard input is not a terminal")
	}
	master, slave, err := pty.Open()
	if err != nil {
		return t, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	t.master, t.slave = master, slave
	if err := pty.InheritSize(os.Stdin, master); err != nil {
		// Not fatal: the program starts with the default size.
		_ = err
	}
	cmd.Stdin = slave
	if term.IsTerminal(int(os.Stdout.Fd())) {
		cmd.Stdout = slave
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		cmd.Stderr = slave
	}
	cmd.Terminal = true
	return t, nil
}

// started begins relaying once the program runs: raw mode on the caller's
// terminal, input to the pty, the pty's output to stdout, and window-size
// changes passed on.
func (t *terminal) started() {
	if t.master == nil {
		return
	}
	t.slave.Close()
	if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
		t.saved = st
	}
	t.winch = make(chan os.Signal, 1)
	signal.Notify(t.winch, unix.SIGWINCH)
	go func() {
		for range t.winch {
			pty.InheritSize(os.Stdin, t.master)
		}
	}()
	go io.Copy(t.master, os.Stdin)
	t.out.Add(1)
	go func() {
		defer t.out.Done()
		// EIO marks the end: every holder of the slave has exited.
		io.Copy(os.Stdout, t.master)
	}()
}

// finish drains the program's last output and restores the terminal.
func (t *terminal) finish() {
	if t.master == nil {
		return
	}
	t.out.Wait()
	signal.Stop(t.winch)
	t.master.Close()
	t.restore()
}

// restore puts the caller's terminal back as it was.
func (t *terminal) restore() {
	if t.saved != nil {
		term.Restore(int(os.Stdin.Fd()), t.saved)
		t.saved = nil
	}
	if t.slave != nil {
		t.slave.Close()
	}
}
