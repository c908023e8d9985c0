// Package spec describes, as plain data, the environment a cove program runs in.
//
// A Spec is what every cove front-end produces (command-line flags, profile files,
// the dive server, later OCI configs) and what the engine consumes. It makes no
// system calls: it can be built, validated, serialised to JSON or TOML and compared
// anywhere. The engine (package cove) turns a validated Spec into a running process.
//
// # Zero values
//
// A zero Spec is not a sandbox: it creates no namespaces and mounts nothing. Start
// from [Default] (the built-in sandbox described in docs/run.md) and change what you
// need:
//
//	s := spec.Default()
//	s.Filesystem = append(s.Filesystem, spec.Mount{Type: spec.Bind, Src: "/src", Dst: "/src"})
//	s.Namespaces.Net = false // share the host network
//
// Fields whose safe value is "on" are spelled so that their zero value is the safe
// one (AllowNewPrivs, not NoNewPrivs).
package spec

import "time"

// Spec is the complete description of one sandboxed program's environment.
type Spec struct {
	// Namespaces lists the namespaces to create.
	Namespaces Namespaces `json:"namespaces" toml:"namespaces"`
	// Join, when not 0, is a process whose namespaces the program joins
	// (every one that differs from the caller's, the user namespace first)
	// instead of creating any: cove inject. The program runs as IDs.UID and
	// IDs.GID there (default 0: the namespace's root), in "/". The caller
	// must own the process's user namespace.
	Join int `json:"join,omitempty" toml:"join"`
	// IDs chooses the identity of the program inside the user namespace and how
	// it maps to host ids.
	IDs IDs `json:"ids" toml:"ids"`
	// Root is a host directory that becomes the sandbox's root, bound
	// read-write (a container's root filesystem); "" means an empty tmpfs,
	// read-only once the Filesystem operations have run.
	Root string `json:"root,omitempty" toml:"root"`
	// Filesystem is the ordered list of operations that build the new root.
	// They run in order; a later operation may mount over an earlier one.
	Filesystem []Mount `json:"filesystem" toml:"filesystem"`
	// Hostname is set in the new UTS namespace ("" keeps the inherited name).
	Hostname string `json:"hostname,omitempty" toml:"hostname"`
	// Env is the program's environment, derived from the caller's.
	Env Env `json:"env" toml:"env"`
	// Cwd is the program's working directory inside the sandbox ("" = "/").
	Cwd string `json:"cwd,omitempty" toml:"cwd"`
	// Umask is the program's file mode creation mask (nil = inherit the caller's).
	Umask *uint32 `json:"umask,omitempty" toml:"umask"`
	// Security holds capabilities, no_new_privs, seccomp and Landlock settings.
	Security Security `json:"security" toml:"security"`
	// Rlimits are applied to the program, in addition to the engine's own
	// defaults (RLIMIT_CORE 0 in the default profile).
	Rlimits []Rlimit `json:"rlimits,omitempty" toml:"rlimits"`
	// Nice is the program's nice value (nil = inherit). Lowering it below
	// the caller's needs CAP_SYS_NICE or RLIMIT_NICE.
	Nice *int `json:"nice,omitempty" toml:"nice"`
	// OOMScoreAdj is written to the program's /proc/self/oom_score_adj
	// (nil = inherit; -1000..1000; lowering it needs CAP_SYS_RESOURCE).
	OOMScoreAdj *int `json:"oom_score_adj,omitempty" toml:"oom_score_adj"`
	// Lifecycle controls time limits and cleanup.
	Lifecycle Lifecycle `json:"lifecycle" toml:"lifecycle"`
	// Hooks are shell commands run while the sandbox is set up.
	Hooks Hooks `json:"hooks" toml:"hooks"`
}

// Hooks are /bin/sh -c commands run during setup; one failing (non-zero
// exit) fails the start.
type Hooks struct {
	// Inside hooks run in the new namespaces after the filesystem
	// operations and before the pivot, as root inside, with the new root as
	// working directory and the host's root as root: bind more host paths
	// with mount(8).
	Inside []string `json:"inside,omitempty" toml:"inside"`
	// Outside hooks run outside, with the caller's privileges, once the
	// namespaces exist and before anything is mounted; COVE_PID holds the
	// sandbox init's pid (move a network interface into its namespace).
	Outside []string `json:"outside,omitempty" toml:"outside"`
}

// Namespaces selects which namespaces are created for the program. A false field
// means the program shares that namespace with cove's caller.
type Namespaces struct {
	User   bool `json:"user" toml:"user"`
	Mount  bool `json:"mount" toml:"mount"`
	PID    bool `json:"pid" toml:"pid"`
	IPC    bool `json:"ipc" toml:"ipc"`
	UTS    bool `json:"uts" toml:"uts"`
	Net    bool `json:"net" toml:"net"`
	Cgroup bool `json:"cgroup" toml:"cgroup"`
	Time   bool `json:"time" toml:"time"`
}

// IDs chooses ids inside the user namespace.
//
// With all fields zero, the caller's uid and gid are mapped to themselves, except
// that a root caller is never mapped: its sandbox runs as NobodyID both inside
// and outside (see docs/run.md, "Identity").
type IDs struct {
	// UID and GID are the program's ids inside the sandbox (nil = the default
	// described above). The caller's outside id is mapped to them.
	UID *uint32 `json:"uid,omitempty" toml:"uid"`
	GID *uint32 `json:"gid,omitempty" toml:"gid"`
	// MapRoot maps the caller to uid 0 and gid 0 inside, like `unshare -r`. It
	// gives no capabilities: the bounding set is still empty.
	MapRoot bool `json:"map_root,omitempty" toml:"map_root"`
	// MapHostRoot allows a root caller's own id 0 to be the outside id of the
	// mapping. Without it a root caller is mapped from NobodyID.
	MapHostRoot bool `json:"map_host_root,omitempty" toml:"map_host_root"`
	// Delegated also maps the subordinate ids /etc/subuid and /etc/subgid
	// delegate to the caller (written by newuidmap/newgidmap) at inside ids
	// 1, 2, ...; inside 0 is then the caller. For a root caller it maps every
	// host id but 0 to itself and inside 0 to 4294967294. Without delegated
	// ranges only the caller's own id is mapped. Needs MapRoot.
	Delegated bool `json:"delegated,omitempty" toml:"delegated"`
	// UIDMap and GIDMap, when set, are explicit maps (inside, outside,
	// count) replacing the computed ones. They are checked against what the
	// caller may map: its own id and its delegated ranges (or anything but
	// host root for a root caller). The program runs as inside 0. Both or
	// neither.
	UIDMap []IDRange `json:"uid_map,omitempty" toml:"uid_map"`
	GIDMap []IDRange `json:"gid_map,omitempty" toml:"gid_map"`
}

// IDRange is one line of an id map.
type IDRange struct {
	Inside  uint32 `json:"inside" toml:"inside"`
	Outside uint32 `json:"outside" toml:"outside"`
	Count   uint32 `json:"count" toml:"count"`
}

// NobodyID is the unprivileged id a root caller's sandbox runs as by default.
const NobodyID = 65534

// Env describes how the program's environment is derived from the caller's:
// first Clear (start empty), then Unset, then Set in order.
type Env struct {
	Clear bool     `json:"clear,omitempty" toml:"clear"`
	Unset []string `json:"unset,omitempty" toml:"unset"`
	Set   []EnvVar `json:"set,omitempty" toml:"set"`
}

// EnvVar is one NAME=VALUE assignment.
type EnvVar struct {
	Name  string `json:"name" toml:"name"`
	Value string `json:"value" toml:"value"`
}

// Security groups the privilege-limiting settings the launcher applies last,
// in the order given in docs/architecture.md.
type Security struct {
	// AllowNewPrivs leaves no_new_privs clear. Only a root caller may set it.
	AllowNewPrivs bool `json:"allow_new_privs,omitempty" toml:"allow_new_privs"`
	// CapAdd and CapDrop name capabilities ("CAP_NET_BIND_SERVICE",
	// "net_bind_service", "ALL") to keep in, or remove from, the program's
	// bounding, permitted and effective sets. The default is no capabilities.
	CapAdd  []string `json:"cap_add,omitempty" toml:"cap_add"`
	CapDrop []string `json:"cap_drop,omitempty" toml:"cap_drop"`
	// CapAmbient names capabilities raised in the ambient (and therefore the
	// inheritable) set; they must also be kept by CapAdd.
	CapAmbient []string `json:"cap_ambient,omitempty" toml:"cap_ambient"`
	// Securebits names securebits to set; LockSecurebits locks every bit.
	Securebits     []string `json:"securebits,omitempty" toml:"securebits"`
	LockSecurebits bool     `json:"lock_securebits,omitempty" toml:"lock_securebits"`
	// Seccomp chooses the system-call filter.
	Seccomp Seccomp `json:"seccomp" toml:"seccomp"`
	// Landlock restricts file access to the listed paths (empty = no Landlock).
	Landlock Landlock `json:"landlock" toml:"landlock"`
}

// Seccomp chooses the system-call filter installed as the launcher's last step.
type Seccomp struct {
	// Policy is "default", "none", or the path of a policy file (docs/seccomp.md).
	Policy string `json:"policy,omitempty" toml:"policy"`
	// Allow and Deny add syscall names or @groups after the base policy.
	Allow []string `json:"allow,omitempty" toml:"allow"`
	Deny  []string `json:"deny,omitempty" toml:"deny"`
	// AllowUserns lets the program create nested user namespaces.
	AllowUserns bool `json:"allow_userns,omitempty" toml:"allow_userns"`
	// AddressFamilies, when non-empty, is the only socket families allowed.
	AddressFamilies []string `json:"address_families,omitempty" toml:"address_families"`
}

// Landlock lists paths (as seen inside the sandbox) the program may use.
type Landlock struct {
	RO   []string `json:"ro,omitempty" toml:"ro"`
	RW   []string `json:"rw,omitempty" toml:"rw"`
	Exec []string `json:"exec,omitempty" toml:"exec"`
	// SkipMissing ignores listed paths that do not exist (the built-in
	// lists name directories some systems lack); otherwise they are errors.
	SkipMissing bool `json:"skip_missing,omitempty" toml:"skip_missing"`
}

// Rlimit is one resource limit; Soft and Hard use RLIM_INFINITY for "unlimited".
type Rlimit struct {
	Name string `json:"name" toml:"name"`
	Soft uint64 `json:"soft" toml:"soft"`
	Hard uint64 `json:"hard" toml:"hard"`
}

// Unlimited is the value of an unlimited Rlimit bound (RLIM_INFINITY).
const Unlimited = ^uint64(0)

// Lifecycle controls how long the program may run and what cleans it up.
type Lifecycle struct {
	// Timeout kills the whole sandbox (SIGKILL) after this long; 0 = no limit.
	Timeout Duration `json:"timeout,omitempty" toml:"timeout"`
}

// Duration is a time.Duration that reads and writes as a Go duration string
// ("1.5s", "2m") in JSON and TOML.
type Duration time.Duration
