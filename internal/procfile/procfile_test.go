package procfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Read returns what os.ReadFile returns, for /proc files and for a file
// that needs several reads and a growing buffer.
func TestReadMatchesOSReadFile(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("0123456789abcdef"), 4096+3), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/proc/self/setgroups", "/proc/sys/kernel/cap_last_cap", "/proc/self/uid_map", "/proc/self/status", big} {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("os.ReadFile(%s): %v", p, err)
		}
		got, err := Read(p)
		if err != nil {
			t.Fatalf("Read(%s): %v", p, err)
		}
		// /proc/self/status names the reading thread's state and
		// counters: compare its first line only.
		if strings.HasSuffix(p, "status") {
			got, want = bytes.SplitN(got, []byte("\n"), 2)[0], bytes.SplitN(want, []byte("\n"), 2)[0]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Read(%s) = %q, want %q", p, got, want)
		}
	}
}

// A missing file is a *fs.PathError that wraps fs.ErrNotExist, as from
// os.ReadFile; so is a directory's read error.
func TestReadErrors(t *testing.T) {
	_, err := Read("/proc/self/no-such-file")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: got %v, want open PathError wrapping ErrNotExist", err)
	}
	_, err = Read(t.TempDir())
	if !errors.As(err, &pe) || pe.Op != "read" {
		t.Fatalf("directory: got %v, want read PathError", err)
	}
}

// Reading never opens an *os.File, so the runtime's network poller stays
// unstarted: the reason this package exists. It runs in a fresh process
// (this test binary again, without the flags go test adds, one of which
// opens a log file) so that nothing else has started the poller, and it
// checks that os.ReadFile, in the same process, does start it: the check
// can see what it looks for.
func TestReadStartsNoPoller(t *testing.T) {
	if os.Getenv("PROCFILE_CHILD") == "1" {
		if n := eventpolls(); n != 0 {
			t.Fatalf("the poller runs before any read (%d epoll fds): the test cannot tell", n)
		}
		for range 3 {
			if _, err := Read("/proc/self/setgroups"); err != nil {
				t.Fatal(err)
			}
		}
		if n := eventpolls(); n != 0 {
			t.Fatalf("Read started the network poller (%d epoll fds)", n)
		}
		if _, err := os.ReadFile("/proc/self/setgroups"); err != nil {
			t.Fatal(err)
		}
		if n := eventpolls(); n == 0 {
			t.Fatal("os.ReadFile did not start the poller either: the check sees nothing")
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestReadStartsNoPoller$")
	cmd.Env = append(os.Environ(), "PROCFILE_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// eventpolls counts this process's epoll descriptors, looking with
// readlink only (opening /proc/self/fd would start the poller).
func eventpolls() int {
	n := 0
	buf := make([]byte, 64)
	for fd := 0; fd < 256; fd++ {
		k, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf)
		if err == nil && strings.Contains(string(buf[:k]), "eventpoll") {
			n++
		}
	}
	return n
}
