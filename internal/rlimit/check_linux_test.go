package rlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/covebox/cove/internal/testutil"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const helperEnv = "COVE_RLIMIT_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

// helperResult is what the helper reports about raising RLIMIT_NOFILE's
// hard limit from 2048 to 4096.
type helperResult struct {
	UID           int
	Privileged    bool
	CheckRaise    string // Check's error, "" for none
	SetrlimitErr  string // the kernel's verdict on the same raise
	CheckLower    string
	CheckSoftHard string
}

func helper() int {
	r := helperResult{UID: os.Getuid()}
	var err error
	if r.Privileged, err = Privileged(); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	// Lowering is always allowed; it makes the raise below meaningful.
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1024, Max: 2048}); err != nil {
		fmt.Fprintln(os.Stderr, "helper: lower nofile:", err)
		return 2
	}
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	raise, _ := Parse("nofile=1024:4096")
	r.CheckRaise = errText(Check([]Limit{raise}, r.Privileged))
	r.SetrlimitErr = errText(unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1024, Max: 4096}))
	lower, _ := Parse("nofile=512")
	r.CheckLower = errText(Check([]Limit{lower}, r.Privileged))
	keepHard, _ := Parse("nofile=:256") // the current soft (1024 or more) is above 256
	r.CheckSoftHard = errText(Check([]Limit{keepHard}, r.Privileged))
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func TestCheckAgainstKernel(t *testing.T) {
	bin := testutil.ExecutableCopy(t, "", "rlimit.test")
	for _, tc := range []struct {
		behaviour string
		cred      *syscall.Credential
		raiseOK   bool
	}{
		{"root (with CAP_SYS_RESOURCE) may raise the hard limit", nil, true},
		{"uid 65534 may not raise the hard limit", &syscall.Credential{Uid: 65534, Gid: 65534}, false},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			if tc.cred != nil && os.Getuid() != 0 {
				t.Skip("switching to uid 65534 needs CAP_SETUID (run as root)")
			}
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v: %s", err, stderr.Bytes())
			}
			var r helperResult
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("helper output %q: %v", out, err)
			}
			if !tc.raiseOK && r.Privileged {
				t.Fatalf("helper as uid %d claims CAP_SYS_RESOURCE", r.UID)
			}
			// Whatever the helper's privilege, Check must predict the kernel.
			if r.Privileged {
				if r.CheckRaise != "" || r.SetrlimitErr != "" {
					t.Errorf("raise: Check said %q, setrlimit said %q; want both to allow it", r.CheckRaise, r.SetrlimitErr)
				}
			} else {
				if tc.raiseOK {
					t.Logf("uid %d lacks CAP_SYS_RESOURCE here; checking the denial instead", r.UID)
				}
				want := "rlimit nofile: raising a hard limit needs CAP_SYS_RESOURCE: hard 4096 is above the current hard limit 2048"
				if r.CheckRaise != want {
					t.Errorf("Check error = %q, want %q", r.CheckRaise, want)
				}
				if r.SetrlimitErr != unix.EPERM.Error() {
					t.Errorf("setrlimit error = %q, want EPERM: Check must predict the kernel", r.SetrlimitErr)
				}
			}
			if r.CheckLower != "" {
				t.Errorf("lowering: Check said %q", r.CheckLower)
			}
			if !strings.HasPrefix(r.CheckSoftHard, "rlimit nofile: soft limit above hard limit: soft ") {
				t.Errorf("kept soft above new hard: Check said %q", r.CheckSoftHard)
			}
		})
	}
}

func TestLookupMatchesKernelNumbers(t *testing.T) {
	for name, want := range map[string]int{
		"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
		"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
		"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
		"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
		"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
	} {
		if got, err := Lookup(name); err != nil || got != want {
			t.Errorf("Lookup(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if len(Names()) != 16 {
		t.Errorf("Names() has %d entries, want 16", len(Names()))
	}
}

func TestResolveAndCheck(t *testing.T) {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &cur); err != nil {
		t.Fatal(err)
	}
	l, _ := Parse("core=0:")
	got, err := Resolve([]Limit{l})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Soft != 0 || got[0].Hard != cur.Max || got[0].KeepHard {
		t.Errorf("Resolve(core=0:) = %+v, want hard %d", got[0], cur.Max)
	}
	twice := []Limit{l, l}
	if err := Check(twice, false); err == nil || err.Error() != "rlimit core given twice" {
		t.Errorf("Check(twice) = %v", err)
	}
	huge, _ := Parse("nofile=unlimited")
	err = Check([]Limit{huge}, true)
	if err == nil || !strings.Contains(err.Error(), "above fs.nr_open") {
		t.Errorf("Check(nofile=unlimited, privileged) = %v, want the fs.nr_open error", err)
	}
	if err := Check([]Limit{huge}, false); !errors.Is(err, ErrRaiseHard) && !strings.Contains(fmt.Sprint(err), "nr_open") {
		t.Errorf("Check(nofile=unlimited, unprivileged) = %v", err)
	}
}
