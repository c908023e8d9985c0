package cove_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/spec"
)

// TestSandboxProgramIsPID2WithItsOwnNetwork: the network namespace is made by a
// helper of the init beside the mount program (launch: initState.netHelper);
// the program must still be PID 2, in a network namespace of its own with
// only lo, up — for the default sandbox and for one whose network is made
// the old way (sysfs mounted: no helper).
func TestSandboxProgramIsPID2WithItsOwnNetwork(t *testing.T) {
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	withSys := spec.Default()
	withSys.Filesystem = append(withSys.Filesystem, spec.Mount{Type: spec.Sysfs, Dst: "/sys"})
	for name, s := range map[string]*spec.Spec{"default": spec.Default(), "sysfs": withSys} {
		for _, shared := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/shared=%v", name, shared), func(t *testing.T) {
				c := cove.Command(s, "/bin/sh", "-c", `echo $$; readlink /proc/self/ns/net; ls /sys/class/net 2>/dev/null || ls /proc/sys/net/ipv4/conf | grep -v -e all -e default; cat /proc/net/dev | tail -n +3 | wc -l`)
				c.SharedInit = shared
				out, err := c.Output()
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				lines := strings.Fields(string(out))
				if len(lines) != 4 || lines[0] != "2" || lines[1] == host || lines[2] != "lo" || lines[3] != "1" {
					t.Fatalf("want pid 2, a network namespace other than the host's %s, only lo; got %q", host, out)
				}
			})
		}
	}
}

// TestSandboxNetNSFailureIsNamed: when the network namespace cannot be made (here a
// seccomp filter makes unshare(CLONE_NEWNET) fail with ENOSPC, as
// user.max_net_namespaces would), cove fails before the program with a
// SetupError that says so and suggests --net host.
func TestSandboxNetNSFailureIsNamed(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=nonetns")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "125 namespaces:") || !strings.Contains(got, "network namespace") || !strings.Contains(got, "--net host") {
		t.Fatalf("want a 125 naming the network namespace with a hint, got %q", got)
	}
}

// noNetNS (helper "nonetns") refuses unshare(CLONE_NEWNET) to itself and
// its children, then starts the default sandbox with the shared init (whose
// network namespace a helper makes with unshare) and prints its
// SetupError's code, step and message.
func noNetNS() {
	if err := denyUnshareNet(); err != nil {
		fmt.Println("filter:", err)
		os.Exit(1)
	}
	c := cove.Command(spec.Default(), "/bin/true")
	c.SharedInit = true
	err := c.Run()
	var se *cove.SetupError
	if !errors.As(err, &se) {
		fmt.Printf("want a SetupError, got %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d %s: %v\n", se.Code, se.Step, se.Err)
}

// denyUnshareNet installs a seccomp filter on every thread: unshare with
// CLONE_NEWNET in its flags fails with ENOSPC.
func denyUnshareNet() error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return fmt.Errorf("no filter for %s", runtime.GOARCH)
	}
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ld, K: 4}, // arch
		{Code: jeq, K: arch, Jt: 1},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		{Code: ld, K: 0}, // nr
		{Code: jeq, K: unix.SYS_UNSHARE, Jf: 3},
		{Code: ld, K: 16}, // args[0], low half (little-endian)
		{Code: jset, K: unix.CLONE_NEWNET, Jf: 1},
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSPC)},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return errno
	}
	return nil
}
