// Package testutil holds helpers shared by cove's tests. It is imported only
// from _test.go files.
package testutil

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
