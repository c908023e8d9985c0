package escape

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// killAndCheck starts a probe that detaches three children (new session,
// SIGHUP/SIGTERM ignored, no parent-death signal), SIGKILLs cove, and
// requires every process of the sandbox to be gone.
func killAndCheck(t *testing.T, u runAs) {
	t.Helper()
	tok := fmt.Sprintf("cove-escape-linger-%d-%d", os.Getpid(), time.Now().UnixNano())
	s := start(t, u, nil, "linger", tok)
	if n := len(strings.Split(s.kv["children"], ",")); n != 3 {
		t.Fatalf("probe started %d children: %v", n, s.kv)
	}
	if got := processesWith(tok); len(got) < 4 {
		t.Fatalf("before the kill: %d processes with the token, want at least 4 (%v)", len(got), got)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	waited := make(chan struct{})
	go func() { s.cmd.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := processesWith(tok)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes survived cove's SIGKILL: %v", left)
			for _, p := range left {
				unix.Kill(p, unix.SIGKILL)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEscape31KillLauncher(t *testing.T) {
	attack(t, 31, "SIGKILL cove: no survivors")
	forUsers(t, func(t *testing.T, u runAs) { killAndCheck(t, u) })
}
