// Package testutil holds helpers shared by cove's tests. It is imported only
// from _test.go files.
package testutil

import (
	"io"
	"os"
	"path/filepath"
	"strings"
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
