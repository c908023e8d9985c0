package launch

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nofileChild, set in the environment, makes the test binary report the
// soft RLIMIT_NOFILE of programs it launches instead of running tests.
const nofileChild = "COVE_LAUNCH_NOFILE_CHILD"

func init() {
	if os.Getenv(nofileChild) == "" {
		return
	}
	// A test binary started by TestProgramGetsStartNofile with a low soft
	// limit, which its Go runtime raised.
	var now unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
	out, err := softNofileOf(nil)
	out2, err2 := softNofileOf([]Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 300, Max: now.Max}})
	var after unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &after)
	if err != nil || err2 != nil {
		os.Stderr.WriteString("launch: " + errString(err) + errString(err2) + "\n")
		os.Exit(1)
	}
	// The program's limit, the explicit one, and whether this process kept
	// its raised limit.
	os.Stdout.WriteString(strings.TrimSpace(out) + " " + strings.TrimSpace(out2) + " " + boolString(after == now) + "\n")
	os.Exit(0)
}

// softNofileOf launches `sh -c 'ulimit -Sn'` with rlimits and returns what
// it printed.
func softNofileOf(rlimits []Rlimit) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	pid, err := Start(&Params{Path: []string{"/bin/sh"}, Argv: []string{"sh", "-c", "ulimit -Sn"},
		Files: []int{0, int(w.Fd()), 2}, Umask: -1, UID: -1, GID: -1, LandlockFD: -1, Rlimits: rlimits})
	w.Close()
	if err != nil {
		return "", err
	}
	out, _ := io.ReadAll(r)
	var ws unix.WaitStatus
	_, err = unix.Wait4(pid, &ws, 0, nil)
	return string(out), err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func boolString(b bool) string {
	if b {
		return "kept"
	}
	return "lost"
}

// TestProgramGetsStartNofile: the Go runtime raises its own soft open-file
// limit at start-up; programs the launcher starts get the limit the process
// was started with, as os/exec's children do, unless the Params set one.
func TestProgramGetsStartNofile(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 1024 {
		t.Skipf("hard RLIMIT_NOFILE is %d here; the test needs room below it", lim.Max)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `ulimit -Sn 256 && exec "$0"`, self)
	cmd.Env = append(os.Environ(), nofileChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "256 300 kept" {
		t.Fatalf("program's soft limit, explicit limit, parent's limit = %q; want \"256 300 kept\"", got)
	}
}
