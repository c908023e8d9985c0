package caps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a helper instead of running tests.
const helperEnv = "COVE_CAPS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// applyScenario is what a helper applies and what the test expects back.
type applyScenario struct {
	Req Request
}

// helper applies a Plan the way the launcher's child does, on one locked
// thread, then prints that thread's capability lines and those of a program
// it execs (which inherits the thread's credentials) as JSON.
func helper(mode string) int {
	runtime.LockOSThread() // never unlocked: the thread's credentials change
	var sc applyScenario
	if err := json.Unmarshal([]byte(mode), &sc); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	last, err := Last()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	sc.Req.Last = last
	p, err := NewPlan(sc.Req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	if err := applyOnThread(p); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 3
	}
	thread, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 3
	}
	// Started from this locked goroutine, so forked from this thread.
	execd, err := exec.Command("/bin/cat", "/proc/self/status").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: exec cat:", err)
		return 3
	}
	out, _ := json.Marshal(map[string]map[string]string{
		"thread": capLines(thread),
		"exec":   capLines(execd),
	})
	os.Stdout.Write(out)
	return 0
}

// applyOnThread is the launcher's sequence, with per-thread raw syscalls.
func applyOnThread(p Plan) error {
	for _, c := range p.BoundingDrops() {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from bounding set: %w", c, err)
		}
	}
	if p.KeepCaps {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("keep caps: %w", err)
		}
	}
	if p.UID != 0 {
		// unix.Setresuid changes every thread; the launcher's child has one.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(p.UID), uintptr(p.UID), uintptr(p.UID)); e != 0 {
			return fmt.Errorf("setresgid: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(p.UID), uintptr(p.UID), uintptr(p.UID)); e != 0 {
			return fmt.Errorf("setresuid: %w", e)
		}
	}
	hdr := Header()
	data := p.UserData()
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	for _, c := range p.AmbientRaises() {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient %s: %w", c, err)
		}
	}
	return nil
}

func capLines(status []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.HasPrefix(k, "Cap") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// requireCaps skips unless the effective set holds every cap in need.
func requireCaps(t *testing.T, need ...Cap) {
	t.Helper()
	hdr := Header()
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Skipf("capget: %v", err)
	}
	eff := Set(data[0].Effective) | Set(data[1].Effective)<<32
	for _, c := range need {
		if !eff.Has(c) {
			t.Skipf("needs %s in the effective set (run as root)", c)
		}
	}
}

func TestLast(t *testing.T) {
	fromProc, err := lastFromProc()
	if err != nil {
		t.Skipf("no /proc/sys/kernel/cap_last_cap: %v", err)
	}
	probed, err := lastByProbe()
	if err != nil {
		t.Fatal(err)
	}
	if fromProc != probed {
		t.Errorf("cap_last_cap says %d, PR_CAPBSET_READ probe says %d", fromProc, probed)
	}
	if got, err := Last(); err != nil || got != fromProc {
		t.Errorf("Last() = %d, %v", got, err)
	}
}

func TestUserData(t *testing.T) {
	p := Plan{Permitted: set(CHOWN, CHECKPOINT_RESTORE), Effective: set(CHECKPOINT_RESTORE), Inheritable: set(KILL)}
	d := p.UserData()
	if d[0].Permitted != 1 || d[1].Permitted != 1<<(40-32) || d[0].Effective != 0 || d[1].Effective != 1<<8 ||
		d[0].Inheritable != 1<<KILL || d[1].Inheritable != 0 {
		t.Errorf("UserData = %+v", d)
	}
	if h := Header(); h.Version != unix.LINUX_CAPABILITY_VERSION_3 || h.Pid != 0 {
		t.Errorf("Header = %+v", h)
	}
}

// TestApplyPlan applies plans in a subprocess, as the launcher does, and
// reads the resulting sets back from the kernel.
func TestApplyPlan(t *testing.T) {
	requireCaps(t, SETPCAP, SETUID, SETGID)
	last, err := Last()
	if err != nil {
		t.Fatal(err)
	}
	hex := func(s Set) string { return fmt.Sprintf("%016x", uint64(s&All(last))) }
	for _, tc := range []struct {
		behaviour  string
		req        Request
		thread     map[string]Set
		afterExecP map[string]Set
	}{
		{
			"root keeps exactly the added caps, across execve too",
			Request{Add: set(NET_ADMIN, SYS_CHROOT)},
			map[string]Set{"CapBnd": set(NET_ADMIN, SYS_CHROOT), "CapPrm": set(NET_ADMIN, SYS_CHROOT), "CapEff": set(NET_ADMIN, SYS_CHROOT), "CapInh": 0, "CapAmb": 0},
			map[string]Set{"CapBnd": set(NET_ADMIN, SYS_CHROOT), "CapPrm": set(NET_ADMIN, SYS_CHROOT), "CapEff": set(NET_ADMIN, SYS_CHROOT), "CapInh": 0, "CapAmb": 0},
		},
		{
			"root with nothing added has nothing",
			Request{},
			map[string]Set{"CapBnd": 0, "CapPrm": 0, "CapEff": 0, "CapInh": 0, "CapAmb": 0},
			map[string]Set{"CapBnd": 0, "CapPrm": 0, "CapEff": 0, "CapInh": 0, "CapAmb": 0},
		},
		{
			"uid 65534 keeps only ambient caps across execve",
			Request{Add: set(SYS_CHROOT), Ambient: set(NET_BIND_SERVICE), UID: 65534},
			map[string]Set{"CapBnd": set(SYS_CHROOT, NET_BIND_SERVICE), "CapPrm": set(SYS_CHROOT, NET_BIND_SERVICE), "CapEff": set(SYS_CHROOT, NET_BIND_SERVICE), "CapInh": set(NET_BIND_SERVICE), "CapAmb": set(NET_BIND_SERVICE)},
			map[string]Set{"CapBnd": set(SYS_CHROOT, NET_BIND_SERVICE), "CapPrm": set(NET_BIND_SERVICE), "CapEff": set(NET_BIND_SERVICE), "CapInh": set(NET_BIND_SERVICE), "CapAmb": set(NET_BIND_SERVICE)},
		},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			mode, _ := json.Marshal(applyScenario{Req: tc.req})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+string(mode))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v: %s", err, stderr.Bytes())
			}
			var got map[string]map[string]string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("helper output %q: %v", out, err)
			}
			for where, want := range map[string]map[string]Set{"thread": tc.thread, "exec": tc.afterExecP} {
				for k, v := range want {
					if got[where][k] != hex(v) {
						t.Errorf("%s %s = %s, want %s (%s)", where, k, got[where][k], hex(v), v)
					}
				}
			}
		})
	}
}
