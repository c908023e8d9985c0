// Package testutil holds helpers shared by cove's tests. It is imported only
// from _test.go files.
package testutil

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// WorldDir returns a fresh temporary directory that an unprivileged uid can
// reach: the directories t.TempDir made below the system temporary
// directory are opened up to 0755, never that directory itself.
func WorldDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	tmp := filepath.Clean(os.TempDir())
	for d := dir; strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ExecutableCopy copies the running test binary to dir/name (0755), so that
// a test can re-execute it as an unprivileged uid. dir "" means a fresh
// WorldDir.
func ExecutableCopy(t testing.TB, dir, name string) string {
	t.Helper()
	if dir == "" {
		dir = WorldDir(t)
	}
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, name)
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// AsNobody runs the test binary again as uid and gid 65534 with no
// supplementary groups: a copy named name, with args, the environment env
// plus TMPDIR (a fresh world-writable directory), in /. It returns the
// run's combined output, logged, and fails the test if the run fails. It
// skips when this process is not root (then it is unprivileged already).
func AsNobody(t *testing.T, name string, env []string, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching to uid 65534 needs root (this run is unprivileged already)")
	}
	bin := ExecutableCopy(t, "", name)
	tmp := WorldDir(t)
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(env[:len(env):len(env)], "TMPDIR="+tmp)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	t.Logf("as uid 65534:\n%s", out)
	if err != nil {
		t.Fatalf("tests as uid 65534: %v", err)
	}
	return string(out)
}

// Proc is a process as its /proc/PID/stat shows it.
type Proc struct {
	Pid, PPid int
	Comm      string
	State     byte // R, S, D, Z, ...
}

// Procs lists the processes of this PID namespace's /proc; one that ends
// while it reads is left out.
func Procs() []Proc {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []Proc
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 2 || len(f[0]) != 1 {
			continue
		}
		pid, err1 := strconv.Atoi(strings.TrimSpace(s[:i]))
		ppid, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Proc{Pid: pid, PPid: ppid, Comm: s[i+1 : j], State: f[0][0]})
	}
	return out
}

// Zombies counts the unreaped children of ppid.
func Zombies(ppid int) int {
	n := 0
	for _, p := range Procs() {
		if p.PPid == ppid && p.State == 'Z' {
			n++
		}
	}
	return n
}
