package cove_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/testutil"
	"github.com/covebox/cove/spec"
)

// The library tests run twice in CI: as the invoking user (root there), and
// again as an unprivileged uid by TestLibraryAsUnprivilegedUser, which
// re-executes this test binary with unprivEnv set.
const unprivEnv = "COVE_TEST_UNPRIVILEGED"

// requireSandbox skips when this kernel cannot give us a user namespace; the
// probe is a real sandbox start.
func requireSandbox(t *testing.T) {
	t.Helper()
	err := cove.Command(spec.Default(), "true").Run()
	var se *cove.SetupError
	if errors.As(err, &se) && se.Step == "namespaces" {
		t.Skipf("user namespaces unavailable to uid %d: %v", os.Getuid(), err)
	}
}

func TestRunExitStatus(t *testing.T) {
	requireSandbox(t)
	cases := []struct {
		name   string
		script string
		code   int
		signal syscall.Signal
	}{
		{"zero is success", "exit 0", 0, 0},
		{"exit code passes through", "exit 42", 42, 0},
		{"killed by a signal is 128+N", "kill -9 $$", 137, syscall.SIGKILL},
		{"terminated by SIGTERM", "kill -TERM $$", 143, syscall.SIGTERM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := cove.Command(spec.Default(), "sh", "-c", c.script).Run()
			if c.code == 0 {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			var ee *cove.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Run: got %v (%T), want *ExitError", err, err)
			}
			if ee.ExitCode() != c.code || ee.Signal != c.signal {
				t.Fatalf("got code %d signal %d, want %d and %d", ee.ExitCode(), ee.Signal, c.code, c.signal)
			}
		})
	}
}

func TestSetupErrors(t *testing.T) {
	requireSandbox(t)
	cases := []struct {
		name  string
		cmd   *cove.Cmd
		code  int
		field string
	}{
		{"missing command is 127", cove.Command(spec.Default(), "no-such-command-xyz"), 127, ""},
		{"non-executable file is 126", cove.Command(spec.Default(), "/etc/hostname"), 126, ""},
		{"missing bind source is 125 naming the operation", func() *cove.Cmd {
			s := spec.Default()
			s.Filesystem = append(s.Filesystem, spec.Mount{Type: spec.Bind, Src: "/no/such/dir", Dst: "/x"})
			return cove.Command(s, "true")
		}(), 125, "filesystem[12]"},
		{"invalid spec is 125 naming the field", func() *cove.Cmd {
			s := spec.Default()
			s.Cwd = "relative"
			return cove.Command(s, "true")
		}(), 125, "cwd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cmd.Run()
			var se *cove.SetupError
			if !errors.As(err, &se) {
				t.Fatalf("got %v (%T), want *SetupError", err, err)
			}
			if se.ExitCode() != c.code || se.Field != c.field {
				t.Fatalf("got code %d field %q (%v), want %d and %q", se.Code, se.Field, err, c.code, c.field)
			}
		})
	}
}

func TestOutputAndSandbox(t *testing.T) {
	requireSandbox(t)
	out, err := cove.Command(spec.Default(), "sh", "-c",
		`hostname; grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status; ls /proc/self/fd | wc -l; cat /proc/1/comm`).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "cove\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\n"
	if !strings.HasPrefix(string(out), want) {
		t.Fatalf("got\n%s\nwant prefix\n%s", out, want)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	// ls sees 0, 1, 2 and its own directory fd; PID 1 is cove's init.
	if lines[len(lines)-2] != "4" || lines[len(lines)-1] != "cove-init" {
		t.Fatalf("fd count and pid 1: got %q and %q, want 4 and cove-init", lines[len(lines)-2], lines[len(lines)-1])
	}
}

// TestReexecInit runs the sandbox through the re-executed Go init (stage 1
// from a sealed memfd), the engine used when the Spec needs Go code inside.
func TestReexecInit(t *testing.T) {
	requireSandbox(t)
	cmd := cove.Command(spec.Default(), "sh", "-c",
		`hostname; grep -E '^(NoNewPrivs|CapEff|Seccomp):' /proc/self/status; cat /proc/1/comm; touch /usr/x 2>/dev/null || echo ro; exit 5`)
	cmd.ReexecInit = true
	out, err := cmd.Output()
	var ee *cove.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("got %v, want exit 5", err)
	}
	want := "cove\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\ncove-init\nro\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if cmd.Pid <= 0 {
		t.Fatalf("Pid = %d, want the program's host pid", cmd.Pid)
	}
}

func TestOutputExitErrorCarriesStderr(t *testing.T) {
	requireSandbox(t)
	_, err := cove.Command(spec.Default(), "sh", "-c", "echo oops >&2; exit 3").Output()
	var ee *cove.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || string(ee.Stderr) != "oops\n" {
		t.Fatalf("got %v (stderr %q), want exit 3 with stderr oops", err, func() []byte {
			if ee != nil {
				return ee.Stderr
			}
			return nil
		}())
	}
}

func TestExtraFilesAreTheOnlyExtraFds(t *testing.T) {
	requireSandbox(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stray, _ := os.Open("/dev/null") // open in the caller, must not leak
	defer stray.Close()
	cmd := cove.Command(spec.Default(), "sh", "-c", `echo via-fd3 >&3; n=0; while [ $n -lt 100 ]; do [ -e /proc/self/fd/$n ] && echo $n; n=$((n+1)); done`)
	cmd.ExtraFiles = []*os.File{w}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if string(got) != "via-fd3\n" {
		t.Fatalf("fd 3 got %q", got)
	}
	if fds := strings.Fields(out.String()); strings.Join(fds, " ") != "0 1 2 3" {
		t.Fatalf("fds inside: %v, want 0 1 2 3", fds)
	}
}

func TestEventsOrderAndSingleExit(t *testing.T) {
	requireSandbox(t)
	cmd := cove.Command(spec.Default(), "sh", "-c",
		"echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; exit 7")
	var got []string
	exits := 0
	var last cove.Event
	for ev := range cmd.Events() {
		switch ev.Kind {
		case cove.Stdout, cove.Stderr:
			got = append(got, ev.Kind.String()+":"+strings.TrimSpace(string(ev.Data)))
		case cove.Exit:
			exits++
			last = ev
		}
	}
	want := "stdout:one stderr:two stdout:three"
	if strings.Join(got, " ") != want {
		t.Fatalf("events %q, want %q", strings.Join(got, " "), want)
	}
	if exits != 1 || last.Code != 7 || last.Signal != 0 || last.Err != nil {
		t.Fatalf("exit events %d, last %+v; want one with code 7", exits, last)
	}
}

func TestEventsSignalAndSetupFailure(t *testing.T) {
	requireSandbox(t)
	var last cove.Event
	n := 0
	for ev := range cove.Command(spec.Default(), "sh", "-c", "kill -KILL $$").Events() {
		last, n = ev, n+1
	}
	if n != 1 || last.Kind != cove.Exit || last.Code != 137 || last.Signal != syscall.SIGKILL {
		t.Fatalf("got %d events, last %+v; want one exit with signal 9", n, last)
	}
	n = 0
	for ev := range cove.Command(spec.Default(), "no-such-command-xyz").Events() {
		last, n = ev, n+1
	}
	var se *cove.SetupError
	if n != 1 || last.Code != 127 || !errors.As(last.Err, &se) {
		t.Fatalf("got %d events, last %+v; want one exit 127 with a SetupError", n, last)
	}
}

func TestEventsStopEarlyKillsSandbox(t *testing.T) {
	requireSandbox(t)
	cmd := cove.Command(spec.Default(), "sh", "-c", "while :; do echo tick; sleep 0.05; done")
	start := time.Now()
	for ev := range cmd.Events() {
		if ev.Kind == cove.Stdout {
			break
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("stopping the iteration did not end the sandbox promptly")
	}
	if pid := cmd.InitPid(); pid != 0 {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Fatalf("sandbox init %d still alive after the iteration stopped", pid)
		}
	}
}

func TestTimeoutKillsTheTree(t *testing.T) {
	requireSandbox(t)
	s := spec.Default()
	s.Lifecycle.Timeout = spec.Duration(300 * time.Millisecond)
	start := time.Now()
	err := cove.Command(s, "sh", "-c", "sleep 30 & sleep 30").Run()
	var ee *cove.ExitError
	if !errors.As(err, &ee) || !ee.TimedOut || ee.ExitCode() != 137 {
		t.Fatalf("got %v, want a timed-out ExitError with code 137", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

// TestSandboxOutlivesStartingThread starts a sandbox from a goroutine that
// locks its thread and returns without unlocking, so Go ends the thread:
// the sandbox must keep running (a parent-death signal tied to the thread
// would kill it; peers.md attack #32).
func TestSandboxOutlivesStartingThread(t *testing.T) {
	requireSandbox(t)
	for _, reexec := range []bool{false, true} {
		cmd := cove.Command(spec.Default(), "sh", "-c", "sleep 0.5; echo survived")
		cmd.ReexecInit = reexec
		var out bytes.Buffer
		cmd.Stdout = &out
		started := make(chan error)
		go func() {
			runtime.LockOSThread()
			started <- cmd.Start()
			// returning while locked ends this thread
		}()
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil || out.String() != "survived\n" {
			t.Fatalf("reexec=%v: got %v and %q; the sandbox died with its starting thread", reexec, err, out.String())
		}
	}
}

// TestPlainOutlivesStartingThread does the same for a program started
// without namespaces: there is no init, the program is cove's own child with
// a parent-death signal, which follows the thread that forked it. Start runs
// on a goroutine that locks a thread other than the main one (a goroutine
// that exits locked to the main thread wedges it instead of ending it) and
// returns without unlocking, so Go ends that thread unless cove forked from
// another one.
func TestPlainOutlivesStartingThread(t *testing.T) {
	s := spec.NoNamespaces()
	s.Security.Landlock = spec.Landlock{} // not what this test is about
	cmd := cove.Command(s, "sh", "-c", "sleep 0.5; echo survived")
	var out bytes.Buffer
	cmd.Stdout = &out
	started := make(chan error)
	holdMain := make(chan struct{})
	defer close(holdMain)
	var try func()
	try = func() {
		runtime.LockOSThread()
		if syscall.Gettid() == os.Getpid() {
			// The main thread: keep it busy, start from another.
			go try()
			<-holdMain
			runtime.UnlockOSThread()
			return
		}
		started <- cmd.Start()
		// returning while locked ends this thread
	}
	go try()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the thread end
	if err := cmd.Wait(); err != nil || out.String() != "survived\n" {
		t.Fatalf("got %v and %q; the program died with the thread that started it", err, out.String())
	}
}

// TestSandboxInitHoldsOnlyItsFds starts sandboxes side by side and checks
// that each init holds exactly its program's three stdio descriptors and its
// end of the control socket: none of this process's other descriptors (such
// as another sandbox's control socket, which would then never hang up when
// this process dies). Every other one is forked (an init that writes its
// OOM score is), the others share this process's memory where they can.
func TestSandboxInitHoldsOnlyItsFds(t *testing.T) {
	requireSandbox(t)
	var cmds []*cove.Cmd
	defer func() {
		for _, c := range cmds {
			c.Kill()
			c.Wait()
		}
	}()
	// Leave descriptors open above the numbers the sandboxes will get, as
	// a long-running caller has: open 40, close the first 30.
	var files []*os.File
	for i := 0; i < 40; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for i, f := range files {
		if i < 30 {
			f.Close()
		} else {
			defer f.Close()
		}
	}
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	var adj int
	fmt.Sscan(string(cur), &adj)
	for i := 0; i < 4; i++ {
		s := spec.Default()
		if i%2 == 1 {
			s.OOMScoreAdj = &adj
		}
		c := cove.Command(s, "sleep", "10")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for i, c := range cmds {
		dir := fmt.Sprintf("/proc/%d/fd", c.InitPid())
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("%s: %v (the init is not dumpable; the root run checks)", dir, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			l, _ := os.Readlink(dir + "/" + e.Name())
			got = append(got, e.Name()+" -> "+l)
		}
		if len(got) != 4 {
			t.Errorf("sandbox %d: init holds %d fds, want 4 (stdio and its control socket): %v", i, len(got), got)
		}
	}
}

// TestLibraryAsUnprivilegedUser re-runs this package's tests as uid 65534.
func TestLibraryAsUnprivilegedUser(t *testing.T) {
	if os.Getenv(unprivEnv) != "" {
		t.Skip("already running unprivileged")
	}
	out := testutil.AsNobody(t, "cove.test", append(os.Environ(), unprivEnv+"=1", "HOME=/nonexistent"),
		"-test.run", "^Test(Run|Setup|Output|Extra|Events|Timeout|Reexec|Sandbox|Plain|Security)", "-test.count=1", "-test.v")
	if strings.Contains(out, "--- SKIP") && strings.Contains(out, "user namespaces unavailable") {
		t.Fatalf("unprivileged run skipped everything: user namespaces unavailable to uid 65534")
	}
}

// TestRepeatedRunsLeakNothing starts many sandboxes, through every start
// mode that needs no setup, and checks that the caller's fd count and
// children are back where they were.
func TestRepeatedRunsLeakNothing(t *testing.T) {
	requireSandbox(t)
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	run := func(s *spec.Spec, reexec bool) {
		cmd := cove.Command(s, "sh", "-c", "echo x; echo y >&2; exit 3")
		cmd.ReexecInit = reexec
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err == nil || out.String() != "x\n" || errb.String() != "y\n" {
			t.Fatalf("run: %v %q %q", err, out.String(), errb.String())
		}
	}
	run(spec.Default(), false) // warm up: the sealed copy, runtime pipes
	run(spec.Default(), true)
	before := count()
	for i := 0; i < 50; i++ {
		run(spec.Default(), i%10 == 0)
	}
	if after := count(); after != before {
		t.Fatalf("fds: %d before, %d after 50 runs", before, after)
	}
	var ws syscall.WaitStatus
	if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); err != syscall.ECHILD {
		t.Fatalf("a child is left (pid %d, %v)", pid, err)
	}
}

// TestSignalPidfd: the pidfd from SignalPidfd reaches the process Signal
// would: a SIGTERM sent through it ends a sandboxed sleep with 128+15, as
// Signal(SIGTERM) does. Before Start it is an error.
func TestSignalPidfd(t *testing.T) {
	requireSandbox(t)
	cmd := cove.Command(spec.Default(), "sleep", "30")
	if _, err := cmd.SignalPidfd(); err == nil {
		t.Fatal("SignalPidfd before Start succeeded")
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fd, err := cmd.SignalPidfd()
	if err != nil {
		cmd.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil {
		cmd.Kill()
		cmd.Wait()
		t.Fatalf("pidfd_send_signal: %v", err)
	}
	cmd.Wait()
	if st := cmd.Status(); st == nil || st.Signal != syscall.SIGTERM || st.Code != 128+15 {
		t.Fatalf("status %+v, want killed by SIGTERM (143)", st)
	}
}
