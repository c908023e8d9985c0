package launch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/testutil"
)

// run starts p with fd 1 connected to a pipe and returns what the program
// wrote and its exit status.
func run(t *testing.T, p *Params) (string, unix.WaitStatus, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p.Files == nil {
		p.Files = []int{0, int(w.Fd()), 2}
	}
	if p.Umask == 0 {
		p.Umask = -1
	}
	if p.UID == 0 && p.GID == 0 && p.Clone == nil {
		p.UID, p.GID = -1, -1 // zero values: leave the ids alone
	}
	if p.LandlockFD == 0 && p.Clone == nil {
		p.LandlockFD = -1
	}
	pid, err := Start(p)
	w.Close()
	if err != nil {
		return "", 0, err
	}
	out, _ := io.ReadAll(r)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4: %v", err)
	}
	return string(out), ws, nil
}

func sh(script string) *Params {
	return &Params{Path: []string{"/bin/sh"}, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}
}

func TestExecAndExitStatus(t *testing.T) {
	out, ws, err := run(t, sh("echo hello; exit 42"))
	if err != nil {
		t.Fatal(err)
	}
	if out != "hello\n" || ws.ExitStatus() != 42 {
		t.Fatalf("got %q status %d, want hello and 42", out, ws.ExitStatus())
	}
}

func TestPathSearch(t *testing.T) {
	cases := []struct {
		name  string
		path  []string
		errno syscall.Errno
	}{
		{"first missing candidate is skipped", []string{"/nonexistent/sh", "/bin/sh"}, 0},
		{"all missing is ENOENT", []string{"/nonexistent/a", "/nonexistent/b"}, syscall.ENOENT},
		{"a directory is EACCES", []string{"/tmp"}, syscall.EACCES},
		{"EACCES is remembered over a later ENOENT", []string{"/tmp", "/nonexistent/x"}, syscall.EACCES},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := sh("exit 0")
			p.Path = c.path
			_, _, err := run(t, p)
			if c.errno == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var le *Error
			if !errors.As(err, &le) || le.Step != StepExec || le.Errno != c.errno {
				t.Fatalf("got %v, want execve error %v", err, c.errno)
			}
		})
	}
}

func TestFdTable(t *testing.T) {
	// Open a file at some fd, ask for it at fd 5 and for stdout at fd 1;
	// everything else, including an unrelated open fd, must be closed.
	f, err := os.Open("/etc/hostname")
	if err != nil {
		t.Skip("no /etc/hostname")
	}
	defer f.Close()
	stray, _ := os.Open("/dev/null")
	defer stray.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	p := sh("ls /proc/self/fd | sort -n | tr '\\n' ' '")
	p.Files = []int{-1, int(w.Fd()), -1, -1, -1, int(f.Fd())}
	p.Umask, p.UID, p.GID, p.LandlockFD = -1, -1, -1, -1
	pid, err := Start(p)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
	// ls itself opens one more fd (the directory it lists) at the lowest free
	// number, 0 here.
	got := strings.Join(strings.Fields(string(out)), " ")
	if got != "0 1 5" {
		t.Fatalf("fds inside: %s; want 1 and 5 (and 0, ls's directory)", got)
	}
}

func TestFdSwap(t *testing.T) {
	// Slots whose sources are each other's targets must not clobber.
	r1, w1, _ := os.Pipe()
	r2, w2, _ := os.Pipe()
	defer r1.Close()
	defer r2.Close()
	a, b := int(w1.Fd()), int(w2.Fd())
	p := sh("echo one >&3; echo two >&4")
	files := make([]int, 0, 10)
	files = append(files, 0, 1, 2)
	files = append(files, a, b)
	p.Files = files
	p.Umask, p.UID, p.GID, p.LandlockFD = -1, -1, -1, -1
	pid, err := Start(p)
	w1.Close()
	w2.Close()
	if err != nil {
		t.Fatal(err)
	}
	o1, _ := io.ReadAll(r1)
	o2, _ := io.ReadAll(r2)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
	if string(o1) != "one\n" || string(o2) != "two\n" {
		t.Fatalf("got %q and %q", o1, o2)
	}
}

func TestChdirUmaskRlimitNoNewPrivs(t *testing.T) {
	p := sh("pwd; umask; ulimit -n; grep NoNewPrivs /proc/self/status")
	p.Dir = "/usr"
	p.Umask = 0o27
	p.Rlimits = []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 77, Max: 77}}
	p.NoNewPrivs = true
	out, _, err := run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := "/usr\n0027\n77\nNoNewPrivs:\t1\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestChdirErrorNamesDirectory(t *testing.T) {
	p := sh("true")
	p.Dir = "/nonexistent-dir"
	_, _, err := run(t, p)
	var le *Error
	if !errors.As(err, &le) || le.Step != StepChdir || le.Errno != syscall.ENOENT {
		t.Fatalf("got %v, want chdir ENOENT", err)
	}
	if !strings.Contains(err.Error(), "/nonexistent-dir") {
		t.Fatalf("error %q does not name the directory", err)
	}
}

func TestCredentialsAndCaps(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change uid (probe: euid != 0)")
	}
	p := sh("id -u; id -g; id -G; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status")
	p.UID, p.GID = 65534, 65534
	p.SetGroups = true
	p.DropBounding = true
	p.LastCap = lastCap(t)
	p.SetCaps = true
	out, _, err := run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := "65534\n65534\n65534\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestKeepOneCapabilityAcrossSetuid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change uid (probe: euid != 0)")
	}
	const bind = unix.CAP_NET_BIND_SERVICE
	p := sh("grep -E '^Cap(Prm|Eff|Bnd|Amb)' /proc/self/status")
	p.UID, p.GID = 65534, 65534
	p.SetGroups = true
	p.DropBounding, p.KeepBounding, p.LastCap = true, 1<<bind, lastCap(t)
	p.SetCaps = true
	p.Permitted, p.Effective, p.Inherited = 1<<bind, 1<<bind, 1<<bind
	p.Ambient = []int{bind}
	out, _, err := run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := "CapPrm:\t0000000000000400\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000400\nCapAmb:\t0000000000000400\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func lastCap(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range strings.TrimSpace(string(b)) {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestWritesChrootAndDirFD(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs CAP_SYS_CHROOT (probe: euid != 0)")
	}
	root := t.TempDir()
	// A root holding a static-enough shell: bind is not available here, so
	// use the host's root via RootFD and test the order instead: Writes land
	// before the chroot, DirFD after it.
	out := root + "/written"
	dir, err := os.Open("/usr")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	slash, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer slash.Close()
	p := sh("pwd")
	p.Writes = []FileWrite{{Path: out, Data: "hello"}}
	p.UseRootFD, p.RootFD = true, int(slash.Fd())
	p.UseDirFD, p.DirFD = true, int(dir.Fd())
	got, _, err := run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if got != "/usr\n" {
		t.Fatalf("pwd %q, want /usr from DirFD", got)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "hello" {
		t.Fatalf("write step: %q %v", b, err)
	}
	p = sh("true")
	p.Chroot = root + "/nonexistent"
	_, _, err = run(t, p)
	var le *Error
	if !errors.As(err, &le) || le.Step != StepChroot || le.Errno != syscall.ENOENT {
		t.Fatalf("got %v, want chroot ENOENT", err)
	}
}

func TestSetEffective(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change uid (probe: euid != 0)")
	}
	// Not through sh: a shell resets its effective ids to the real ones.
	p := &Params{Path: []string{"/bin/grep"}, Argv: []string{"grep", "-E", "^(Uid|Gid):", "/proc/self/status"}}
	p.UID, p.GID = 65534, 65534
	p.SetEffective, p.EUID, p.EGID = true, 1234, 1234
	p.SetGroups = true
	got, _, err := run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := "Uid:\t65534\t1234\t1234\t1234\nGid:\t65534\t1234\t1234\t1234\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCloneNamespacesWithoutInit(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	outer := uid
	if uid == 0 {
		outer = 65534 // never map host root
	}
	// lo has an IPv6 address only once it is up.
	p := sh("id -u; cat /proc/self/uid_map | tr -s ' '; grep -c ' lo$' /proc/net/if_inet6")
	p.UID, p.GID = 0, 0 // become the mapped root inside
	p.Umask, p.LandlockFD = -1, -1
	p.Clone = &CloneNS{
		Flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWIPC,
		WriteMaps: func(pid int) error {
			return WriteIDMaps(pid, []syscall.SysProcIDMap{{ContainerID: 0, HostID: outer, Size: 1}},
				[]syscall.SysProcIDMap{{ContainerID: 0, HostID: map[bool]int{true: 65534, false: gid}[gid == 0], Size: 1}}, false)
		},
		Loopback: true,
	}
	out, ws, err := run(t, p)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		t.Skipf("user namespaces unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if ws.ExitStatus() != 0 || len(lines) != 3 || lines[0] != "0" || strings.TrimSpace(lines[1]) != fmt.Sprintf("0 %d 1", outer) || lines[2] != "1" {
		t.Fatalf("got %q status %d, want uid 0 mapped from %d", out, ws.ExitStatus(), outer)
	}
	if p.Clone.Flags&unix.CLONE_NEWPID != 0 {
		t.Fatal("unreachable")
	}
	bad := sh("true")
	bad.Clone = &CloneNS{Flags: unix.CLONE_NEWPID}
	if _, _, err := run(t, bad); err == nil || !strings.Contains(err.Error(), "PID namespace") {
		t.Fatalf("CLONE_NEWPID without an init: got %v", err)
	}
}

// TestStartSharesNoSignalState: a program started by Start (in a child that
// shares the caller's memory until execve where the architecture allows)
// has the caller's signal mask — not the everything-blocked mask the child
// steps run under — and ignores only what the caller ignores; and a
// thousand starts leave the caller with no more than the cached child
// stacks mapped.
func TestStartSharesNoSignalState(t *testing.T) {
	// The shell's own status, read with builtins (grep catches SIGSEGV).
	out, ws, err := run(t, sh(`while read -r k v; do case $k in SigBlk:|SigIgn:) echo "$k $v";; esac; done </proc/$$/status`))
	if err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("%v, status %d", err, ws.ExitStatus())
	}
	// What the program must see is what this process has: its ignored
	// signals (an inherited SIG_IGN stays, as across any fork and exec)
	// and its main thread's mask (not the child steps' all-blocked one).
	ours := map[string]string{}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "SigBlk" || k == "SigIgn") {
			ours[k] = strings.TrimSpace(v)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the SigBlk and SigIgn lines, got %q", out)
	}
	for _, line := range lines {
		k, v, _ := strings.Cut(line, ":")
		if strings.TrimSpace(v) != ours[k] {
			t.Errorf("%s is %s, want this process's %s", k, strings.TrimSpace(v), ours[k])
		}
	}
	maps := func() int {
		b, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
	before := maps()
	for i := 0; i < 1000; i++ {
		p := &Params{Path: []string{"/bin/true"}, Argv: []string{"true"}, Files: []int{0, 1, 2}, Umask: -1, UID: -1, GID: -1, LandlockFD: -1}
		pid, err := Start(p)
		if err != nil {
			t.Fatal(err)
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}
	// The child stacks are reused; the cache keeps a few (two mappings
	// each: guard page and stack).
	if after := maps(); after > before+2*vforkStackCache+2 {
		t.Fatalf("mappings grew from %d to %d over 1000 starts", before, after)
	}
}

// TestStartKeepsCallerDumpable: a program started under another uid (root
// callers; others keep their own uid here) leaves the caller's dumpable
// flag as it was, though the child that changed ids shared its memory.
func TestStartKeepsCallerDumpable(t *testing.T) {
	uid := os.Getuid()
	if uid == 0 {
		uid = 65534
	}
	before, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	out, ws, err := run(t, &Params{Path: []string{"/bin/sh"}, Argv: []string{"sh", "-c", "id -u"}, Env: []string{"PATH=/usr/bin:/bin"}, UID: uid, GID: os.Getgid(), SetGroups: os.Getuid() == 0})
	if err != nil || ws.ExitStatus() != 0 || strings.TrimSpace(out) != fmt.Sprint(uid) {
		t.Fatalf("%v, status %d, output %q", err, ws.ExitStatus(), out)
	}
	if after, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); after != before {
		t.Fatalf("dumpable went from %d to %d", before, after)
	}
}

// TestVforkFits: the cases where Start must fork rather than share its
// memory with the child.
func TestVforkFits(t *testing.T) {
	if !sharedInit {
		t.Skipf("no vfork-style child on %s: Start always forks", runtime.GOARCH)
	}
	plain := func() (*Params, *prepared) {
		p := &Params{UID: -1, GID: -1}
		return p, &prepared{uid: -1, gid: -1, euid: -1, egid: -1}
	}
	suid := func(v int) func() int { return func() int { return v } }
	cases := []struct {
		name  string
		edit  func(*Params, *prepared)
		suid  int
		vfork bool
	}{
		{"plain", func(*Params, *prepared) {}, 1, true},
		{"uid change, suid_dumpable 0", func(_ *Params, pr *prepared) { pr.uid, pr.euid = 1000, 1000 }, 0, true},
		{"uid change, suid_dumpable 2", func(_ *Params, pr *prepared) { pr.uid, pr.euid = 1000, 1000 }, 2, true},
		{"uid change, suid_dumpable 1", func(_ *Params, pr *prepared) { pr.uid, pr.euid = 1000, 1000 }, 1, false},
		{"gid change, suid_dumpable 1", func(_ *Params, pr *prepared) { pr.gid, pr.egid = 1000, 1000 }, 1, false},
		{"new namespaces", func(p *Params, _ *prepared) { p.Clone = &CloneNS{} }, 0, false},
		{"fork after setns", func(_ *Params, pr *prepared) { pr.forkAfter = true }, 0, false},
		{"non-dumpable", func(_ *Params, pr *prepared) { pr.nonDump = true }, 0, false},
	}
	for _, c := range cases {
		p, pr := plain()
		c.edit(p, pr)
		if got := vforkFits(p, pr, suid(c.suid)); got != c.vfork {
			t.Errorf("%s: vforkFits = %v, want %v", c.name, got, c.vfork)
		}
	}
}

// TestLaunchAsUnprivilegedUser re-runs this package's tests as uid 65534:
// the launcher (vfork-style and forked children, new namespaces) as a
// user without privileges. Tests that need root skip themselves there.
func TestLaunchAsUnprivilegedUser(t *testing.T) {
	if os.Getenv("COVE_LAUNCH_TEST_UNPRIVILEGED") != "" {
		t.Skip("already running unprivileged")
	}
	out := testutil.AsNobody(t, "launch.test", append(os.Environ(), "COVE_LAUNCH_TEST_UNPRIVILEGED=1", "HOME=/nonexistent"), "-test.count=1", "-test.v")
	for _, must := range []string{"--- PASS: TestExecAndExitStatus", "--- PASS: TestFdTable", "--- PASS: TestStartSharesNoSignalState", "--- PASS: TestStartKeepsCallerDumpable"} {
		if !strings.Contains(out, must) {
			t.Errorf("as uid 65534, %s did not run", strings.TrimPrefix(must, "--- PASS: "))
		}
	}
}
