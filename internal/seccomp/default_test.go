package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

var testArchs = []string{"x86_64", "aarch64"}

// sigchld is the exit signal in clone flags (CSIGNAL bits).
const sigchld = uint64(unix.SIGCHLD)

// eval runs prog for the named call on arch with args and returns the verdict.
func eval(t *testing.T, prog []unix.SockFilter, arch, name string, args ...uint64) Action {
	t.Helper()
	a, err := lookupArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	nr, ok := a.nrs[name]
	if !ok {
		t.Fatalf("%s has no system call %q", arch, name)
	}
	d := seccompData{nr: uint32(nr), arch: a.audit}
	copy(d.args[:], args)
	ret, err := runBPF(prog, d)
	if err != nil {
		t.Fatalf("%s(%v) on %s: %v\n%s", name, args, arch, err, disasm(prog))
	}
	return verdict(ret)
}

func mustBuild(t *testing.T, c Config) []unix.SockFilter {
	t.Helper()
	f, err := Build(c)
	if err != nil {
		t.Fatalf("Build(%+v): %v", c, err)
	}
	return f
}

var (
	eperm        = Errno(unix.EPERM)
	enosys       = Errno(unix.ENOSYS)
	eafnosupport = Errno(unix.EAFNOSUPPORT)
)

// defaultCases pins the default policy's verdicts. Calls missing on an
// architecture (iopl on aarch64, open on aarch64) are skipped there.
var defaultCases = []struct {
	name string
	call string
	args []uint64
	want Action
}{
	{"read is allowed", "read", nil, Allow},
	{"write is allowed", "write", nil, Allow},
	{"execve is allowed", "execve", nil, Allow},
	{"openat is allowed", "openat", nil, Allow},
	{"open is allowed", "open", nil, Allow},
	{"mmap is allowed", "mmap", nil, Allow},
	{"plain clone (fork) is allowed", "clone", []uint64{sigchld}, Allow},
	{"thread clone is allowed", "clone", []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS}, Allow},
	{"clone with CLONE_NEWNS only is allowed (caps decide)", "clone", []uint64{unix.CLONE_NEWNS}, Allow},
	{"clone with CLONE_NEWUSER is denied", "clone", []uint64{unix.CLONE_NEWUSER | sigchld}, eperm},
	{"unshare CLONE_NEWUSER is denied", "unshare", []uint64{unix.CLONE_NEWUSER}, eperm},
	{"unshare CLONE_NEWUSER|CLONE_NEWNS is denied", "unshare", []uint64{unix.CLONE_NEWUSER | unix.CLONE_NEWNS}, eperm},
	{"unshare CLONE_NEWNS is allowed", "unshare", []uint64{unix.CLONE_NEWNS}, Allow},
	{"unshare CLONE_NEWUSER with high garbage is denied", "unshare", []uint64{1<<40 | unix.CLONE_NEWUSER}, eperm},
	{"clone3 fails with ENOSYS", "clone3", nil, enosys},
	{"mount is denied", "mount", nil, eperm},
	{"umount2 is denied", "umount2", nil, eperm},
	{"pivot_root is denied", "pivot_root", nil, eperm},
	{"chroot is denied", "chroot", nil, eperm},
	{"fsopen is denied", "fsopen", nil, eperm},
	{"fsconfig is denied", "fsconfig", nil, eperm},
	{"fsmount is denied", "fsmount", nil, eperm},
	{"fspick is denied", "fspick", nil, eperm},
	{"open_tree is denied", "open_tree", nil, eperm},
	{"open_tree_attr is denied", "open_tree_attr", nil, eperm},
	{"move_mount is denied", "move_mount", nil, eperm},
	{"mount_setattr is denied", "mount_setattr", nil, eperm},
	{"io_uring_setup is denied", "io_uring_setup", nil, eperm},
	{"io_uring_enter is denied", "io_uring_enter", nil, eperm},
	{"io_uring_register is denied", "io_uring_register", nil, eperm},
	{"userfaultfd is denied", "userfaultfd", nil, eperm},
	{"perf_event_open is denied", "perf_event_open", nil, eperm},
	{"bpf is denied", "bpf", nil, eperm},
	{"keyctl is denied", "keyctl", nil, eperm},
	{"add_key is denied", "add_key", nil, eperm},
	{"request_key is denied", "request_key", nil, eperm},
	{"kexec_load is denied", "kexec_load", nil, eperm},
	{"kexec_file_load is denied", "kexec_file_load", nil, eperm},
	{"init_module is denied", "init_module", nil, eperm},
	{"finit_module is denied", "finit_module", nil, eperm},
	{"delete_module is denied", "delete_module", nil, eperm},
	{"iopl is denied", "iopl", nil, eperm},
	{"ioperm is denied", "ioperm", nil, eperm},
	{"swapon is denied", "swapon", nil, eperm},
	{"swapoff is denied", "swapoff", nil, eperm},
	{"reboot is denied", "reboot", nil, eperm},
	{"acct is denied", "acct", nil, eperm},
	{"settimeofday is denied", "settimeofday", nil, eperm},
	{"clock_settime is denied", "clock_settime", nil, eperm},
	{"clock_adjtime is denied", "clock_adjtime", nil, eperm},
	{"adjtimex is denied", "adjtimex", nil, eperm},
	{"clock_gettime is allowed", "clock_gettime", nil, Allow},
	{"quotactl is denied", "quotactl", nil, eperm},
	{"quotactl_fd is denied", "quotactl_fd", nil, eperm},
	{"open_by_handle_at is denied", "open_by_handle_at", nil, eperm},
	{"name_to_handle_at is denied", "name_to_handle_at", nil, eperm},
	{"ptrace is denied", "ptrace", nil, eperm},
	{"process_vm_readv is denied", "process_vm_readv", nil, eperm},
	{"process_vm_writev is denied", "process_vm_writev", nil, eperm},
	{"pidfd_getfd is denied", "pidfd_getfd", nil, eperm},
	{"lookup_dcookie is denied", "lookup_dcookie", nil, eperm},
	{"nfsservctl is denied", "nfsservctl", nil, eperm},
	{"uselib is denied", "uselib", nil, eperm},
	{"ustat is denied", "ustat", nil, eperm},
	{"sysfs is denied", "sysfs", nil, eperm},
	{"_sysctl is denied", "_sysctl", nil, eperm},
	{"modify_ldt is denied", "modify_ldt", nil, eperm},
	{"personality(PER_LINUX) is allowed", "personality", []uint64{0}, Allow},
	{"personality query is allowed", "personality", []uint64{0xffffffff}, Allow},
	{"personality query with high garbage is allowed", "personality", []uint64{0xabc<<32 | 0xffffffff}, Allow},
	{"personality(PER_LINUX32) is denied", "personality", []uint64{0x0008}, eperm},
	{"personality(ADDR_NO_RANDOMIZE) is denied", "personality", []uint64{0x0040000}, eperm},
	{"ioctl TIOCSTI is denied", "ioctl", []uint64{0, unix.TIOCSTI}, eperm},
	{"ioctl TIOCSTI with high bits set is denied (CVE-2019-10063)", "ioctl", []uint64{0, 0x123<<32 | unix.TIOCSTI}, eperm},
	{"ioctl TIOCLINUX is denied", "ioctl", []uint64{0, unix.TIOCLINUX}, eperm},
	{"ioctl TIOCLINUX with high bits set is denied", "ioctl", []uint64{0, 0xffffffff<<32 | unix.TIOCLINUX}, eperm},
	{"ioctl TIOCSETD is denied", "ioctl", []uint64{0, unix.TIOCSETD}, eperm},
	{"ioctl TCGETS is allowed", "ioctl", []uint64{0, unix.TCGETS}, Allow},
	{"ioctl TIOCGWINSZ is allowed", "ioctl", []uint64{1, unix.TIOCGWINSZ}, Allow},
	{"socket AF_PACKET is allowed without address families", "socket", []uint64{unix.AF_PACKET, unix.SOCK_RAW}, Allow},
	{"setns is allowed", "setns", nil, Allow},
	{"seccomp is allowed (filters only stack)", "seccomp", nil, Allow},
	{"uretprobe is allowed", "uretprobe", nil, Allow},
}

func TestDefaultPolicyVerdicts(t *testing.T) {
	for _, arch := range testArchs {
		prog := mustBuild(t, Config{Mode: "default", Arch: arch})
		a, _ := lookupArch(arch)
		for _, tc := range defaultCases {
			t.Run(arch+"/"+tc.name, func(t *testing.T) {
				if _, ok := a.nrs[tc.call]; !ok {
					t.Skipf("%s does not exist on %s", tc.call, arch)
				}
				if got := eval(t, prog, arch, tc.call, tc.args...); got != tc.want {
					t.Errorf("%s(%#x) = %v, want %v", tc.call, tc.args, got, tc.want)
				}
			})
		}
	}
}

// TestFilterPrologue pins what happens before the per-call rules: foreign
// architectures are killed, x32 calls fail, numbers beyond the tables fail
// with ENOSYS under the default policy and get the default elsewhere.
func TestFilterPrologue(t *testing.T) {
	cases := []struct {
		name string
		arch string
		mode string
		data seccompData
		want Action
	}{
		{"i386 call on x86_64 kills", "x86_64", "default", seccompData{nr: 0, arch: unix.AUDIT_ARCH_I386}, Action{Kind: ActKillProcess}},
		{"aarch64 call on x86_64 kills", "x86_64", "default", seccompData{nr: 63, arch: unix.AUDIT_ARCH_AARCH64}, Action{Kind: ActKillProcess}},
		{"arm call on aarch64 kills", "aarch64", "default", seccompData{nr: 3, arch: unix.AUDIT_ARCH_ARM}, Action{Kind: ActKillProcess}},
		{"x86_64 call on aarch64 kills", "aarch64", "default", seccompData{nr: 0, arch: unix.AUDIT_ARCH_X86_64}, Action{Kind: ActKillProcess}},
		{"x32 read is refused", "x86_64", "default", seccompData{nr: x32SyscallBit, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"x32 mount is refused", "x86_64", "default", seccompData{nr: x32SyscallBit | 165, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"x32 bit refused even with the none+deny policy", "x86_64", "none", seccompData{nr: x32SyscallBit | 1, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"number past the table is ENOSYS (x86_64)", "x86_64", "default", seccompData{nr: 1000, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"number past the table is ENOSYS (aarch64)", "aarch64", "default", seccompData{nr: 1000, arch: unix.AUDIT_ARCH_AARCH64}, enosys},
		{"huge number is ENOSYS (aarch64)", "aarch64", "default", seccompData{nr: 0xffffffff, arch: unix.AUDIT_ARCH_AARCH64}, enosys},
		{"unused number inside the table is ENOSYS", "x86_64", "default", seccompData{nr: 400, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"number past the table gets the default without an unknown line", "x86_64", "none", seccompData{nr: 1000, arch: unix.AUDIT_ARCH_X86_64}, Allow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prog := mustBuild(t, Config{Mode: tc.mode, Arch: tc.arch, Deny: []string{"ptrace"}})
			ret, err := runBPF(prog, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := verdict(ret); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigOptions(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		call string
		args []uint64
		want Action
	}{
		{"AllowUserns allows clone with CLONE_NEWUSER", Config{AllowUserns: true}, "clone", []uint64{unix.CLONE_NEWUSER | sigchld}, Allow},
		{"AllowUserns allows unshare CLONE_NEWUSER", Config{AllowUserns: true}, "unshare", []uint64{unix.CLONE_NEWUSER}, Allow},
		{"AllowUserns still refuses clone3", Config{AllowUserns: true}, "clone3", nil, enosys},
		{"address families deny AF_PACKET", Config{AddressFamilies: []string{"unix", "inet"}}, "socket", []uint64{unix.AF_PACKET, unix.SOCK_RAW}, eafnosupport},
		{"address families allow AF_UNIX", Config{AddressFamilies: []string{"unix", "inet"}}, "socket", []uint64{unix.AF_UNIX, unix.SOCK_STREAM}, Allow},
		{"address families allow AF_INET", Config{AddressFamilies: []string{"unix", "inet"}}, "socket", []uint64{unix.AF_INET, unix.SOCK_DGRAM}, Allow},
		{"address families deny AF_INET6", Config{AddressFamilies: []string{"unix", "inet"}}, "socket", []uint64{unix.AF_INET6, unix.SOCK_DGRAM}, eafnosupport},
		{"address families compare the low 32 bits", Config{AddressFamilies: []string{"unix"}}, "socket", []uint64{1<<32 | unix.AF_UNIX}, Allow},
		{"address families accept AF_ spelling and commas", Config{AddressFamilies: []string{"AF_UNIX,AF_NETLINK"}}, "socket", []uint64{unix.AF_NETLINK}, Allow},
		{"address families apply to socketpair", Config{AddressFamilies: []string{"inet"}}, "socketpair", []uint64{unix.AF_UNIX}, eafnosupport},
		{"address families apply under mode none", Config{Mode: "none", AddressFamilies: []string{"unix"}}, "socket", []uint64{unix.AF_INET}, eafnosupport},
		{"--seccomp-allow lifts a default denial", Config{Allow: []string{"ptrace"}}, "ptrace", nil, Allow},
		{"--seccomp-allow @mount lifts mount", Config{Allow: []string{"@mount"}}, "mount", nil, Allow},
		{"--seccomp-deny adds a denial", Config{Deny: []string{"uname"}}, "uname", nil, eperm},
		{"--seccomp-deny beats --seccomp-allow", Config{Allow: []string{"uname"}, Deny: []string{"uname"}}, "uname", nil, eperm},
		{"--seccomp-deny group under mode none", Config{Mode: "none", Deny: []string{"@swap"}}, "swapon", nil, eperm},
		{"mode none with a deny list leaves others allowed", Config{Mode: "none", Deny: []string{"@swap"}}, "mount", nil, Allow},
		{"file policy", Config{Mode: "file", File: "default errno EACCES\nallow @default @basic-io\n"}, "uname", nil, Errno(unix.EACCES)},
		{"file policy allow list", Config{Mode: "file", File: "default errno EACCES\nallow @default @basic-io\n"}, "read", nil, Allow},
		{"file policy without userns rule allows CLONE_NEWUSER", Config{Mode: "file", File: "default allow\n"}, "unshare", []uint64{unix.CLONE_NEWUSER}, Allow},
	}
	for _, arch := range testArchs {
		for _, tc := range cases {
			t.Run(arch+"/"+tc.name, func(t *testing.T) {
				c := tc.cfg
				c.Arch = arch
				prog := mustBuild(t, c)
				if got := eval(t, prog, arch, tc.call, tc.args...); got != tc.want {
					t.Errorf("%s(%#x) = %v, want %v", tc.call, tc.args, got, tc.want)
				}
			})
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown mode", Config{Mode: "strict"}, `unknown seccomp mode "strict": want default, none or a policy file`},
		{"unknown allow name", Config{Allow: []string{"mountt"}}, `--seccomp-allow: unknown syscall "mountt"`},
		{"unknown deny group", Config{Deny: []string{"@mnt"}}, `--seccomp-deny: unknown group "@mnt" (see docs/seccomp.md for the list)`},
		{"group without @", Config{Deny: []string{"mount"}, Allow: []string{"keyring"}}, `--seccomp-allow: unknown syscall "keyring" (the group is spelled "@keyring")`},
		{"unknown address family", Config{AddressFamilies: []string{"unix", "ipv4"}}, `--restrict-address-families: unknown address family "ipv4" (known: unix, inet, inet6, netlink, packet, ...; see docs/seccomp.md)`},
		{"empty address family", Config{AddressFamilies: []string{"unix,"}}, `--restrict-address-families: empty family name`},
		{"bad file", Config{Mode: "file", File: "default allow\ndeny mountt\n"}, `seccomp policy: line 2: unknown syscall "mountt"`},
		{"unsupported arch", Config{Arch: "riscv64"}, `seccomp: unsupported architecture "riscv64" (supported: x86_64, aarch64)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Build error = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestBuildNoneIsNil(t *testing.T) {
	f, err := Build(Config{Mode: "none", AllowUserns: true})
	if err != nil || f != nil {
		t.Fatalf("Build(none) = %d instructions, %v; want nil, nil", len(f), err)
	}
}

// TestDefaultProgramLength keeps the default filter short: every system call
// runs it (except those the kernel's action cache resolves).
func TestDefaultProgramLength(t *testing.T) {
	for _, arch := range testArchs {
		prog := mustBuild(t, Config{Arch: arch})
		a, _ := lookupArch(arch)
		most := 0
		for nr := 0; nr <= a.maxNr+1; nr++ {
			_, steps, err := runBPFSteps(prog, seccompData{nr: uint32(nr), arch: a.audit})
			if err != nil {
				t.Fatal(err)
			}
			most = max(most, steps)
		}
		t.Logf("%s: default policy compiles to %d instructions; a call runs at most %d", arch, len(prog), most)
		if most > 20 {
			t.Errorf("%s: a call runs %d instructions, want at most 20", arch, most)
		}
		// Installing a filter costs the kernel time per instruction (it
		// converts, checks and JIT-compiles each) in every sandbox: leaves
		// share their returns, which keeps the program near 90.
		if len(prog) > 110 {
			t.Errorf("%s: default program has %d instructions, want at most 110", arch, len(prog))
		}
	}
}
