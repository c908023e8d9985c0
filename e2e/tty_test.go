package e2e

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestTIOCSTI runs cove on a pseudo-terminal, as from an interactive shell,
// and has a program inside try to push input into its terminal with
// ioctl(TIOCSTI). The property under test: nothing typed by the sandbox
// arrives as input on the caller's terminal, where a process outside (the
// caller's shell, after cove exits) would read and run it.
//
// The test owns the outer pty (master and slave). Evidence checked:
//   - the ioctl's result on fds 0, 1, 2 and /dev/tty, as the probe reports it;
//   - the device of the program's fd 0 against the outer slave's: with cove's
//     own relayed pty (the default when stdin is a terminal) it must be a
//     different tty, so even a successful TIOCSTI lands in the sandbox's pty;
//   - the outer slave's input queue after cove exits (TIOCINQ and a
//     non-blocking read): it must hold no injected byte;
//   - the outer master's output: with the default seccomp filter the
//     injected text must not appear there either (an injection into the outer
//     terminal would be echoed there, or relayed into the inner pty and
//     echoed by it);
//   - the outer terminal's mode is restored after cove put it in raw mode.
func TestTIOCSTI(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// relayed: fd 0 inside is cove's own pty, not the caller's.
		relayed bool
		// mustFail: every TIOCSTI must fail (the default seccomp filter).
		mustFail bool
		// quiet: the injected text must not show up in the outer output.
		quiet bool
	}{
		{"relayed-pty", nil, true, true, true},
		// --tty never hands the caller's terminal itself to the program
		// (without making it the controlling tty): the filter alone must stop it.
		{"callers-tty", []string{"--tty", "never"}, false, true, true},
		// Without the filter the ioctl may succeed (dev.tty.legacy_tiocsti=1),
		// but only on the sandbox's own pty: the caller's queue stays empty.
		{"relayed-pty-seccomp-none", []string{"--seccomp", "none"}, true, false, false},
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				text := "echo cove-e2e-injected-" + randHex() + "\n"
				out, res, queued, outer := runOnPty(t, md, append(append(c.args, probeArgs()...), "--", "/e2e/probe", "tiocsti", text)...)
				if res.code != 0 {
					t.Fatalf("probe failed\n%v\nterminal output:\n%s", res, out)
				}
				if strings.Contains(queued, "cove-e2e-injected") {
					t.Errorf("injected input reached the caller's terminal input queue: %q", queued)
				}
				if c.quiet && strings.Contains(out, "cove-e2e-injected") {
					t.Errorf("injected input shows on the caller's terminal:\n%s", out)
				}
				var dev, rdev uint64
				var results []string
				for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
					if rest, ok := strings.CutPrefix(l, "stat 0 "); ok {
						fmt.Sscan(rest, &dev, &rdev)
					}
					if rest, ok := strings.CutPrefix(l, "tiocsti "); ok {
						results = append(results, rest)
					}
				}
				if len(results) != 4 || rdev == 0 {
					t.Fatalf("unexpected probe output:\n%s", out)
				}
				same := dev == outer.Dev && rdev == outer.Rdev
				if c.relayed && same {
					t.Errorf("the program's fd 0 is the caller's terminal (dev %d rdev %d), not a relayed pty", dev, rdev)
				}
				if !c.relayed && !same {
					t.Errorf("with --tty never the program's fd 0 (dev %d rdev %d) should be the caller's terminal (dev %d rdev %d)", dev, rdev, outer.Dev, outer.Rdev)
				}
				if c.mustFail {
					for _, r := range results {
						if strings.HasSuffix(r, " ok") {
							t.Errorf("TIOCSTI succeeded: %s", r)
						}
					}
				}
				t.Logf("probe: %s", strings.Join(results, "; "))
			})
		}
	})
}

// runOnPty runs cove with a new pty as its terminal. It returns what cove
// wrote to the terminal, cove's result, whatever was left unread in the
// terminal's input queue after cove exited, and the slave's stat.
func runOnPty(t *testing.T, md *mode, args ...string) (string, result, string, syscall.Stat_t) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pty: %v", err)
	}
	defer master.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&out, master) // ends with EIO once the slave is closed
	}()
	res := startCove(t, md, runOpts{tty: slave}, false, args...).wait()

	// Whatever an injection put in the caller's terminal is still queued:
	// no one reads the slave after cove exits.
	sfd := int(slave.Fd()) // Fd() makes the fd blocking: call it once, before SetNonblock
	n, err := unix.IoctlGetInt(sfd, unix.TIOCINQ)
	if err != nil {
		t.Errorf("TIOCINQ: %v", err)
	}
	var queued []byte
	if err := syscall.SetNonblock(sfd, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if k, _ := syscall.Read(sfd, buf); k > 0 {
		queued = buf[:k]
	}
	if n > 0 && len(queued) == 0 {
		queued = []byte(fmt.Sprintf("(%d bytes queued)", n))
	}
	after, err := unix.IoctlGetTermios(sfd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("the terminal's mode was not restored: before %+v, after %+v", *before, *after)
	}
	slave.Close()
	<-done
	return out.String(), res, string(queued), st
}
