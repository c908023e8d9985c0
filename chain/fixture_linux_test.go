package chain

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test accounts, as in the reference notes: cltest (2001) is also in clgrp2 (2345);
// cltest2 is listed as a member of its own primary group too.
const (
	testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
cltest:x:2001:2001::/home/cltest:/bin/sh
cltest2:x:2002:2002::/home/cltest2:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`
	testGroup = `root:x:0:
daemon:x:1:
users:x:100:
cltest:x:2001:
cltest2:x:2002:cltest2
clgrp2:x:2345:cltest,cltest2
nogroup:x:65534:
`
	// systemPath is the PATH the real tools run with (reference §1.7: keep it clean).
	systemPath = "/usr/sbin:/usr/bin:/sbin:/bin"
)

// fixture is a directory, readable by every uid, holding the test binary linked under each
// personality's name, the passwd/group files, envdirs and a chroot.
type fixture struct {
	dir    string // working directory of every command
	bin    string // the personality links
	passwd string
	group  string
	static bool // the test binary is statically linked (usable inside the chroot)
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  error
)

// needRoot skips a test that changes ids or binds files unless it runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: changes user ids and bind-mounts test passwd/group files in a private mount namespace")
	}
}

// getFixture builds the fixture once per test binary.
func getFixture(t *testing.T) *fixture {
	t.Helper()
	needRoot(t)
	fixtureOnce.Do(func() { fixtureVal, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatalf("fixture: %v", fixtureErr)
	}
	return fixtureVal
}

func buildFixture() (*fixture, error) {
	dir, err := os.MkdirTemp("", "cove-chain-test-")
	if err != nil {
		return nil, err
	}
	fx := &fixture{dir: dir, bin: filepath.Join(dir, "bin"), passwd: filepath.Join(dir, "passwd"), group: filepath.Join(dir, "group")}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	exe := filepath.Join(fx.bin, "chain.test")
	steps := []func() error{
		func() error { return os.Chmod(dir, 0o755) },
		func() error { return os.Mkdir(fx.bin, 0o755) },
		func() error { return copyFile(self, exe, 0o755) },
		func() error { return os.WriteFile(fx.passwd, []byte(testPasswd), 0o644) },
		func() error { return os.WriteFile(fx.group, []byte(testGroup), 0o644) },
		// envd: the reference's envdir (§1.8)
		func() error { return os.Mkdir(filepath.Join(dir, "envd"), 0o755) },
		func() error { return writeFile(dir, "envd/FOO", "hello  \t\nsecond line\n") },
		func() error { return writeFile(dir, "envd/REMOVEME", "") },
		func() error { return writeFile(dir, "envd/NUL", "a\x00b") },
		func() error { return writeFile(dir, "envd/.hidden", "x") },
		func() error { return writeFile(dir, "envd/A=B", "v") },
		func() error { return writeFile(dir, "envd/EMPTYLINE", "\nrest") },
		func() error { return writeFile(dir, "envd/CR", "crlf\r\n") },
		func() error { return writeFile(dir, "envd/TRAIL", "x y \t") },
		// envd2: a subdirectory among the files
		func() error { return os.MkdirAll(filepath.Join(dir, "envd2/SUBDIR"), 0o755) },
		// envbig: a value longer than s6's 4095-byte clamp
		func() error { return os.Mkdir(filepath.Join(dir, "envbig"), 0o755) },
		func() error { return writeFile(dir, "envbig/BIG", strings.Repeat("x", 5000)+"\n") },
		func() error { return writeFile(dir, "envbig/MULTI", "l1\nl2 \n") },
		func() error { return writeFile(dir, "noexec.sh", "#!/bin/sh\necho hi\n") },
		func() error { return os.MkdirAll(filepath.Join(dir, "root/bin"), 0o755) },
		func() error { return os.MkdirAll(filepath.Join(dir, "locks"), 0o777) },
		func() error { return os.Chmod(filepath.Join(dir, "locks"), 0o777) },
	}
	for _, name := range append(Names(), "cove", helperNsrun) {
		name := name
		steps = append(steps, func() error { return os.Symlink("chain.test", filepath.Join(fx.bin, name)) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if f, err := elf.Open(self); err == nil {
		fx.static = true
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				fx.static = false
			}
		}
		f.Close()
	}
	if fx.static {
		if err := copyFile(self, filepath.Join(dir, "root/bin/hello"), 0o755); err != nil {
			return nil, err
		}
		if err := os.Symlink("hello", filepath.Join(dir, "root/bin/setuidgid-fromenv")); err != nil {
			return nil, err
		}
	}
	return fx, nil
}

func writeFile(dir, name, content string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// result is what a differential test compares.
type result struct {
	code           int
	stdout, stderr string
}

// runOpts adjusts one command run.
type runOpts struct {
	as    string   // "UID:GID" to run as an unprivileged caller
	env   []string // extra environment entries
	stdin string
}

// real resolves a real tool, skipping the test when it is not installed.
func realTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("real %s not installed (apt-get install daemontools runit s6): %v", name, err)
	}
	return p
}

// run runs argv (argv[0] an absolute path) in a private mount namespace with the test accounts,
// in fx.dir, with a clean environment whose PATH starts with pathPrefix.
func (fx *fixture) run(t *testing.T, pathPrefix string, argv []string, o runOpts) result {
	t.Helper()
	args := []string{}
	if o.as != "" {
		args = append(args, "--as", o.as)
	}
	args = append(args, fx.passwd, fx.group, "--")
	args = append(args, argv...)
	cmd := exec.Command(filepath.Join(fx.bin, helperNsrun), args...)
	cmd.Dir = fx.dir
	cmd.Env = append([]string{"PATH=" + pathPrefix + systemPath, "LC_ALL=C", "HOME=/"}, o.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %q: %v", argv, err)
	}
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	if strings.HasPrefix(r.stderr, "chaintest-nsrun:") {
		t.Fatalf("harness failed for %q: %s", argv, r.stderr)
	}
	return r
}

// runReal runs argv with argv[0] naming a real tool; runCove runs it with argv[0] naming cove's
// personality link. Inside the command, tool names resolve to the same family (real or cove).
func (fx *fixture) runReal(t *testing.T, argv []string, o runOpts) result {
	t.Helper()
	a := append([]string{realTool(t, argv[0])}, argv[1:]...)
	return fx.run(t, "", a, o)
}

func (fx *fixture) runCove(t *testing.T, argv []string, o runOpts) result {
	t.Helper()
	a := append([]string{filepath.Join(fx.bin, argv[0])}, argv[1:]...)
	return fx.run(t, fx.bin+":", a, o)
}

// normalize removes what legitimately differs between the two runs: the fixture's bin
// directory in PATH, and the order of `env` output lines.
func (fx *fixture) normalize(s string, sortLines bool) string {
	s = strings.ReplaceAll(s, fx.bin+":", "")
	if sortLines {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		sort.Strings(lines)
		s = strings.Join(lines, "\n") + "\n"
	}
	return s
}
