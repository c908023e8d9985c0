package escape

import (
	"os"
	"strconv"
	"testing"
)

// Attacks that come down to one system call the default policy must refuse.
// Each table row: the probe's try-syscall name, args, and the errno the
// default sandbox must return.

func trySyscalls(t *testing.T, num int, rows [][3]string) {
	t.Helper()
	forUsers(t, func(t *testing.T, u runAs) {
		for _, row := range rows {
			args := []string{"try-syscall", row[0]}
			if row[1] != "" {
				args = append(args, row[1])
			}
			r := run(t, u, nil, args...)
			r.want(t, row[0], row[2])
		}
	})
}

func TestEscape14NewMountAPIAndClone3(t *testing.T) {
	attack(t, 14, "new mount API, clone3")
	trySyscalls(t, 14, [][3]string{
		{"fsopen", "proc", "EPERM"}, {"fsconfig", "", "EPERM"}, {"fsmount", "", "EPERM"}, {"fspick", "", "EPERM"},
		{"open_tree", "", "EPERM"}, {"move_mount", "", "EPERM"}, {"mount_setattr", "", "EPERM"},
		// ENOSYS, so that libc falls back to clone(2), whose flags the filter sees.
		{"clone3", "", "ENOSYS"},
	})
}

func TestEscape15IoUring(t *testing.T) {
	attack(t, 15, "io_uring_setup")
	trySyscalls(t, 15, [][3]string{{"io_uring_setup", "", "EPERM"}})
}

func TestEscape16Userfaultfd(t *testing.T) {
	attack(t, 16, "userfaultfd")
	// /dev/userfaultfd is not part of the minimal /dev.
	trySyscalls(t, 16, [][3]string{{"userfaultfd", "", "EPERM"}, {"dev-userfaultfd", "", "ENOENT"}})
}

func TestEscape17KernelSurface(t *testing.T) {
	attack(t, 17, "perf, bpf, kexec, modules, raw I/O, swap, reboot, acct, clock, quota")
	var rows [][3]string
	for _, n := range []string{"perf_event_open", "bpf", "kexec_load", "kexec_file_load", "init_module", "finit_module",
		"delete_module", "iopl", "ioperm", "swapon", "swapoff", "reboot", "acct", "settimeofday", "clock_settime",
		"adjtimex", "quotactl", "modify_ldt", "uselib"} {
		rows = append(rows, [3]string{n, "", "EPERM"})
	}
	trySyscalls(t, 17, rows)
}

func TestEscape18Keyrings(t *testing.T) {
	attack(t, 18, "keyctl, add_key")
	// Keyrings are not namespaced: the sandbox must not reach the host's
	// session keyring, so the whole keyring API is refused.
	trySyscalls(t, 18, [][3]string{{"keyctl", "", "EPERM"}, {"add_key", "", "EPERM"}, {"request_key", "", "EPERM"}})
}

func TestEscape19OpenByHandle(t *testing.T) {
	attack(t, 19, "open_by_handle_at (Shocker)")
	trySyscalls(t, 19, [][3]string{{"open_by_handle_at", "", "EPERM"}, {"name_to_handle_at", "", "EPERM"}})
}

func TestEscape09PtraceSetup(t *testing.T) {
	attack(t, 9, "ptrace / process_vm_readv of pid 1")
	forUsers(t, func(t *testing.T, u runAs) {
		// Default policy: refused by the filter.
		run(t, u, nil, "try-syscall", "ptrace", "1").want(t, "ptrace", "EPERM")
		run(t, u, nil, "try-syscall", "process_vm_readv", "1").want(t, "process_vm_readv", "EPERM")
		// With the filter opened, pid 1 (cove's init) is still non-dumpable.
		open := []string{"--seccomp-allow", "ptrace", "--seccomp-allow", "process_vm_readv"}
		run(t, u, open, "try-syscall", "ptrace", "1").want(t, "ptrace", "EPERM")
		run(t, u, open, "try-syscall", "process_vm_readv", "1").want(t, "process_vm_readv", "EPERM")
		// Even as root inside (--map-root).
		open = append(open, "--map-root")
		run(t, u, open, "try-syscall", "ptrace", "1").want(t, "ptrace", "EPERM")
		run(t, u, open, "try-syscall", "process_vm_readv", "1").want(t, "process_vm_readv", "EPERM")
	})
}

func TestEscape10LockedMounts(t *testing.T) {
	attack(t, 10, "remount rw, umount, bind /")
	forUsers(t, func(t *testing.T, u runAs) {
		r := run(t, u, nil, "mounts")
		r.want(t, "remount_rw_usr", "EPERM", "remount_rw_root", "EPERM", "umount_usr", "EPERM",
			"umount_proc", "EPERM", "bind_root", "EPERM", "rbind_root", "EPERM", "write_usr", "EROFS")
	})
}

func TestEscape11NestedUserns(t *testing.T) {
	attack(t, 11, "unshare -Ur, then #10")
	forUsers(t, func(t *testing.T, u runAs) {
		// Default: no nested user namespace, by unshare or by clone.
		run(t, u, nil, "try-syscall", "unshare", "user").want(t, "unshare", "EPERM")
		r := run(t, u, nil, "userns", "--ns", "mnt", "mounts")
		r.want(t, "userns", "EPERM")
		// --allow-userns: the namespace exists, mounts are still filtered.
		r = run(t, u, []string{"--allow-userns"}, "userns", "--ns", "mnt", "mounts")
		r.want(t, "userns", "OK", "remount_rw_usr", "EPERM", "umount_usr", "EPERM", "bind_root", "EPERM", "write_usr", "EROFS")
		// --allow-userns --seccomp-allow @mount: only the kernel's locked
		// mounts stand in the way. The read-only flag cannot be cleared,
		// locked mounts cannot be unmounted or bound without their children,
		// and a recursive bind keeps /usr read-only.
		r = run(t, u, []string{"--allow-userns", "--seccomp-allow", "@mount"}, "userns", "--ns", "mnt", "mounts")
		r.want(t, "userns", "OK", "remount_rw_usr", "EPERM", "remount_rw_root", "EPERM", "umount_usr", "EINVAL",
			"umount_proc", "EINVAL", "bind_root", "EINVAL", "write_usr_via_bind", "EROFS", "write_usr", "EROFS")
	})
}

func TestEscape12CgroupReleaseAgent(t *testing.T) {
	attack(t, 12, "unshare -UrmC + cgroup v1 release_agent")
	forUsers(t, func(t *testing.T, u runAs) {
		run(t, u, nil, "userns", "--ns", "mnt,cgroup", "cgroup-v1").want(t, "userns", "EPERM")
		r := run(t, u, []string{"--allow-userns"}, "userns", "--ns", "mnt,cgroup", "cgroup-v1")
		r.want(t, "userns", "OK", "any_mounted", "false")
		// With mounts allowed the kernel may mount a v1 hierarchy, but
		// release_agent and notify_on_release stay out of reach
		// (CVE-2022-0492 fix: they need CAP_SYS_ADMIN in the initial userns).
		r = run(t, u, []string{"--allow-userns", "--seccomp-allow", "@mount"}, "userns", "--ns", "mnt,cgroup", "cgroup-v1")
		r.want(t, "userns", "OK")
		for _, c := range []string{"rdma", "memory", "pids", "cpu"} {
			if r.get(t, "mount_"+c) == "OK" {
				r.want(t, "release_agent_"+c, "EACCES")
			}
		}
	})
}

func TestEscape13OverlaySuid(t *testing.T) {
	attack(t, 13, "overlay in nested userns with a setuid-root lower file")
	if probeSU == "" {
		skip(t, 13, "needs root to create a setuid-root file")
	}
	forUsers(t, func(t *testing.T, u runAs) {
		args := []string{"userns", "--ns", "mnt", "overlay-suid", binDir, "probe-suid"}
		run(t, u, nil, args...).want(t, "userns", "EPERM")
		run(t, u, []string{"--allow-userns"}, args...).want(t, "userns", "OK", "mount_overlay", "EPERM")
		r := run(t, u, []string{"--allow-userns", "--seccomp-allow", "@mount"}, args...)
		r.want(t, "userns", "OK")
		if r.get(t, "mount_overlay") == "OK" {
			// The setuid bit of the host-root-owned file gives nothing: the
			// exec'd copy runs with the caller's ids (0 in the nested userns,
			// which maps to the sandbox's unprivileged id).
			r.want(t, "exec_suid", "OK", "NoNewPrivs", "1")
			if r.get(t, "euid") != r.get(t, "uid") {
				t.Errorf("euid %s != uid %s after exec of a setuid file through overlay", r.get(t, "euid"), r.get(t, "uid"))
			}
		}
	})
}

func TestEscape21Caps(t *testing.T) {
	attack(t, 21, "/proc/self/status capabilities")
	forUsers(t, func(t *testing.T, u runAs) {
		r := run(t, u, nil, "caps")
		zero := "0000000000000000"
		r.want(t, "CapInh", zero, "CapPrm", zero, "CapEff", zero, "CapBnd", zero, "CapAmb", zero,
			"NoNewPrivs", "1", "Seccomp", "2")
		id := strconv.Itoa(u.sandboxUID())
		if r.get(t, "Uid") != id+","+id+","+id+","+id {
			t.Errorf("Uid %s, want all %s", r.get(t, "Uid"), id)
		}
	})
}

func TestEscape22FilterStacking(t *testing.T) {
	attack(t, 22, "clear NNP, stack allow-all filter, clear pdeathsig")
	forUsers(t, func(t *testing.T, u runAs) {
		r := run(t, u, nil, "nnp-clear")
		r.want(t, "nnp_clear", "EINVAL", "nnp", "1:OK", "seccomp_allow_all", "OK",
			"after_keyctl", "EPERM", "after_mount", "EPERM", "after_bpf", "EPERM",
			"seccomp_disable", "EINVAL", "Seccomp", "2", "Seccomp_filters", "2", "NoNewPrivs", "1",
			"pdeathsig_clear", "OK")
		// That such a program still dies with the sandbox is #31's test.
	})
}

func TestEscape20SetuidFilecaps(t *testing.T) {
	attack(t, 20, "setuid-root and file-caps binaries")
	if probeSU == "" {
		skip(t, 20, "needs root to create setuid/file-caps binaries")
	}
	forUsers(t, func(t *testing.T, u runAs) {
		id := strconv.Itoa(u.sandboxUID())
		zero := "0000000000000000"
		for _, bin := range []string{probeSU, probeCap} {
			if bin == "" {
				t.Log("setcap unavailable: file-caps case not run")
				continue
			}
			r := runBin(t, u, nil, bin, "whoami")
			r.want(t, "uid", id, "euid", id, "CapEff", zero, "CapPrm", zero, "NoNewPrivs", "1")
		}
		// The real su: no root from it either.
		if _, err := os.Stat("/usr/bin/su"); err == nil {
			r := runBin(t, u, nil, "/usr/bin/su", "-c", "echo uid=$(id -u)", "root")
			if r.code == 0 || r.kv["uid"] == "0" {
				t.Errorf("su inside the sandbox: exit %d, output %q", r.code, r.stdout)
			}
		}
	})
}
