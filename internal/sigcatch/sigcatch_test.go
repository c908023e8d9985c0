package sigcatch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// catchOnce catches for the whole test binary (-count=N runs TestCatch N
// times in one process): dispositions are process-wide, Catch works once.
var catchOnce = sync.OnceValues(func() (*Catcher, error) {
	signal.Ignore(unix.SIGHUP)
	return Catch(unix.SIGUSR1, unix.SIGUSR2, unix.SIGTERM, unix.SIGHUP)
})

func TestCatch(t *testing.T) {
	c, err := catchOnce()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Caught(); len(got) != 3 || got[2] != unix.SIGTERM {
		t.Fatalf("Caught() = %v, want SIGUSR1 SIGUSR2 SIGTERM (SIGHUP was ignored)", got)
	}
	if _, err := Catch(unix.SIGINT); !errors.Is(err, ErrCaught) {
		t.Fatalf("second Catch: %v, want ErrCaught", err)
	}

	// Signals arrive in order and none of them ends the process: SIGTERM
	// would, uncaught; SIGHUP stays ignored.
	want := []syscall.Signal{unix.SIGUSR1, unix.SIGTERM, unix.SIGUSR2, unix.SIGUSR1}
	for _, s := range []syscall.Signal{unix.SIGUSR1, unix.SIGHUP, unix.SIGTERM, unix.SIGUSR2, unix.SIGUSR1} {
		if err := unix.Kill(unix.Getpid(), s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // one at a time: equal signals pending at once merge
	}
	got := make(chan syscall.Signal, 8)
	go func() {
		for range want {
			s, err := c.Next()
			if err != nil {
				t.Error(err)
				return
			}
			got <- s
		}
	}()
	for i, w := range want {
		select {
		case s := <-got:
			if s != w {
				t.Fatalf("signal %d: got %v, want %v", i, s, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("signal %d (%v) never arrived", i, w)
		}
	}

	// A child the runtime forks gets the default disposition for the
	// caught signals and keeps SIGHUP ignored across execve.
	out, err := exec.Command("grep", "-E", "^Sig(Cgt|Ign):", "/proc/self/status").Output()
	if err != nil {
		t.Fatal(err)
	}
	masks := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, ":")
		m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		masks[k] = m
	}
	bit := func(s syscall.Signal) uint64 { return 1 << (uint(s) - 1) }
	for _, s := range c.Caught() {
		if masks["SigCgt"]&bit(s) != 0 {
			t.Errorf("child catches %v (SigCgt %x)", s, masks["SigCgt"])
		}
		if masks["SigIgn"]&bit(s) != 0 {
			t.Errorf("child ignores %v (SigIgn %x)", s, masks["SigIgn"])
		}
	}
	if masks["SigIgn"]&bit(unix.SIGHUP) == 0 {
		t.Errorf("child does not ignore SIGHUP (SigIgn %x)", masks["SigIgn"])
	}
}

// TestCatchAllTakesIgnoredSignals runs in a child process (Catch works once
// per process): with SIGHUP ignored, CatchAll catches it all the same.
func TestCatchAllTakesIgnoredSignals(t *testing.T) {
	if os.Getenv("SIGCATCH_TEST_ALL") != "" {
		signal.Ignore(unix.SIGHUP)
		c, err := CatchAll(unix.SIGHUP)
		if err != nil || len(c.Caught()) != 1 {
			fmt.Println("catch:", err, c)
			os.Exit(1)
		}
		unix.Kill(unix.Getpid(), unix.SIGHUP)
		s, err := c.Next()
		fmt.Println(s == unix.SIGHUP, err)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCatchAllTakesIgnoredSignals$")
	cmd.Env = append(os.Environ(), "SIGCATCH_TEST_ALL=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "true <nil>" {
		t.Fatalf("child: %v: %q", err, out)
	}
}

// TestCatchRefusesUncatchable: SIGKILL, SIGSTOP and numbers outside 1..64
// are refused before anything is installed, and do not use up the one
// Catch a process has.
func TestCatchRefusesUncatchable(t *testing.T) {
	for _, s := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, 0, 65} {
		if _, err := Catch(syscall.SIGUSR1, s); err == nil || errors.Is(err, ErrCaught) {
			t.Errorf("Catch(SIGUSR1, %d): %v, want a refusal naming the signal", s, err)
		}
	}
}
