package seal_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/seal"
	"github.com/covebox/cove/internal/testutil"
)

// Environment variables that turn the test binary into a helper.
const (
	// runEnv: run os.Args[1:] with seal.Run, as cove seal does.
	runEnv = "COVE_SEAL_TEST_RUN"
	// noexecEnv (with runEnv): first write this value to vm.memfd_noexec
	// (the process is PID 1 of a new PID namespace) and report what a plain
	// memfd looks like under it.
	noexecEnv = "COVE_SEAL_TEST_NOEXEC"
	// innerEnv marks the test binary re-run as an unprivileged uid.
	innerEnv = "COVE_SEAL_TEST_INNER"
)

func TestMain(m *testing.M) {
	if os.Getenv(runEnv) == "" {
		os.Exit(m.Run())
	}
	if v := os.Getenv(noexecEnv); v != "" {
		if err := os.WriteFile("/proc/sys/vm/memfd_noexec", []byte(v), 0); err != nil {
			fmt.Fprintln(os.Stderr, "helper: set vm.memfd_noexec:", err)
			os.Exit(3)
		}
		fmt.Printf("plain memfd mode %o\n", plainMemfdMode())
	}
	err := seal.Run(os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "helper: %v\n", err)
	os.Exit(seal.ExitCode(err))
}

// plainMemfdMode is the permission bits of a memfd created without
// MFD_EXEC, as arachsys seal creates it.
func plainMemfdMode() uint32 {
	fd, err := unix.MemfdCreate("plain", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	return st.Mode & 0o7777
}

// writeFile creates dir/name with mode (exactly, whatever the umask).
func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSearchPath(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"no PATH means the default path", []string{"HOME=/x"}, seal.DefaultPath},
		{"an empty PATH is kept (the current directory)", []string{"PATH="}, ""},
		{"the last PATH wins, as getenv sees the environment", []string{"PATH=/a", "PATH=/b"}, "/b"},
		{"a variable that merely starts with PATH is not PATH", []string{"PATHX=/a"}, seal.DefaultPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := seal.SearchPath(tc.env); got != tc.want {
				t.Errorf("SearchPath(%q) = %q, want %q", tc.env, got, tc.want)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	writeFile(t, d1, "exe", "x", 0o755)
	writeFile(t, d1, "both", "x", 0o755)
	writeFile(t, d2, "both", "x", 0o755)
	writeFile(t, d1, "mixed", "x", 0o644)
	writeFile(t, d2, "mixed", "x", 0o755)
	writeFile(t, d1, "noexec", "x", 0o644)
	if err := os.Mkdir(filepath.Join(d1, "dirprog"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(d1, "fifoprog"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(d1, "fifoprog"), 0o755)
	if err := os.Symlink("exe", filepath.Join(d1, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing", filepath.Join(d1, "dangling")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(d1)

	cases := []struct {
		name, prog, path string
		want             string
		err              error // errno wrapped by the *Error
	}{
		{"a name with a slash is used as it is", d1 + "/exe", "/nonexistent", d1 + "/exe", nil},
		{"a relative name with a slash is not searched", "./exe", "/nonexistent", "./exe", nil},
		{"a name with a slash that is missing is not searched for", "sub/exe", d1, "", unix.ENOENT},
		{"a slash name that is not executable", d1 + "/noexec", "", "", unix.EACCES},
		{"a slash name that is a directory", d1 + "/dirprog", "", "", unix.EACCES},
		{"a slash name below a regular file", d1 + "/exe/x", "", "", unix.ENOTDIR},
		{"the first directory that has it wins", "both", d1 + ":" + d2, d1 + "/both", nil},
		{"a directory's trailing slash is not doubled", "exe", d1 + "/", d1 + "/exe", nil},
		{"a non-executable candidate is skipped for a later one", "mixed", d1 + ":" + d2, d2 + "/mixed", nil},
		{"only a non-executable candidate: EACCES", "noexec", "/nonexistent:" + d1, "", unix.EACCES},
		{"only a directory: EACCES, not found", "dirprog", d1, "", unix.EACCES},
		{"only a FIFO with x bits: EACCES, without opening it", "fifoprog", d1, "", unix.EACCES},
		{"missing everywhere: ENOENT", "cove-no-such-program", d1 + ":" + d2, "", unix.ENOENT},
		{"a symlink is found under its own name", "link", d1, d1 + "/link", nil},
		{"a dangling symlink is not found", "dangling", d1, "", unix.ENOENT},
		{"an empty element is the current directory", "exe", "/nonexistent::" + d2, "exe", nil},
		{"an empty path is the current directory", "exe", "", "exe", nil},
		{"a trailing colon is the current directory", "exe", "/nonexistent:", "exe", nil},
		{"the empty name is never found", "", d1, "", unix.ENOENT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := seal.LookPath(tc.prog, tc.path)
			if tc.err == nil {
				if err != nil || got != tc.want {
					t.Fatalf("LookPath(%q, %q) = %q, %v; want %q", tc.prog, tc.path, got, err, tc.want)
				}
				return
			}
			var se *seal.Error
			if !errors.As(err, &se) || se.Op != "find" || !errors.Is(err, tc.err) {
				t.Fatalf("LookPath(%q, %q) = %q, %v; want a find error wrapping %v", tc.prog, tc.path, got, err, tc.err)
			}
			want := 126
			if tc.err == unix.ENOENT {
				want = 127
			}
			if c := seal.ExitCode(err); c != want {
				t.Errorf("ExitCode(%v) = %d, want %d", err, c, want)
			}
		})
	}
}

// kernelHasSealExec reports whether F_SEAL_EXEC (Linux 6.3) is known.
func kernelHasSealExec(t *testing.T) bool {
	fd, err := unix.MemfdCreate("probe", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_EXEC)
	return err == nil
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	body := "\x7fELF not really, but any bytes will do\n"
	prog := writeFile(t, dir, "prog", body, 0o755)
	script := writeFile(t, dir, "script", "#!/bin/sh\nexit 0\n", 0o755)
	empty := writeFile(t, dir, "empty", "", 0o755)
	wantSeals := seal.Seals
	if kernelHasSealExec(t) {
		wantSeals |= unix.F_SEAL_EXEC
	}

	for _, tc := range []struct {
		name, path, body string
		cloexec          bool
	}{
		{"a program is copied, sealed and close-on-exec", prog, body, true},
		{"a script stays open across exec for its interpreter", script, "#!/bin/sh\nexit 0\n", false},
		{"an empty file is copied", empty, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := seal.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fd := int(f.Fd())
			link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
			if want := "/memfd:" + tc.path + " (deleted)"; err != nil || link != want {
				t.Errorf("fd link = %q, %v; want %q", link, err, want)
			}
			got := make([]byte, len(tc.body)+16)
			n, _ := unix.Pread(fd, got, 0)
			if string(got[:n]) != tc.body {
				t.Errorf("contents = %q, want %q", got[:n], tc.body)
			}
			// The kernel may add implied seals (F_SEAL_FUTURE_WRITE with
			// F_SEAL_EXEC on an executable memfd).
			seals, err := seal.SealsOf(f)
			if err != nil || seals&wantSeals != wantSeals {
				t.Errorf("seals = %#x, %v; want at least %#x", seals, err, wantSeals)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil || st.Mode&0o111 == 0 {
				t.Errorf("memfd mode %o (%v): want executable", st.Mode, err)
			}
			flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if got := flags&unix.FD_CLOEXEC != 0; got != tc.cloexec {
				t.Errorf("close-on-exec = %v, want %v", got, tc.cloexec)
			}
			// Every way of changing the copy must fail.
			if _, err := unix.Pwrite(fd, []byte("x"), 0); err != unix.EPERM {
				t.Errorf("pwrite: %v, want EPERM", err)
			}
			if _, err := unix.Write(fd, []byte("x")); err != unix.EPERM {
				t.Errorf("write: %v, want EPERM", err)
			}
			if err := unix.Ftruncate(fd, int64(len(tc.body))+1); err != unix.EPERM {
				t.Errorf("ftruncate to grow: %v, want EPERM", err)
			}
			if len(tc.body) > 0 {
				if err := unix.Ftruncate(fd, 0); err != unix.EPERM {
					t.Errorf("ftruncate to shrink: %v, want EPERM", err)
				}
			}
			if err := unix.Fallocate(fd, 0, 0, 1<<20); err != unix.EPERM {
				t.Errorf("fallocate: %v, want EPERM", err)
			}
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, 0); err != unix.EPERM {
				t.Errorf("F_ADD_SEALS after F_SEAL_SEAL: %v, want EPERM", err)
			}
			if _, err := unix.Mmap(fd, 0, 4096, unix.PROT_WRITE, unix.MAP_SHARED); err != unix.EPERM {
				t.Errorf("writable shared mmap: %v, want EPERM", err)
			}
			if wantSeals&unix.F_SEAL_EXEC != 0 {
				if err := unix.Fchmod(fd, 0o644); err != unix.EPERM {
					t.Errorf("fchmod: %v, want EPERM", err)
				}
			}
		})
	}

	t.Run("a long name is cut from the left to what memfd_create accepts", func(t *testing.T) {
		deep := dir
		for len(deep) < 300 {
			deep = filepath.Join(deep, strings.Repeat("d", 50))
		}
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		long := writeFile(t, deep, "long-prog", "x", 0o755)
		f, err := seal.Open(long)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		name := strings.TrimSuffix(strings.TrimPrefix(link, "/memfd:"), " (deleted)")
		if len(name) != 249 || !strings.HasPrefix(name, "...") || !strings.HasSuffix(long, name[3:]) {
			t.Errorf("memfd name %q (%d bytes): want the last 246 bytes of %q after \"...\"", name, len(name), long)
		}
	})

	errCases := []struct {
		name, path string
		err        error
	}{
		{"a directory is refused", dir, unix.EACCES},
		{"a device is refused", "/dev/null", unix.EACCES},
		{"a missing file", filepath.Join(dir, "missing"), unix.ENOENT},
	}
	if os.Geteuid() != 0 {
		unreadable := writeFile(t, dir, "unreadable", "x", 0o111)
		errCases = append(errCases, struct {
			name, path string
			err        error
		}{"an executable the caller cannot read", unreadable, unix.EACCES})
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o755); err != nil {
		t.Fatal(err)
	}
	errCases = append(errCases, struct {
		name, path string
		err        error
	}{"a FIFO is refused without blocking", fifo, unix.EACCES})
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := seal.Open(tc.path)
			if err == nil {
				f.Close()
				t.Fatalf("Open(%s) succeeded", tc.path)
			}
			var se *seal.Error
			if !errors.As(err, &se) || se.Op != "open" || !errors.Is(err, tc.err) {
				t.Fatalf("Open(%s) = %v; want an open error wrapping %v", tc.path, err, tc.err)
			}
			if c := seal.ExitCode(err); c != 126 {
				t.Errorf("ExitCode = %d, want 126", c)
			}
		})
	}
}

func TestCopyReadsFromStartWithoutMovingOffset(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("0123456789", 100_000) // 1 MB: several pages
	src, err := os.Open(writeFile(t, dir, "src", body, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Seek(5, 0); err != nil {
		t.Fatal(err)
	}
	f, err := seal.Copy(src, "any name")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(body)+1)
	n, _ := unix.Pread(int(f.Fd()), got, 0)
	if string(got[:n]) != body {
		t.Errorf("copy differs from the source (%d of %d bytes)", n, len(body))
	}
	if off, _ := src.Seek(0, 1); off != 5 {
		t.Errorf("source offset moved to %d", off)
	}
	if link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); link != "/memfd:any name (deleted)" {
		t.Errorf("fd link %q", link)
	}
}

// runHelper runs the test binary as the helper that calls seal.Run(args),
// through /bin/sh so that the shell commands in shell run first.
func runHelper(t *testing.T, bin, shell string, env []string, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", shell + `exec "$0" "$@"`, bin}, args...)...)
	cmd.Env = append([]string{runEnv + "=1"}, env...)
	cmd.Dir = dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run helper: %v", err)
	}
	return so.String(), se.String(), cmd.ProcessState.ExitCode()
}

func TestRun(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const path = "PATH=/usr/local/bin:/usr/bin:/bin"
	sh, err := seal.LookPath("sh", "/usr/local/bin:/usr/bin:/bin")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	dir := testutil.WorldDir(t)
	writeFile(t, dir, "script", "#!/bin/sh\necho \"script $0 $1\"\nexit 7\n", 0o755)
	writeFile(t, dir, "badinterp", "#!/nonexistent/interpreter\n", 0o755)
	writeFile(t, dir, "garbage", "this is not a program\n", 0o755)
	writeFile(t, dir, "noexec", "#!/bin/sh\n", 0o644)

	var hard unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &hard)

	cases := []struct {
		name   string
		shell  string // shell commands run before the helper
		env    []string
		args   []string
		code   int
		stdout string // exact, when set
		prefix string // of stdout, when set
		stderr string // substring, when set
	}{
		{name: "the program runs from a memfd named after its path, with argv[0] as given",
			env: []string{path}, args: []string{"sh", "-c", `readlink /proc/$$/exe; tr '\0' ' ' </proc/$$/cmdline`},
			stdout: "/memfd:" + sh + " (deleted)\nsh -c readlink /proc/$$/exe; tr '\\0' ' ' </proc/$$/cmdline "},
		{name: "the program's exit status is the process's", env: []string{path}, args: []string{"sh", "-c", "exit 42"}, code: 42},
		{name: "without PATH the default path is searched",
			args: []string{"sh", "-c", `readlink /proc/$$/exe`}, stdout: "/memfd:" + strings.SplitN(seal.DefaultPath, ":", 2)[0] + "/sh (deleted)\n"},
		{name: "the soft RLIMIT_NOFILE the Go runtime raised is given back",
			shell: "ulimit -Sn 200 && ", env: []string{path}, args: []string{"sh", "-c", "ulimit -Sn"}, stdout: "200\n"},
		{name: "a script runs with its memfd open as /dev/fd/N",
			env: []string{path}, args: []string{"./script", "arg"}, code: 7, prefix: "script /dev/fd/"},
		{name: "a script whose interpreter is missing cannot be executed",
			env: []string{path}, args: []string{"./badinterp"}, code: 126, stderr: "exec ./badinterp: no such file or directory"},
		{name: "a file that is no program cannot be executed",
			env: []string{path}, args: []string{"./garbage"}, code: 126, stderr: "exec ./garbage: exec format error"},
		{name: "a file without x bits cannot be executed",
			env: []string{path}, args: []string{"./noexec"}, code: 126, stderr: "find ./noexec: permission denied"},
		{name: "a program that is nowhere is not found",
			env: []string{path}, args: []string{"cove-no-such-program"}, code: 127, stderr: "find cove-no-such-program: no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.shell != "" && hard.Max != unix.RLIM_INFINITY && hard.Max <= 201 {
				t.Skipf("the hard RLIMIT_NOFILE (%d) leaves the Go runtime nothing to raise", hard.Max)
			}
			so, se, code := runHelper(t, bin, tc.shell, tc.env, dir, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, so, se)
			}
			if tc.stdout != "" && so != tc.stdout {
				t.Errorf("stdout %q, want %q", so, tc.stdout)
			}
			if !strings.HasPrefix(so, tc.prefix) {
				t.Errorf("stdout %q, want it to start with %q", so, tc.prefix)
			}
			if tc.stderr != "" && !strings.Contains(se, tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", se, tc.stderr)
			}
		})
	}
}

func TestExecRefusesNUL(t *testing.T) {
	f, err := seal.Open("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = seal.Exec(f, []string{"sh", "a\x00b"}, nil)
	var se *seal.Error
	if !errors.As(err, &se) || se.Op != "exec" || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Exec with a NUL byte = %v, want an exec error wrapping EINVAL", err)
	}
	if c := seal.ExitCode(err); c != 126 {
		t.Errorf("ExitCode = %d, want 126", c)
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil is success", nil, 0},
		{"not found", &seal.Error{Op: "find", Name: "x", Err: unix.ENOENT}, 127},
		{"found but not executable", &seal.Error{Op: "find", Name: "x", Err: unix.EACCES}, 126},
		{"a path through a file", &seal.Error{Op: "find", Name: "x", Err: unix.ENOTDIR}, 126},
		{"unreadable", &seal.Error{Op: "open", Name: "x", Err: unix.EACCES}, 126},
		{"exec format error", &seal.Error{Op: "exec", Name: "x", Err: unix.ENOEXEC}, 126},
		{"a missing interpreter is not 'not found'", &seal.Error{Op: "exec", Name: "x", Err: unix.ENOENT}, 126},
		{"memfds forbidden", &seal.Error{Op: "memfd_create", Name: "x", Err: errors.Join(seal.ErrNoExec, unix.EACCES)}, 125},
		{"out of memory while copying", &seal.Error{Op: "copy", Name: "x", Err: unix.ENOMEM}, 125},
		{"sealing refused", &seal.Error{Op: "seal", Name: "x", Err: unix.EBUSY}, 125},
		{"unsupported system", &seal.Error{Op: "find", Name: "x", Err: seal.ErrUnsupported}, 125},
		{"an error from elsewhere", fs.ErrClosed, 125},
		{"wrapped", fmt.Errorf("cove: %w", &seal.Error{Op: "find", Name: "x", Err: unix.ENOENT}), 127},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := seal.ExitCode(tc.err); got != tc.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

// TestMemfdNoexec runs the helper as PID 1 of a new PID namespace, where it
// sets vm.memfd_noexec (a per-PID-namespace sysctl since Linux 6.3) before
// running a sealed program.
func TestMemfdNoexec(t *testing.T) {
	host, err := os.ReadFile("/proc/sys/vm/memfd_noexec")
	if err != nil {
		t.Skipf("no vm.memfd_noexec (Linux < 6.3): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("setting vm.memfd_noexec needs root in the initial user namespace")
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := seal.LookPath("sh", "/usr/bin:/bin")
	cases := []struct {
		value  string
		code   int
		stdout string
		stderr string
	}{
		{"1", 0, "plain memfd mode 666\nran sealed\n", ""},
		{"2", 125, "", "memfd_create " + sh + ": executable memfds are forbidden in this PID namespace (vm.memfd_noexec=2)"},
	}
	for _, tc := range cases {
		t.Run("vm.memfd_noexec="+tc.value, func(t *testing.T) {
			// Run only ever executes the memfd: output means it was executable.
			cmd := exec.Command(bin, "sh", "-c", "echo ran sealed")
			cmd.Env = []string{runEnv + "=1", noexecEnv + "=" + tc.value, "PATH=/usr/bin:/bin"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, so.String(), se.String())
			}
			if tc.stdout != "" && so.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", so.String(), tc.stdout)
			}
			if tc.stderr != "" && !strings.Contains(se.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", se.String(), tc.stderr)
			}
		})
	}
	if after, _ := os.ReadFile("/proc/sys/vm/memfd_noexec"); !bytes.Equal(after, host) {
		t.Errorf("the host's vm.memfd_noexec changed from %q to %q", host, after)
	}
}

// TestAsUnprivileged runs this package's tests again as uid 65534, when
// running as root.
func TestAsUnprivileged(t *testing.T) {
	if os.Getenv(innerEnv) != "" {
		t.Skip("already the unprivileged run")
	}
	out := testutil.AsNobody(t, "seal.test", []string{innerEnv + "=1", "PATH=/usr/local/bin:/usr/bin:/bin"},
		"-test.run=^(TestLookPath|TestOpen|TestCopyReadsFromStartWithoutMovingOffset|TestRun|TestExecRefusesNUL)$", "-test.v")
	passed := strings.Count(out, "--- PASS")
	if passed < 10 {
		t.Fatalf("only %d tests passed as uid 65534:\n%s", passed, out)
	}
	t.Logf("%d tests and subtests passed as uid 65534", passed)
}
