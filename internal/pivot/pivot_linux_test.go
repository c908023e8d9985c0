package pivot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/testutil"
)

// The tests that pivot run in a child of the test binary that is PID 1 of
// new mount and PID namespaces (and a user namespace, except in the plain
// root variant), so the host's root is never touched. The child runs one
// scenario, prints "ok CHECK" or "FAIL CHECK: why" lines, and exits.
const (
	scenarioEnv = "COVE_PIVOT_TEST_SCENARIO" // the scenario to run
	dirEnv      = "COVE_PIVOT_TEST_DIR"      // an empty directory to mount the new root on
	otherEnv    = "COVE_PIVOT_TEST_OTHER"    // another one, outside it
	markerEnv   = "COVE_PIVOT_TEST_MARKER"   // a host file the scenario must (not) see
	hostNSEnv   = "COVE_PIVOT_TEST_HOSTNS"   // the test's mount namespace, which must not be pivoted
	spawnEnv    = "COVE_PIVOT_TEST_SPAWN"    // create the namespaces from this (unprivileged) process first
	sleepEnv    = "COVE_PIVOT_TEST_SLEEP"    // block until stdin closes
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(sleepEnv) != "":
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case os.Getenv(spawnEnv) != "":
		os.Exit(spawn())
	case os.Getenv(scenarioEnv) != "":
		os.Exit(runScenario(os.Getenv(scenarioEnv)))
	}
	os.Exit(m.Run())
}

// spawn re-executes the test binary in new user, mount and PID namespaces
// created by this process's own (unprivileged) credentials, mapping it to
// root there, and returns the child's exit status.
func spawn() int {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, spawnEnv+"=") })
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Printf("FAIL spawn: %v\n", err)
		return 1
	}
	return 0
}

// checker collects a scenario's results.
type checker struct{ failed bool }

func (c *checker) check(name string, ok bool, format string, args ...any) {
	if ok {
		fmt.Printf("ok %s\n", name)
		return
	}
	c.failed = true
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

// must reports a failed setup step and ends the scenario.
func must(step string, err error) {
	if err != nil {
		fmt.Printf("FAIL setup %s: %v\n", step, err)
		os.Exit(1)
	}
}

func runScenario(name string) int {
	self, _ := os.Readlink("/proc/self/ns/mnt")
	if self == os.Getenv(hostNSEnv) && name != "noprivilege" {
		fmt.Println("FAIL setup: still in the test's mount namespace; refusing to pivot it")
		return 1
	}
	c := &checker{}
	dir := os.Getenv(dirEnv)
	if name != "noprivilege" {
		// A mount namespace copied by root keeps the host's shared
		// propagation; pivot_root refuses that, as it should.
		must("make / private", unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	}
	switch name {
	case "detach":
		scenarioDetach(c, dir)
	case "root":
		scenarioRoot(c, dir)
	case "errors":
		scenarioErrors(c, dir)
	case "noprivilege":
		err := Detach(dir)
		c.check("EPERM", errors.Is(err, unix.EPERM) && errors.Is(err, ErrNoPrivilege), "Detach(%s) = %v", dir, err)
		c.check("hint names the fix", err != nil && strings.Contains(err.Error(), "unshare -Urm"), "%v", err)
		err = Root(dir, dir)
		c.check("EPERM two-arg", errors.Is(err, ErrNoPrivilege), "Root = %v", err)
	default:
		fmt.Printf("FAIL unknown scenario %q\n", name)
		return 1
	}
	if c.failed {
		return 1
	}
	return 0
}

// newRoot mounts a tmpfs on dir holding a marker file and a /proc of this
// PID namespace.
func newRoot(dir string) {
	must("mount tmpfs", unix.Mount("cove-new-root", dir, "tmpfs", 0, "mode=0755"))
	must("marker", os.WriteFile(filepath.Join(dir, "marker-new"), []byte("new\n"), 0o644))
	must("mkdir proc", os.Mkdir(filepath.Join(dir, "proc"), 0o755))
	must("mount proc", unix.Mount("proc", filepath.Join(dir, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""))
}

// mountPoints lists the mount points and file system types of this
// process's mount table.
func mountPoints() (points, types []string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{"(" + err.Error() + ")"}, nil
	}
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		pre, post, _ := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) > 4 && len(g) > 0 {
			points, types = append(points, f[4]), append(types, g[0])
		}
	}
	return points, types
}

func scenarioDetach(c *checker, dir string) {
	newRoot(dir)
	// A process started before the pivot, with the old root as its root
	// and working directory.
	sleeper := exec.Command("/proc/self/exe")
	sleeper.Env = []string{sleepEnv + "=1"}
	sleeper.Dir = "/"
	in, err := sleeper.StdinPipe()
	must("sleeper pipe", err)
	must("start sleeper", sleeper.Start())
	defer func() { in.Close(); sleeper.Wait() }()

	err = Detach(dir)
	c.check("Detach", err == nil, "Detach(%s): %v", dir, err)
	if err != nil {
		return
	}
	wd, err := os.Getwd()
	c.check("cwd is the new root", err == nil && wd == "/", "getwd = %q, %v", wd, err)
	b, err := os.ReadFile("/marker-new")
	c.check("new root is /", string(b) == "new\n", "read /marker-new: %q, %v", b, err)
	_, err = os.Stat(os.Getenv(markerEnv))
	c.check("host file unreachable", errors.Is(err, os.ErrNotExist), "stat %s: %v", os.Getenv(markerEnv), err)
	ents, _ := os.ReadDir("/")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	c.check("only the new tree at /", slices.Equal(names, []string{"marker-new", "proc"}), "ls / = %q", names)
	points, types := mountPoints()
	c.check("no old-root mounts left", len(points) == 2 && points[0] == "/" && types[0] == "tmpfs" && points[1] == "/proc",
		"mount points %q (types %q)", points, types)
	pid := sleeper.Process.Pid
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/root/marker-new", pid))
	c.check("other process's root moved", string(b) == "new\n", "read /proc/%d/root/marker-new: %q, %v", pid, b, err)
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/cwd/marker-new", pid))
	c.check("other process's cwd moved", string(b) == "new\n", "read /proc/%d/cwd/marker-new: %q, %v", pid, b, err)
}

func scenarioRoot(c *checker, dir string) {
	newRoot(dir)
	must("mkdir old", os.Mkdir(filepath.Join(dir, "old"), 0o755))
	err := Root(dir, filepath.Join(dir, "old"))
	c.check("Root", err == nil, "Root: %v", err)
	if err != nil {
		return
	}
	b, err := os.ReadFile("/marker-new")
	c.check("new root is /", string(b) == "new\n", "read /marker-new: %q, %v", b, err)
	marker := filepath.Join("/old", os.Getenv(markerEnv))
	_, err = os.Stat(marker)
	c.check("old root at /old", err == nil, "stat %s: %v", marker, err)
	points, _ := mountPoints()
	c.check("mountinfo shows /old", slices.Contains(points, "/old") && slices.Contains(points, "/"), "mount points %q", points)
	wd, err := os.Getwd()
	c.check("cwd moved with the root", err == nil && wd == "/", "getwd = %q, %v", wd, err)
}

func scenarioErrors(c *checker, dir string) {
	must("mount tmpfs", unix.Mount("cove-new-root", dir, "tmpfs", 0, "mode=0755"))
	sub := filepath.Join(dir, "sub")
	other := os.Getenv(otherEnv)
	file := filepath.Join(dir, "file")
	must("mkdir", os.Mkdir(sub, 0o755))
	must("file", os.WriteFile(file, nil, 0o644))
	must("mount other", unix.Mount("cove-other", other, "tmpfs", 0, ""))
	// A directory on the root mount that is not a mount point, for the
	// EBUSY case.
	var onRoot string
	rootID, _, err := mountOf("/")
	must("statx /", err)
	for _, d := range []string{"/etc", "/usr", "/var", "/bin", "/sbin", "/lib"} {
		if id, isRoot, err := mountOf(d); err == nil && id == rootID && !isRoot {
			onRoot = d
			break
		}
	}

	type tc struct {
		name   string
		call   func() error
		errno  []error // any of these
		reason error
		hint   string
	}
	busy := []error{unix.EBUSY, unix.EINVAL}
	cases := []tc{
		{"NEW on a tmpfs but not its root", func() error { return Detach(sub) }, []error{unix.EINVAL}, ErrNotMountPoint, "mount --bind " + sub + " " + sub},
		{"NEW on a tmpfs but not its root, two-arg", func() error { return Root(sub, sub) }, []error{unix.EINVAL}, ErrNotMountPoint, "is not a mount point"},
		// EBUSY, or EINVAL when the root mount is locked (inherited by
		// a new user namespace), which the kernel checks first.
		{"NEW is the root", func() error { return Detach("/") }, busy, ErrIsRoot, "already the root"},
		{"OLD not under NEW", func() error { return Root(dir, other) }, []error{unix.EINVAL}, ErrOldNotUnder, other + " is not at or under " + dir},
		{"NEW missing", func() error { return Root(filepath.Join(dir, "missing"), dir) }, []error{unix.ENOENT}, nil, "missing does not exist"},
		{"OLD missing", func() error { return Root(dir, filepath.Join(dir, "missing")) }, []error{unix.ENOENT}, nil, "missing does not exist"},
		{"NEW a file", func() error { return Root(file, file) }, []error{unix.ENOTDIR}, nil, file + " is not a directory"},
		{"NEW missing, one-arg", func() error { return Detach(filepath.Join(dir, "missing")) }, []error{unix.ENOENT}, nil, ""},
		{"NEW empty", func() error { return Detach("") }, []error{unix.ENOENT}, nil, ""},
	}
	if onRoot != "" {
		cases = append(cases, tc{"NEW a directory on the root mount", func() error { return Detach(onRoot) }, busy, ErrNotMountPoint, "mount --bind " + onRoot})
	}
	for _, tc := range cases {
		wd, _ := os.Getwd()
		err := tc.call()
		var pe *Error
		c.check(tc.name, errors.As(err, &pe) && slices.ContainsFunc(tc.errno, func(e error) bool { return errors.Is(err, e) }) && (tc.reason == nil || errors.Is(err, tc.reason)) && strings.Contains(err.Error(), tc.hint),
			"got %v; want errno in %v, reason %v, hint containing %q", err, tc.errno, tc.reason, tc.hint)
		after, _ := os.Getwd()
		c.check(tc.name+": cwd kept", after == wd, "cwd %q, was %q", after, wd)
	}

	// Shared propagation on NEW's own mount, which is also the put-old
	// mount of the one-argument form.
	must("make shared", unix.Mount("", dir, "", unix.MS_SHARED, ""))
	err = Detach(dir)
	c.check("shared NEW", errors.Is(err, unix.EINVAL) && errors.Is(err, ErrShared) && strings.Contains(err.Error(), "mount --make-rprivate /"), "Detach on a shared mount: %v", err)
	must("make private", unix.Mount("", dir, "", unix.MS_PRIVATE, ""))
}

// variant is one way of getting the privilege pivot_root needs.
type variant struct {
	name string
	// userns: the test (root) creates a user namespace too; spawn: an
	// unprivileged uid creates all the namespaces itself.
	userns, spawn bool
}

var variants = []variant{
	{name: "root in a new mount namespace"},
	{name: "root in new user and mount namespaces", userns: true},
	{name: "uid 65534 in its own user and mount namespaces", spawn: true},
}

// inNamespaces runs scenario in a child as variant v and fails the test
// unless every check passed.
func inNamespaces(t *testing.T, v variant, scenario string, cloneflags uintptr) {
	t.Helper()
	if os.Geteuid() != 0 && !v.spawn {
		t.Skip("needs root")
	}
	bin := "/proc/self/exe"
	dir := testutil.WorldDir(t)
	marker := filepath.Join(dir, "host-marker")
	if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt, other := filepath.Join(dir, "mnt"), filepath.Join(dir, "other")
	for _, d := range []string{mnt, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	env := []string{scenarioEnv + "=" + scenario, dirEnv + "=" + mnt, otherEnv + "=" + other,
		markerEnv + "=" + marker, hostNSEnv + "=" + hostNS}
	attr := &syscall.SysProcAttr{Cloneflags: cloneflags}
	switch {
	case v.spawn && os.Geteuid() == 0:
		bin = testutil.ExecutableCopy(t, "", "pivot.test")
		env = append(env, spawnEnv+"=1")
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	case v.spawn:
		env = append(env, spawnEnv+"=1")
		attr = &syscall.SysProcAttr{}
	case v.userns:
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = attr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if v.spawn && strings.Contains(out.String(), "FAIL spawn:") {
		t.Skipf("an unprivileged user cannot create user namespaces here: %s", strings.TrimSpace(out.String()))
	}
	if err != nil || strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "ok ") {
		t.Fatalf("scenario %s: %v\n%s", scenario, err, out.String())
	}
	t.Logf("%s", out.String())
	// Nothing of the scenario may show on the host.
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(b), dir) {
		t.Errorf("a mount under %s leaked to the test's mount namespace", dir)
	}
}

func TestDetach(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			inNamespaces(t, v, "detach", syscall.CLONE_NEWNS|syscall.CLONE_NEWPID)
		})
	}
}

func TestRoot(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			inNamespaces(t, v, "root", syscall.CLONE_NEWNS|syscall.CLONE_NEWPID)
		})
	}
}

func TestErrors(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			inNamespaces(t, v, "errors", syscall.CLONE_NEWNS|syscall.CLONE_NEWPID)
		})
	}
}

// TestNoPrivilege calls pivot_root where the caller has no CAP_SYS_ADMIN
// over its mount namespace: the test's own, from a user namespace (root) or
// as uid 65534. The target is a plain directory, so even a wrongly
// privileged call could not pivot anything.
func TestNoPrivilege(t *testing.T) {
	cases := []struct {
		name string
		v    variant
		flag uintptr
	}{
		{"root in a new user namespace only", variant{userns: true}, 0},
		{"uid 65534 without namespaces", variant{spawn: true}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v.spawn {
				// No namespaces: run the scenario directly as 65534.
				if os.Geteuid() == 0 {
					runNoPrivilegeAs65534(t)
					return
				}
				if err := Detach(t.TempDir()); !errors.Is(err, ErrNoPrivilege) {
					t.Fatalf("Detach as uid %d: %v, want ErrNoPrivilege", os.Geteuid(), err)
				}
				return
			}
			inNamespaces(t, tc.v, "noprivilege", tc.flag)
		})
	}
}

func runNoPrivilegeAs65534(t *testing.T) {
	bin := testutil.ExecutableCopy(t, "", "pivot.test")
	dir := testutil.WorldDir(t)
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	cmd := exec.Command(bin)
	cmd.Env = []string{scenarioEnv + "=noprivilege", dirEnv + "=" + dir, hostNSEnv + "=" + hostNS}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "FAIL") {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
}

func TestErrorText(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"with a hint", &Error{Op: "pivot_root", Path: "/new", Err: unix.EINVAL, Reason: ErrNotMountPoint, Hint: "do this"},
			"pivot_root /new: invalid argument: do this"},
		{"without a hint", &Error{Op: "chdir", Path: "/new", Err: unix.ENOENT}, "chdir /new: no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, tc.err.Err) || (tc.err.Reason != nil && !errors.Is(tc.err, tc.err.Reason)) {
				t.Errorf("errors.Is does not see the errno and the reason through %v", tc.err)
			}
		})
	}
}
