package landlock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/covebox/cove/internal/testutil"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const helperEnv = "COVE_LANDLOCK_TEST_HELPER"

func TestMain(m *testing.M) {
	if arg := os.Getenv(helperEnv); arg != "" {
		os.Exit(helper(arg))
	}
	os.Exit(m.Run())
}

// requireLandlock skips with the kernel's reason when Landlock is missing.
func requireLandlock(t *testing.T) int {
	t.Helper()
	abi, err := ABI()
	if errors.Is(err, ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return abi
}

// layout is the directory tree a helper is confined in.
type layout struct {
	RO, RW, Outside, AllowedFile string
}

// outcome maps an attempted access to "ok" or the errno's name.
type outcome map[string]string

func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// helper restricts its locked thread and tries every access from it.
func helper(arg string) int {
	runtime.LockOSThread() // never unlocked: the thread becomes restricted
	var l layout
	if err := json.Unmarshal([]byte(arg), &l); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	allowed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	denied, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	allowedPort := uint16(allowed.Addr().(*net.TCPAddr).Port)
	rs, err := Prepare(Rules{RO: []string{l.RO, l.AllowedFile}, RW: []string{l.RW}, ConnectTCP: []uint16{allowedPort}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: prepare:", err)
		return 3
	}
	if err := RestrictSelf(rs); err != nil {
		fmt.Fprintln(os.Stderr, "helper: restrict:", err)
		return 3
	}
	rs.Close()
	o := outcome{}
	_, err = os.ReadFile(filepath.Join(l.RO, "f"))
	o["read ro file"] = result(err)
	_, err = os.ReadDir(l.RO)
	o["list ro dir"] = result(err)
	_, err = unix.Open(filepath.Join(l.RO, "f"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	o["open ro file for writing"] = result(err)
	o["create in ro dir"] = result(os.WriteFile(filepath.Join(l.RO, "new"), nil, 0o644))
	o["create in rw dir"] = result(os.WriteFile(filepath.Join(l.RW, "new"), []byte("x"), 0o644))
	o["rename within rw dir"] = result(os.Rename(filepath.Join(l.RW, "new"), filepath.Join(l.RW, "renamed")))
	o["mkdir in rw dir"] = result(os.Mkdir(filepath.Join(l.RW, "sub"), 0o755))
	_, err = os.ReadFile(filepath.Join(l.Outside, "f"))
	o["read outside file"] = result(err)
	_, err = os.ReadDir(l.Outside)
	o["list outside dir"] = result(err)
	_, err = os.ReadFile(l.AllowedFile)
	o["read allowed single file"] = result(err)
	o["write allowed single file"] = result(os.WriteFile(l.AllowedFile, []byte("y"), 0o644))
	o["exec from ro dir"] = result(unix.Exec(filepath.Join(l.RO, "f"), []string{"f"}, nil))
	c, err := net.Dial("tcp", allowed.Addr().String())
	if c != nil {
		c.Close()
	}
	o["connect allowed port"] = result(err)
	c, err = net.Dial("tcp", denied.Addr().String())
	if c != nil {
		c.Close()
	}
	o["connect other port"] = result(err)
	json.NewEncoder(os.Stdout).Encode(o)
	return 0
}

func TestRestrict(t *testing.T) {
	requireLandlock(t)
	base := testutil.WorldDir(t)
	bin := testutil.ExecutableCopy(t, base, "landlock.test")
	for _, tc := range []struct {
		behaviour string
		cred      *syscall.Credential
	}{
		{"as root", nil},
		{"as uid 65534", &syscall.Credential{Uid: 65534, Gid: 65534}},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			if tc.cred != nil && os.Getuid() != 0 {
				t.Skip("switching to uid 65534 needs CAP_SETUID (run as root)")
			}
			dir, err := os.MkdirTemp(base, "tree")
			if err != nil {
				t.Fatal(err)
			}
			l := layout{RO: filepath.Join(dir, "ro"), RW: filepath.Join(dir, "rw"), Outside: filepath.Join(dir, "outside")}
			l.AllowedFile = filepath.Join(l.Outside, "allowed")
			for _, d := range []string{dir, l.RO, l.RW, l.Outside} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				os.Chmod(d, 0o777) // writable for uid 65534: only Landlock may deny
			}
			for _, f := range []string{filepath.Join(l.RO, "f"), filepath.Join(l.Outside, "f"), l.AllowedFile} {
				if err := os.WriteFile(f, []byte("#!/bin/true\n"), 0o777); err != nil {
					t.Fatal(err)
				}
				os.Chmod(f, 0o777)
			}
			arg, _ := json.Marshal(l)
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+string(arg))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v: %s", err, stderr.Bytes())
			}
			var got outcome
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("helper output %q: %v", out, err)
			}
			want := outcome{
				"read ro file":              "ok",
				"list ro dir":               "ok",
				"open ro file for writing":  "EACCES",
				"create in ro dir":          "EACCES",
				"create in rw dir":          "ok",
				"rename within rw dir":      "ok",
				"mkdir in rw dir":           "ok",
				"read outside file":         "EACCES",
				"list outside dir":          "EACCES",
				"read allowed single file":  "ok",
				"write allowed single file": "EACCES",
				"exec from ro dir":          "EACCES",
				"connect allowed port":      "ok",
				"connect other port":        "EACCES",
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: got %s, want %s", k, got[k], w)
				}
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	requireLandlock(t)
	for _, tc := range []struct {
		behaviour string
		rules     Rules
		err       string
	}{
		{"missing ro path", Rules{RO: []string{"/nonexistent/cove"}}, "landlock ro path /nonexistent/cove: no such file or directory"},
		{"missing exec path", Rules{RO: []string{"/"}, Exec: []string{"/nonexistent/bin"}}, "landlock exec path /nonexistent/bin: no such file or directory"},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			rs, err := Prepare(tc.rules)
			if err == nil {
				rs.Close()
				t.Fatalf("Prepare succeeded, want %q", tc.err)
			}
			if err.Error() != tc.err {
				t.Errorf("Prepare error = %q, want %q", err, tc.err)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	abi := requireLandlock(t)
	before := countFDs(t)
	rs, err := Prepare(Rules{RO: []string{"/etc", "/etc/hostname"}, RW: []string{os.TempDir()}, Exec: []string{"/bin/true"}, BindTCP: []uint16{8080}})
	if err != nil {
		t.Fatal(err)
	}
	if rs.ABI != abi || rs.FD < 0 || rs.HandledFS != handledFS(abi) {
		t.Errorf("Prepare = %+v", rs)
	}
	if abi >= 4 && rs.HandledNet != accessNetBindTCP|accessNetConnectTCP {
		t.Errorf("HandledNet = %#x", rs.HandledNet)
	}
	flags, err := unix.FcntlInt(uintptr(rs.FD), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("ruleset fd flags = %#x, %v; want close-on-exec", flags, err)
	}
	t.Log(rs.Note)
	if err := rs.Close(); err != nil {
		t.Fatal(err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("Prepare leaked %d fds", after-before)
	}
	// Without ports, TCP is left alone.
	rs, err = Prepare(Rules{RO: []string{"/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if rs.HandledNet != 0 {
		t.Errorf("HandledNet = %#x without port rules", rs.HandledNet)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestHandledByABI(t *testing.T) {
	for _, tc := range []struct {
		abi     int
		fs, net uint64
		notes   int
	}{
		{1, 0x1fff, 0, 5},
		{2, 0x3fff, 0, 4},
		{3, 0x7fff, 0, 3},
		{4, 0x7fff, 3, 2},
		{5, 0xffff, 3, 1},
		{7, 0xffff, 3, 1},
		{9, 0x1ffff, 3, 0},
	} {
		t.Run("ABI "+strconv.Itoa(tc.abi), func(t *testing.T) {
			if got := handledFS(tc.abi); got != tc.fs {
				t.Errorf("handledFS = %#x, want %#x", got, tc.fs)
			}
			if got := handledNet(tc.abi); got != tc.net {
				t.Errorf("handledNet = %#x, want %#x", got, tc.net)
			}
			if got := downgradeNotes(tc.abi, true); len(got) != tc.notes {
				t.Errorf("downgradeNotes = %q, want %d", got, tc.notes)
			}
		})
	}
	// The kernel's own definitions agree.
	if accessFSResolveUnix != unix.LANDLOCK_ACCESS_FS_RESOLVE_UNIX || accessFSIoctlDev != unix.LANDLOCK_ACCESS_FS_IOCTL_DEV ||
		accessNetConnectTCP != unix.LANDLOCK_ACCESS_NET_CONNECT_TCP || accessFSRefer != unix.LANDLOCK_ACCESS_FS_REFER {
		t.Error("access constants differ from x/sys/unix")
	}
}

func TestNotSupportedError(t *testing.T) {
	err := fmt.Errorf("sandbox: %w", &NotSupportedError{Reason: "Landlock is built in but disabled at boot", MinKernel: "5.13"})
	if !errors.Is(err, ErrNotSupported) {
		t.Error("does not match ErrNotSupported")
	}
	want := "sandbox: landlock not supported: Landlock is built in but disabled at boot (needs Linux 5.13 or newer built with CONFIG_SECURITY_LANDLOCK=y and landlock in the lsm= boot parameter)"
	if err.Error() != want {
		t.Errorf("got %q", err)
	}
}
