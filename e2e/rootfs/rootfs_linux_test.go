package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMirrorParsing(t *testing.T) {
	tests := []struct {
		name    string
		oneLine string
		deb822  string
		want    string
	}{
		{
			name:    "one-line source with options, security skipped",
			oneLine: "deb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n",
			want:    "http://mirror.example/debian",
		},
		{
			name:   "deb822 stanza naming the suite wins over an earlier other suite",
			deb822: "Types: deb\nURIs: http://a.example/debian\nSuites: trixie\n\nTypes: deb deb-src\nURIs: http://b.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n",
			want:   "http://b.example/debian",
		},
		{
			name:   "disabled and deb-src-only stanzas are ignored",
			deb822: "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://on.example/debian\nSuites: bookworm\n",
			want:   "http://on.example/debian",
		},
		{
			name:    "comments and deb-src lines are ignored",
			oneLine: "# deb http://old.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb http://c.example/debian bookworm main # trailing\n",
			want:    "http://c.example/debian",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := append(parseOneLine(tt.oneLine), parseDeb822(tt.deb822)...)
			got, err := pickMirror(srcs)
			if err != nil || got != tt.want {
				t.Fatalf("pickMirror = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := pickMirror(nil); err == nil {
		t.Fatal("pickMirror(no sources) succeeded")
	}
}

// TestTrees builds (or finds) each tree, checks that the second call is
// served from the cache, and runs its /bin/sh inside a chroot.
func TestTrees(t *testing.T) {
	trees := []struct {
		name  string
		get   func(testing.TB) string
		check string // a file the tree must have
	}{
		{"busybox tree has busybox and passwd", Busybox, "etc/passwd"},
		{"Debian tree (or its busybox fallback) has a shell", Debian, "bin/sh"},
	}
	for _, tt := range trees {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.get(t)
			if _, err := os.Stat(filepath.Join(dir, tt.check)); err != nil {
				t.Fatalf("tree %s: %v", dir, err)
			}
			start := time.Now()
			if again := tt.get(t); again != dir {
				t.Fatalf("second call returned %s, first %s", again, dir)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("second call took %v; want it served from the cache", d)
			}
			if _, err := os.Stat(filepath.Join(dir, "etc/debian_version")); err == nil {
				t.Logf("%s is a Debian tree", dir)
			}
			out, err := chrootShell(t, dir, "echo ok; id -u")
			if err != nil {
				t.Fatalf("/bin/sh in a chroot of %s: %v: %s", dir, err, out)
			}
			if !strings.HasPrefix(out, "ok\n") {
				t.Fatalf("/bin/sh in a chroot of %s printed %q", dir, out)
			}
		})
	}
}

// chrootShell runs sh -c script chrooted into dir: directly as root, else in
// a user namespace where the caller is root.
func chrootShell(t *testing.T, dir, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil && os.Geteuid() != 0 {
		if _, probe := os.Stat("/proc/self/ns/user"); probe != nil {
			t.Skipf("chroot as uid %d needs a user namespace: %v", os.Geteuid(), probe)
		}
	}
	return string(out), err
}
