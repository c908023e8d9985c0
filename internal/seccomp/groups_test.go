package seccomp

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRequiredGroupsExist(t *testing.T) {
	for _, g := range []string{"@system-service", "@mount", "@privileged", "@debug", "@module",
		"@reboot", "@swap", "@raw-io", "@clock", "@keyring", "@obsolete", "@cpu-emulation", "@default-deny"} {
		if len(Groups()[g]) == 0 {
			t.Errorf("group %s missing or empty", g)
		}
	}
}

// TestGroupMembersAreKnown keeps the definitions free of typos and of calls
// that exist on no architecture in our tables.
func TestGroupMembersAreKnown(t *testing.T) {
	for g, members := range groupDefs() {
		for _, m := range members {
			if _, err := expandName(m); err != nil {
				t.Errorf("%s: %v", g, err)
			}
		}
		if !slices.IsSorted(members) && g != "@default-deny" {
			t.Errorf("%s: members are not sorted", g)
		}
	}
}

func TestGroupExpansion(t *testing.T) {
	cases := []struct {
		name     string
		group    string
		contains []string
		excludes []string
	}{
		{"@mount covers old and new mount API", "@mount", []string{"mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr"}, []string{"read"}},
		{"@privileged includes nested groups", "@privileged", []string{"chown", "settimeofday", "init_module", "iopl", "reboot", "swapon", "bpf", "acct"}, []string{"ptrace"}},
		{"@system-service includes its subgroups", "@system-service", []string{"read", "openat", "socket", "clone", "execve", "ioctl", "futex"}, []string{"mount", "bpf", "ptrace", "reboot", "init_module", "swapon", "iopl"}},
		{"@debug", "@debug", []string{"ptrace", "perf_event_open", "lookup_dcookie"}, nil},
		{"@keyring", "@keyring", []string{"add_key", "keyctl", "request_key"}, nil},
		{"@reboot", "@reboot", []string{"kexec_load", "kexec_file_load", "reboot"}, nil},
		{"@clock", "@clock", []string{"settimeofday", "clock_settime", "clock_adjtime", "adjtimex"}, []string{"clock_gettime"}},
		{"@obsolete", "@obsolete", []string{"_sysctl", "uselib", "ustat", "sysfs"}, nil},
		{"@cpu-emulation", "@cpu-emulation", []string{"modify_ldt", "vm86"}, nil},
		{"@default-deny covers the default policy's list", "@default-deny", []string{"mount", "io_uring_setup", "userfaultfd", "bpf", "keyctl", "kexec_load", "init_module", "iopl", "swapon", "reboot", "acct", "settimeofday", "quotactl", "quotactl_fd", "open_by_handle_at", "name_to_handle_at", "ptrace", "process_vm_readv", "process_vm_writev", "lookup_dcookie", "vm86", "nfsservctl", "uselib", "ustat", "_sysctl"}, []string{"clone3", "clone", "ioctl", "personality", "unshare"}},
	}
	groups := Groups()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			members := groups[tc.group]
			for _, c := range tc.contains {
				if !slices.Contains(members, c) {
					t.Errorf("%s lacks %s", tc.group, c)
				}
			}
			for _, c := range tc.excludes {
				if slices.Contains(members, c) {
					t.Errorf("%s contains %s", tc.group, c)
				}
			}
			if !slices.IsSorted(members) || len(slices.Compact(slices.Clone(members))) != len(members) {
				t.Errorf("%s: expansion not sorted and unique", tc.group)
			}
		})
	}
}

func TestGroupsReturnsACopy(t *testing.T) {
	g := Groups()
	g["@mount"][0] = "changed"
	delete(g, "@swap")
	if h := Groups(); h["@mount"][0] == "changed" || h["@swap"] == nil {
		t.Error("Groups shares state between calls")
	}
}

func TestNamedValuesMatchUnix(t *testing.T) {
	want := map[string]uint64{
		"TCGETS": unix.TCGETS, "TIOCSTI": unix.TIOCSTI, "TIOCLINUX": unix.TIOCLINUX,
		"TIOCSETD": unix.TIOCSETD, "TIOCGWINSZ": unix.TIOCGWINSZ, "TIOCCONS": unix.TIOCCONS,
		"TIOCSCTTY": unix.TIOCSCTTY, "TCSETS": unix.TCSETS, "TIOCGETD": unix.TIOCGETD,
		"TIOCGPGRP": unix.TIOCGPGRP, "TIOCSPGRP": unix.TIOCSPGRP, "TIOCSWINSZ": unix.TIOCSWINSZ,
		"CLONE_NEWUSER": unix.CLONE_NEWUSER, "CLONE_NEWNS": unix.CLONE_NEWNS,
		"CLONE_NEWPID": unix.CLONE_NEWPID, "CLONE_NEWNET": unix.CLONE_NEWNET,
		"CLONE_NEWUTS": unix.CLONE_NEWUTS, "CLONE_NEWIPC": unix.CLONE_NEWIPC,
		"CLONE_NEWCGROUP": unix.CLONE_NEWCGROUP, "CLONE_NEWTIME": unix.CLONE_NEWTIME,
		"CLONE_THREAD": unix.CLONE_THREAD, "CLONE_VM": unix.CLONE_VM, "CLONE_PIDFD": unix.CLONE_PIDFD,
		"CLONE_VFORK": unix.CLONE_VFORK, "CLONE_IO": unix.CLONE_IO, "CLONE_SETTLS": unix.CLONE_SETTLS,
		"SOCK_RAW": unix.SOCK_RAW, "SOCK_STREAM": unix.SOCK_STREAM, "SOCK_DGRAM": unix.SOCK_DGRAM,
		"SOCK_SEQPACKET": unix.SOCK_SEQPACKET,
	}
	for name, v := range want {
		if namedValues()[name] != v {
			t.Errorf("%s = %#x, unix says %#x", name, namedValues()[name], v)
		}
	}
	fams := map[string]uint64{"unix": unix.AF_UNIX, "inet": unix.AF_INET, "inet6": unix.AF_INET6,
		"netlink": unix.AF_NETLINK, "packet": unix.AF_PACKET, "alg": unix.AF_ALG, "vsock": unix.AF_VSOCK,
		"xdp": unix.AF_XDP, "bluetooth": unix.AF_BLUETOOTH, "can": unix.AF_CAN, "key": unix.AF_KEY,
		"tipc": unix.AF_TIPC, "rds": unix.AF_RDS, "kcm": unix.AF_KCM, "smc": unix.AF_SMC,
		"mctp": unix.AF_MCTP, "qipcrtr": unix.AF_QIPCRTR, "x25": unix.AF_X25, "ax25": unix.AF_AX25}
	for name, v := range fams {
		if addressFamilies()[name] != v {
			t.Errorf("AF %s = %d, unix says %d", name, addressFamilies()[name], v)
		}
	}
}

func TestErrnoNamesMatchUnix(t *testing.T) {
	for name, n := range errnoNames() {
		switch name {
		case "EWOULDBLOCK", "EDEADLOCK", "EOPNOTSUPP", "ENOTSUP":
			continue
		}
		if got := unix.ErrnoName(unix.Errno(n)); got != name {
			t.Errorf("errno %d: table says %s, unix says %s", n, name, got)
		}
	}
	for _, tc := range []struct {
		name string
		want unix.Errno
	}{{"EPERM", unix.EPERM}, {"ENOSYS", unix.ENOSYS}, {"EAFNOSUPPORT", unix.EAFNOSUPPORT},
		{"EWOULDBLOCK", unix.EWOULDBLOCK}, {"EOPNOTSUPP", unix.EOPNOTSUPP}, {"EACCES", unix.EACCES}} {
		if n, err := parseErrno(tc.name); err != nil || unix.Errno(n) != tc.want {
			t.Errorf("parseErrno(%s) = %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
}

func TestArchTables(t *testing.T) {
	for _, tc := range []struct {
		arch  string
		calls map[string]int
	}{
		{"x86_64", map[string]int{"read": 0, "ioctl": 16, "mount": 165, "clone3": 435, "ptrace": 101}},
		{"aarch64", map[string]int{"read": 63, "ioctl": 29, "mount": 40, "clone3": 435, "ptrace": 117}},
	} {
		a, err := lookupArch(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		for name, nr := range tc.calls {
			if a.nrs[name] != nr {
				t.Errorf("%s: %s = %d, want %d", tc.arch, name, a.nrs[name], nr)
			}
		}
	}
	if a, err := lookupArch(""); err == nil {
		if want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}; a.name != want[goarch()] {
			t.Errorf("running arch resolved to %s", a.name)
		}
	}
}
