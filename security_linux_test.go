package cove_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/testutil"
	"github.com/covebox/cove/spec"
)

// helperEnv makes this test binary act as a small program inside a sandbox
// (see TestMain).
const helperEnv = "COVE_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "bind80":
		l, err := net.Listen("tcp", "127.0.0.1:80")
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		l.Close()
		fmt.Println("bound")
		os.Exit(0)
	case "peekinit":
		peekInit()
		os.Exit(0)
	case "nonetns":
		noNetNS()
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
	os.Exit(2)
}

// peekInit tries every way to read or write the memory of the sandbox init
// (PID 1) and prints one line per way: "NAME denied" or "NAME ALLOWED".
func peekInit() {
	probe := func(name string, err error) {
		if err != nil {
			fmt.Println(name, "denied")
		} else {
			fmt.Println(name, "ALLOWED")
		}
	}
	_, err := os.ReadFile("/proc/1/environ")
	probe("environ", err)
	_, err = os.ReadFile("/proc/1/maps")
	probe("maps", err)
	f, err := os.OpenFile("/proc/1/mem", os.O_RDWR, 0)
	if err == nil {
		f.Close()
	}
	probe("mem", err)
	runtime.LockOSThread()
	err = unix.PtraceAttach(1)
	if err == nil {
		// Let the init go on, or the sandbox would hang.
		var ws unix.WaitStatus
		unix.Wait4(1, &ws, unix.WALL, nil)
		unix.PtraceDetach(1)
	}
	probe("ptrace", err)
	var b [8]byte
	_, err = unix.ProcessVMReadv(1, []unix.Iovec{{Base: &b[0], Len: 8}}, []unix.RemoteIovec{{Base: 0x400000, Len: 8}}, 0)
	probe("process_vm_readv", err)
	_, err = unix.ProcessVMWritev(1, []unix.Iovec{{Base: &b[0], Len: 8}}, []unix.RemoteIovec{{Base: 0x400000, Len: 8}}, 0)
	probe("process_vm_writev", err)
	// The control: the program's own memory is its own.
	_, err = os.ReadFile("/proc/self/environ")
	probe("own-environ", err)
}

// selfInSandbox returns a Spec (from base) that can run this test binary
// as a helper, and the command to do it.
func selfInSandbox(t *testing.T, base *spec.Spec, helper string) (*spec.Spec, string) {
	t.Helper()
	// A copy in a world-readable directory: a root caller's sandbox runs as
	// uid 65534, which cannot enter the go tool's private build directory.
	exe := testutil.ExecutableCopy(t, "", "cove.test")
	dir := filepath.Dir(exe)
	base.Filesystem = append(base.Filesystem, spec.Mount{Type: spec.ROBind, Src: dir, Dst: dir})
	base.Env.Set = append(base.Env.Set, spec.EnvVar{Name: helperEnv, Value: helper})
	return base, exe
}

func TestSecurityCapAddBindsPort80AndNothingElse(t *testing.T) {
	requireSandbox(t)
	cases := []struct {
		name   string
		add    []string
		want   string
		capEff string
	}{
		{"without the capability the bind is refused", nil, "permission denied", "0000000000000000"},
		{"CAP_NET_BIND_SERVICE allows it", []string{"CAP_NET_BIND_SERVICE"}, "bound", "0000000000000400"},
		{"the short lower-case name works too", []string{"net_bind_service"}, "bound", "0000000000000400"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, exe := selfInSandbox(t, spec.Default(), "bind80")
			s.Security.CapAdd = c.add
			out, err := cove.Command(s, exe).Output()
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("bind: %q (%v), want %q", out, err, c.want)
			}
			s2 := spec.Default()
			s2.Security.CapAdd = c.add
			st, err := cove.Command(s2, "grep", "-E", "^Cap(Eff|Prm|Bnd|Inh|Amb)", "/proc/self/status").Output()
			if err != nil {
				t.Fatal(err)
			}
			// The program runs as a non-zero uid inside, so kept capabilities
			// are ambient (and therefore inheritable) too.
			want := fmt.Sprintf("CapInh:\t%[1]s\nCapPrm:\t%[1]s\nCapEff:\t%[1]s\nCapBnd:\t%[1]s\nCapAmb:\t%[1]s\n", c.capEff)
			if string(st) != want {
				t.Fatalf("capabilities:\n%s\nwant\n%s", st, want)
			}
		})
	}
	s := spec.Default()
	s.Security.CapAdd = []string{"CAP_NO_SUCH"}
	var se *cove.SetupError
	if err := cove.Command(s, "true").Run(); !errors.As(err, &se) || se.Code != 125 || !strings.Contains(err.Error(), "CAP_NO_SUCH") {
		t.Fatalf("unknown capability: got %v", err)
	}
}

// TestSecurityInitMemoryOutOfReach: the sandbox init (in the launcher) may
// run in the caller's own address space, so reaching its memory would be
// reaching the caller's. Nothing in the sandbox may, not even its root
// holding every capability of the sandbox's user namespace without a seccomp
// filter. Both ways the init is started are tried: sharing the caller's
// memory, and a forked copy (an init that writes its OOM score is one). The
// caller's dumpable flag, which guards that memory while the init runs, is
// back to what it was once the sandboxes are gone.
func TestSecurityInitMemoryOutOfReach(t *testing.T) {
	requireSandbox(t)
	before, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	var adj int
	fmt.Sscan(string(cur), &adj)
	for _, forked := range []bool{false, true} {
		s, exe := selfInSandbox(t, spec.Default(), "peekinit")
		s.IDs.MapRoot = true
		s.Security.CapAdd = []string{"ALL"}
		s.Security.Seccomp.Policy = "none"
		if forked {
			s.OOMScoreAdj = &adj
		}
		cmd := cove.Command(s, exe)
		cmd.SharedInit = true // also for the unprivileged run
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("forked=%v: %v", forked, err)
		}
		want := "environ denied\nmaps denied\nmem denied\nptrace denied\nprocess_vm_readv denied\nprocess_vm_writev denied\nown-environ ALLOWED\n"
		if string(out) != want {
			t.Errorf("forked=%v: got\n%swant\n%s", forked, out, want)
		}
	}
	if after, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); after != before {
		t.Fatalf("dumpable: %d before the sandboxes, %d after", before, after)
	}
}

// TestSandboxInitSharesMemory checks that the sandbox init runs in the
// caller's address space where that is implemented (amd64) and asked for
// (SharedInit, implied for root), and that one that writes its own OOM score
// does not (the score would apply to the caller).
func TestSandboxInitSharesMemory(t *testing.T) {
	requireSandbox(t)
	if runtime.GOARCH != "amd64" {
		t.Skipf("the init shares the caller's memory only on amd64, not %s", runtime.GOARCH)
	}
	sameVM := func(pid int) (bool, error) {
		const kcmpVM = 1
		r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(os.Getpid()), uintptr(pid), kcmpVM, 0, 0, 0)
		if errno != 0 {
			return false, errno
		}
		return r == 0, nil
	}
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	var adj int
	fmt.Sscan(string(cur), &adj)
	for _, c := range []struct {
		name   string
		oom    *int
		shared bool
	}{{"default", nil, true}, {"with an OOM score", &adj, false}} {
		s := spec.Default()
		s.OOMScoreAdj = c.oom
		cmd := cove.Command(s, "sleep", "10")
		cmd.SharedInit = true
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		got, err := sameVM(cmd.InitPid())
		cmd.Kill()
		cmd.Wait()
		if err != nil {
			// An unprivileged caller may not compare with a non-dumpable
			// init; the root run checks.
			t.Skipf("kcmp: %v", err)
		}
		if got != c.shared {
			t.Errorf("%s: init shares the caller's memory: %v, want %v", c.name, got, c.shared)
		}
	}
}

func TestSecurityRlimitsAreEnforced(t *testing.T) {
	requireSandbox(t)
	s := spec.Default()
	s.Rlimits = append(s.Rlimits, spec.Rlimit{Name: "nofile", Soft: 16, Hard: 16}, spec.Rlimit{Name: "fsize", Soft: 4096, Hard: 4096})
	out, err := cove.Command(s, "sh", "-c", "ulimit -n; ulimit -c; head -c 8192 /dev/zero > /tmp/big; echo status=$?; wc -c < /tmp/big").Output()
	if err != nil {
		t.Fatal(err)
	}
	// fsize: the write past 4096 bytes fails (SIGXFSZ kills head: 128+25).
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "16 0 status=153 4096" {
		t.Fatalf("got %q, want nofile 16, core 0, head killed by SIGXFSZ after 4096 bytes", out)
	}
	s = spec.Default()
	s.Rlimits = append(s.Rlimits, spec.Rlimit{Name: "nofile", Soft: 1 << 40, Hard: 1 << 40})
	var se *cove.SetupError
	if err := cove.Command(s, "true").Run(); !errors.As(err, &se) || se.Field != "rlimits" {
		t.Fatalf("raising nofile's hard limit: got %v, want a SetupError on rlimits", err)
	}
}

func TestSecurityLandlockAllowDenyPairs(t *testing.T) {
	requireSandbox(t)
	s := spec.Default()
	s.Security.Landlock = spec.Landlock{
		Exec:        []string{"/usr", "/bin", "/lib", "/lib64"},
		RO:          []string{"/etc"},
		RW:          []string{"/tmp", "/dev/null"},
		SkipMissing: true,
	}
	script := `cat /etc/hostname >/dev/null && echo etc-read; echo x > /tmp/f && echo tmp-write; echo x > /etc/f 2>/dev/null || echo etc-write-denied; ls ~ >/dev/null 2>&1 || echo home-denied`
	out, err := cove.Command(s, "sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "etc-read\ntmp-write\netc-write-denied\nhome-denied\n"; string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	s.Security.Landlock.RO = append(s.Security.Landlock.RO, "/no/such/path")
	s.Security.Landlock.SkipMissing = false
	var se *cove.SetupError
	if err := cove.Command(s, "true").Run(); !errors.As(err, &se) || !strings.Contains(err.Error(), "/no/such/path") {
		t.Fatalf("missing Landlock path: got %v", err)
	}
}

func TestSecurityNoNamespacesConfinesFiles(t *testing.T) {
	// Landlock is required for this mode; probe it through a run.
	// Outside every path the profile allows (/tmp is allowed).
	secret, err := os.MkdirTemp("/var/tmp", "cove-nons-")
	if err != nil {
		t.Skipf("no /var/tmp to hold a file outside the allowed paths: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(secret) })
	os.Chmod(secret, 0o755)
	if err := os.WriteFile(filepath.Join(secret, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := spec.NoNamespaces()
	cmd := cove.Command(s, "sh", "-c", fmt.Sprintf(`cat /etc/hostname >/dev/null && echo etc-read; cat %s/secret 2>/dev/null || echo secret-denied; echo $$ >/dev/null; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; touch /tmp/cove-nons-$$ && rm /tmp/cove-nons-$$ && echo tmp-write`, secret))
	out, err := cmd.Output()
	var se *cove.SetupError
	if errors.As(err, &se) && se.Step == "landlock" && strings.Contains(err.Error(), "not supported") {
		t.Skipf("Landlock unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := "etc-read\nsecret-denied\nNoNewPrivs:\t1\nSeccomp:\t2\ntmp-write\n"
	if string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	if cmd.Pid <= 1 {
		t.Fatalf("pid %d: without a PID namespace the program has a host pid", cmd.Pid)
	}
}

func TestSecurityNiceAndOOMScore(t *testing.T) {
	requireSandbox(t)
	s := spec.Default()
	n, adj := 7, 321
	s.Nice, s.OOMScoreAdj = &n, &adj
	out, err := cove.Command(s, "sh", "-c", "nice; cat /proc/self/oom_score_adj").Output()
	if err != nil || string(out) != "7\n321\n" {
		t.Fatalf("got %q %v, want nice 7 and oom_score_adj 321", out, err)
	}
	// Without namespaces the program is started by launch.Start, whose
	// child shares this process's memory where it can: a write of its OOM
	// score would change ours too, so that one must not.
	ours, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	plain := spec.NoNamespaces()
	plain.Security.Landlock = spec.Landlock{}
	plain.OOMScoreAdj = &adj
	out, err = cove.Command(plain, "sh", "-c", "cat /proc/self/oom_score_adj").Output()
	if err != nil || string(out) != "321\n" {
		t.Fatalf("without namespaces: got %q %v, want oom_score_adj 321", out, err)
	}
	if now, _ := os.ReadFile("/proc/self/oom_score_adj"); string(now) != string(ours) {
		t.Fatalf("the program's OOM score became ours: %q, was %q", now, ours)
	}
	low := -100
	s.OOMScoreAdj = &low
	var se *cove.SetupError
	if err := cove.Command(s, "true").Run(); !errors.As(err, &se) || se.Field != "oom_score_adj" {
		t.Fatalf("lowering the OOM score: got %v", err)
	}
}

var _ = syscall.SIGKILL
