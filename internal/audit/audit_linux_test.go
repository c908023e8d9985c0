package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/covebox/cove/internal/testutil"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const helperEnv = "COVE_AUDIT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "sleeper":
		io.Copy(io.Discard, os.Stdin) // until the scenario closes our stdin
		os.Exit(0)
	case "scenario":
		os.Exit(scenario())
	}
	os.Exit(m.Run())
}

// scenario starts a sleeper in new user and network namespaces, with
// no_new_privs, as whoever runs it; audits it with `--json PID`; prints
// the report.
func scenario() int {
	uid, gid := os.Getuid(), os.Getgid()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=sleeper")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		return 2
	}
	cmd.Stderr = os.Stderr
	// no_new_privs is per thread: set it on a locked thread and fork from
	// it; the thread is never unlocked and dies with its goroutine.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			started <- err
			return
		}
		started <- cmd.Start()
	}()
	if err := <-started; err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL) {
			fmt.Fprintln(os.Stderr, "SKIP: cannot create a user namespace here:", err)
			return 77
		}
		fmt.Fprintln(os.Stderr, "scenario:", err)
		return 2
	}
	code := Main([]string{"--json", strconv.Itoa(cmd.Process.Pid)}, os.Stdout, os.Stderr)
	stdin.Close()
	cmd.Wait()
	return code
}

func TestAuditChildInNewNamespaces(t *testing.T) {
	bin := testutil.ExecutableCopy(t, "", "audit.test")
	for _, tc := range []struct {
		behaviour string
		cred      *syscall.Credential
		uid       int
	}{
		{"started by the caller", nil, os.Getuid()},
		{"started by uid 65534", &syscall.Credential{Uid: 65534, Gid: 65534}, 65534},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			if tc.cred != nil && os.Getuid() != 0 {
				t.Skip("switching to uid 65534 needs CAP_SETUID (run as root)")
			}
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=scenario")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 77 {
				t.Skip(strings.TrimSpace(stderr.String()))
			}
			if err != nil {
				t.Fatalf("scenario: %v: %s", err, stderr.Bytes())
			}
			var r Report
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("--json output does not parse back: %v\n%s", err, out)
			}
			want := map[string]string{"user": "private", "net": "private", "mnt": "shared", "pid": "shared",
				"ipc": "shared", "uts": "shared", "cgroup": "shared", "time": "shared", "pid_for_children": "shared"}
			if len(r.Namespace) != len(want) {
				t.Errorf("got %d namespaces, want %d", len(r.Namespace), len(want))
			}
			for _, n := range r.Namespace {
				if n.State != want[n.Type] {
					t.Errorf("namespace %s: %s (inode %d, reference %d), want %s", n.Type, n.State, n.Inode, n.Reference, want[n.Type])
				}
			}
			wantMap := fmt.Sprintf("0 %d 1", tc.uid)
			if len(r.UIDMap) != 1 || r.UIDMap[0] != wantMap {
				t.Errorf("uid_map = %q, want %q", r.UIDMap, wantMap)
			}
			if len(r.GIDMap) != 1 || !strings.HasPrefix(r.GIDMap[0], "0 ") {
				t.Errorf("gid_map = %q", r.GIDMap)
			}
			if !r.NoNewPrivs {
				t.Error("no_new_privs not reported")
			}
			if len(r.UID) != 4 || r.UID[1] != tc.uid {
				t.Errorf("uid = %v, want effective %d as the caller sees it", r.UID, tc.uid)
			}
			if len(r.NetInterfaces) != 1 || r.NetInterfaces[0] != "lo" {
				t.Errorf("net interfaces = %q, want only lo", r.NetInterfaces)
			}
			if r.Securebits != nil {
				t.Errorf("securebits of another process reported as %+v; it cannot be read", r.Securebits)
			}
			checks := map[string]Check{}
			for _, c := range r.Exposure.Checks {
				checks[c.Name] = c
			}
			for name, bad := range map[string]int{"PrivateNetwork": 0, "PrivateUsers": 0, "NoNewPrivileges": 0, "PrivateMounts": 1} {
				if c := checks[name]; !c.Applicable || c.Badness != bad {
					t.Errorf("check %s = %+v, want badness %d", name, c, bad)
				}
			}
			if r.Exposure.Score <= 0 || r.Exposure.Score > 10 || r.Exposure.Label == "" {
				t.Errorf("exposure = %v %s", r.Exposure.Score, r.Exposure.Label)
			}
		})
	}
}

func TestAuditSelf(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json output does not parse back: %v", err)
	}
	if r.PID != os.Getpid() || !r.Self || r.Reference != "PID 1 (cove audited itself)" {
		t.Errorf("pid %d self %v reference %q", r.PID, r.Self, r.Reference)
	}
	if r.Securebits == nil || r.Dumpable == "unknown" {
		t.Errorf("securebits %v, dumpable %q: both are readable for cove itself", r.Securebits, r.Dumpable)
	}
	if len(r.Rlimits) != 16 {
		t.Errorf("got %d rlimits, want 16", len(r.Rlimits))
	}
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	for _, l := range r.Rlimits {
		if l.Name == "nofile" && l.Soft != strconv.FormatUint(lim.Cur, 10) {
			t.Errorf("nofile soft %s, getrlimit says %d", l.Soft, lim.Cur)
		}
	}
	status, _ := os.ReadFile("/proc/self/status")
	if strings.Contains(string(status), "NoNewPrivs:\t0") == r.NoNewPrivs {
		t.Errorf("no_new_privs %v disagrees with /proc/self/status", r.NoNewPrivs)
	}
	if len(r.Cgroup) == 0 || len(r.UIDMap) == 0 {
		t.Errorf("cgroup %q uid_map %q", r.Cgroup, r.UIDMap)
	}

	// The human form is a table with every section.
	out.Reset()
	if code := Main(nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"NAMESPACE  ", "CAPABILITIES", "RLIMIT", "CHECK", "no_new_privs", "seccomp", "exposure "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}

func TestAuditMissingPID(t *testing.T) {
	// PIDs are below pid_max, which is at most 2^22.
	var out, errb bytes.Buffer
	if code := Main([]string{"99999999"}, &out, &errb); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if want := "cove audit: PID 99999999: cannot read process: no such process\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}
