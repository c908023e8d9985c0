package spec

// Default returns the built-in default sandbox (profile "default"), the one
// `cove run -- CMD` uses with no other flags:
//
//   - new user, mount, pid, ipc, uts, net and cgroup namespaces;
//   - the caller's ids mapped to themselves (a root caller runs as NobodyID);
//   - a fresh root holding /usr and /etc read-only (nosuid, nodev), /bin, /sbin
//     and /lib* mirrored from the host, private tmpfs /tmp and $HOME, a new
//     /proc and a minimal /dev;
//   - loopback-only networking, hostname "cove";
//   - no capabilities, no_new_privs, the default seccomp policy;
//   - RLIMIT_CORE 0;
//   - the program and everything it started die when cove does.
//
// Each call returns a new value that the caller may change.
func Default() *Spec {
	return &Spec{
		Namespaces: Namespaces{User: true, Mount: true, PID: true, IPC: true, UTS: true, Net: true, Cgroup: true},
		Filesystem: []Mount{
			{Type: ROBind, Src: "/usr", Dst: "/usr"},
			{Type: Mirror, Src: "/bin", Dst: "/bin"},
			{Type: Mirror, Src: "/sbin", Dst: "/sbin"},
			{Type: Mirror, Src: "/lib", Dst: "/lib"},
			{Type: Mirror, Src: "/lib32", Dst: "/lib32"},
			{Type: Mirror, Src: "/lib64", Dst: "/lib64"},
			{Type: Mirror, Src: "/libx32", Dst: "/libx32"},
			{Type: ROBind, Src: "/etc", Dst: "/etc"},
			{Type: Proc, Dst: "/proc"},
			{Type: Dev, Dst: "/dev"},
			{Type: Tmpfs, Dst: "/tmp", Mode: 01777},
			{Type: Tmpfs, Dst: "~", Mode: 0700},
		},
		Hostname: "cove",
		Cwd:      "~",
		Security: Security{Seccomp: Seccomp{Policy: "default"}},
		Rlimits:  []Rlimit{{Name: "core", Soft: 0, Hard: 0}},
	}
}

// Minimal returns profile "minimal": the default namespaces and protections, but
// a root holding only /usr (with the /bin, /lib* mirrors), /proc, /dev and /tmp:
// no /etc and no home directory.
func Minimal() *Spec {
	s := Default()
	fs := s.Filesystem[:0]
	for _, m := range s.Filesystem {
		if m.Dst == "/etc" || m.Dst == "~" {
			continue
		}
		fs = append(fs, m)
	}
	s.Filesystem = fs
	s.Cwd = "/"
	return s
}

// NoNamespaces returns profile "no-namespaces", for hosts where user
// namespaces are unavailable (an AppArmor restriction, some containers): no
// namespace at all, and Landlock confines the file system instead — the
// system directories executable, /etc read-only, /tmp and /dev (for
// /dev/null and the terminal) writable — with no_new_privs and the default
// seccomp policy as in the default sandbox. There is no PID namespace: a
// process that leaves the program's session can outlive it.
func NoNamespaces() *Spec {
	return &Spec{
		Security: Security{
			Seccomp: Seccomp{Policy: "default"},
			Landlock: Landlock{
				Exec:        []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"},
				RO:          []string{"/etc", "/proc"},
				RW:          []string{"/tmp", "/dev"},
				SkipMissing: true,
			},
		},
		Rlimits: []Rlimit{{Name: "core", Soft: 0, Hard: 0}},
	}
}

// Isolate returns the environment of `cove isolate` (arachsys isolate):
// new network and IPC namespaces with lo up, plus a user namespace mapping
// the caller to itself when the caller is unprivileged (unprivileged is the
// caller's euid != 0; the engine decides). Nothing else changes: same files,
// same identity, no seccomp filter.
func Isolate(unprivileged bool) *Spec {
	return &Spec{
		Namespaces: Namespaces{User: unprivileged, Net: true, IPC: true},
		Security:   Security{Seccomp: Seccomp{Policy: "none"}, CapAdd: []string{"ALL"}},
	}
}

// Pseudo returns the environment of `cove pseudo` (arachsys pseudo, a
// fakeroot that works with static binaries): a user namespace only, in which
// the caller is root with every capability, and the ids delegated to it in
// /etc/subuid and /etc/subgid are mapped too.
func Pseudo() *Spec {
	return &Spec{
		Namespaces: Namespaces{User: true},
		IDs:        IDs{MapRoot: true, Delegated: true},
		Security:   Security{Seccomp: Seccomp{Policy: "none"}, CapAdd: []string{"ALL"}},
	}
}

// Builtin returns the built-in profile called name, or nil if there is none.
func Builtin(name string) *Spec {
	switch name {
	case "default":
		return Default()
	case "minimal":
		return Minimal()
	case "no-namespaces":
		return NoNamespaces()
	}
	return nil
}

// BuiltinNames lists the built-in profile names.
func BuiltinNames() []string { return []string{"default", "minimal", "no-namespaces"} }

// ContainOptions adjusts Contain.
type ContainOptions struct {
	// HostNet shares the host's network (no network namespace, no sysfs).
	HostNet bool
	// Hostname is the container's hostname ("" = "cove").
	Hostname string
}

// Contain returns the environment of `cove contain ROOTFS` (arachsys
// contain): rootfs, a host directory, becomes the root of new user, mount,
// PID, IPC, UTS, network (unless HostNet), cgroup and time namespaces. The
// caller is uid 0 inside, with the ids /etc/subuid and /etc/subgid delegate
// to it mapped at 1, 2, ... (host root is never mapped). The container gets
// a synthetic /dev, a new /proc, a read-only /sys and its cgroup2 hierarchy
// (where the kernel allows), an environment of just container=cove, and
// every capability of its user namespace, with no_new_privs and the default
// seccomp policy except that mounting is allowed.
func Contain(rootfs string, o ContainOptions) *Spec {
	s := &Spec{
		Namespaces: Namespaces{User: true, Mount: true, PID: true, IPC: true, UTS: true, Net: !o.HostNet, Cgroup: true, Time: true},
		IDs:        IDs{MapRoot: true, Delegated: true},
		Root:       rootfs,
		Filesystem: []Mount{
			{Type: Dev, Dst: "/dev"},
			{Type: Proc, Dst: "/proc"},
		},
		Hostname: o.Hostname,
		Env:      Env{Clear: true, Set: []EnvVar{{Name: "container", Value: "cove"}}},
		Cwd:      "/",
		// The container's root may mount (its own tmpfs, proc, bind
		// mounts: everything its user namespace allows), as in arachsys
		// contain; the rest of the default policy stays.
		Security: Security{Seccomp: Seccomp{Policy: "default", Allow: []string{"@mount"}}, CapAdd: []string{"ALL"}},
	}
	if s.Hostname == "" {
		s.Hostname = "cove"
	}
	if !o.HostNet {
		s.Filesystem = append(s.Filesystem,
			Mount{Type: Sysfs, Dst: "/sys", Optional: true},
			Mount{Type: Cgroup2, Dst: "/sys/fs/cgroup", Optional: true})
	}
	return s
}

// Inject returns the environment of `cove inject PID` (arachsys inject):
// the program joins every namespace of process pid, as uid and gid 0 of its
// user namespace with that namespace's capabilities, in "/", with
// no_new_privs and the default seccomp policy.
func Inject(pid int) *Spec {
	return &Spec{
		Join:     pid,
		Cwd:      "/",
		Security: Security{Seccomp: Seccomp{Policy: "default"}, CapAdd: []string{"ALL"}},
	}
}
