package seccomp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary act as the filtered child (see TestMain).
const childEnv = "COVE_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(filteredChild())
	}
	os.Exit(m.Run())
}

// kernelProbe is one system call the filtered child makes. want is the errno
// it must fail with under the default policy (0: it must succeed); without
// the filter each probe gives a different result, so the verdicts show the
// filter at work rather than missing privilege.
type kernelProbe struct {
	name string
	want unix.Errno
	run  func() error
}

func rawErr(_ uintptr, _ uintptr, e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

var kernelProbes = []kernelProbe{
	{"getpid works", 0, func() error { return rawErr(unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)) }},
	{"read /proc/self/status shows the filter and no_new_privs", 0, func() error {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("\nSeccomp:\t2\n")) || !bytes.Contains(b, []byte("\nNoNewPrivs:\t1\n")) {
			return errors.New("status lacks Seccomp: 2 / NoNewPrivs: 1")
		}
		return nil
	}},
	{"pipe write and read work", 0, func() error {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return err
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		if _, err := unix.Write(p[1], []byte("x")); err != nil {
			return err
		}
		buf := make([]byte, 1)
		_, err := unix.Read(p[0], buf)
		return err
	}},
	{"socket(AF_INET) works", 0, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}},
	{"fork+exec /bin/true works", 0, func() error { return exec.Command("/bin/true").Run() }},
	{"personality query works", 0, func() error {
		return rawErr(unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0))
	}},
	{"ioctl TCGETS reaches the kernel", unix.ENOTTY, func() error {
		return ioctlDevNull(unix.TCGETS)
	}},
	{"mount is denied", unix.EPERM, func() error {
		return unix.Mount("none", "/nonexistent/cove-seccomp-test", "tmpfs", 0, "")
	}},
	{"unshare(CLONE_NEWUSER) is denied", unix.EPERM, func() error { return unix.Unshare(unix.CLONE_NEWUSER) }},
	{"clone(CLONE_NEWUSER) via exec is denied", unix.EPERM, func() error {
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
		return cmd.Run()
	}},
	{"ioctl TIOCSTI is denied", unix.EPERM, func() error { return ioctlDevNull(unix.TIOCSTI) }},
	{"ioctl (0x123<<32)|TIOCSTI is denied", unix.EPERM, func() error { return ioctlDevNull(0x123<<32 | unix.TIOCSTI) }},
	{"ioctl TIOCLINUX is denied", unix.EPERM, func() error { return ioctlDevNull(unix.TIOCLINUX) }},
	{"clone3 fails with ENOSYS", unix.ENOSYS, func() error { return rawErr(unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)) }},
	{"bpf is denied", unix.EPERM, func() error { return rawErr(unix.RawSyscall(unix.SYS_BPF, 0, 0, 0)) }},
	{"ptrace is denied", unix.EPERM, func() error {
		return rawErr(unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, uintptr(unix.Getpid()), 0, 0, 0, 0))
	}},
	{"keyctl is denied", unix.EPERM, func() error {
		return rawErr(unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0))
	}},
	{"io_uring_setup is denied", unix.EPERM, func() error { return rawErr(unix.RawSyscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)) }},
	{"fsopen is denied", unix.EPERM, func() error {
		_, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
		return err
	}},
	{"personality(PER_LINUX32) is denied", unix.EPERM, func() error {
		return rawErr(unix.RawSyscall(unix.SYS_PERSONALITY, 0x0008, 0, 0))
	}},
}

// ioctlDevNull issues ioctl(fd of /dev/null, req, &byte) with the full
// 64-bit request word, as an attacker's raw syscall would.
func ioctlDevNull(req uint64) error {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var b byte = 'x'
	return rawErr(unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&b))))
}

// filteredChild installs the default filter and reports each probe as
// "errno-name<TAB>probe-name" lines.
func filteredChild() int {
	f, err := Build(Config{})
	if err == nil {
		err = Install(f)
	}
	if err != nil {
		fmt.Println("INSTALL\t" + err.Error())
		return 3
	}
	for _, p := range kernelProbes {
		err := p.run()
		var errno unix.Errno
		if err != nil && !errors.As(err, &errno) {
			fmt.Printf("ERROR %v\t%s\n", err, p.name)
			continue
		}
		fmt.Printf("%s\t%s\n", errnoString(errno), p.name)
	}
	return 0
}

func errnoString(e unix.Errno) string {
	if e == 0 {
		return "OK"
	}
	return unix.ErrnoName(e)
}

// TestDefaultFilterInKernel installs the default filter in a re-executed copy
// of the test binary, as the caller and as uid 65534, and checks each probe's
// errno.
func TestDefaultFilterInKernel(t *testing.T) {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		t.Skipf("seccomp unavailable: prctl(PR_GET_SECCOMP): %v", err)
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no seccomp tables for %s", runtime.GOARCH)
	}
	bin := copyTestBinary(t)
	cases := []struct {
		name string
		cred *syscall.Credential
	}{
		{"as the caller", nil},
		{"as uid 65534", &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cred != nil && os.Geteuid() != 0 {
				t.Skip("switching to uid 65534 needs root")
			}
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			got := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if res, name, ok := strings.Cut(sc.Text(), "\t"); ok {
					got[name] = res
				}
			}
			for _, p := range kernelProbes {
				if want := errnoString(p.want); got[p.name] != want {
					t.Errorf("%s: got %q, want %s", p.name, got[p.name], want)
				}
			}
			if t.Failed() {
				t.Logf("child output:\n%s", out)
			}
		})
	}
}

// copyTestBinary copies the test binary into a fresh 0755 directory so that
// uid 65534 can execute it (go test's build directory is private).
func copyTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cove-seccomp-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := dir + "/seccomp.test"
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
