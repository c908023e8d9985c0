package cove

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/caps"
	"github.com/covebox/cove/internal/idmap"
	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/internal/mount"
	"github.com/covebox/cove/internal/procfile"
	"github.com/covebox/cove/internal/rlimit"
	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

// plan is a Spec compiled for this caller: everything stage 0 decides before
// any process exists.
type plan struct {
	cfg  stage.Config
	opts stage.SpawnOptions
	// plain is a sandbox without namespaces (spec.NoNamespaces): the
	// program is started directly by the launcher in the caller's
	// namespaces, confined by Landlock, seccomp and no_new_privs.
	plain bool
	// light: namespaces but no mount or PID namespace (cove isolate,
	// pseudo): the program itself is created in them, with no init.
	light bool
	// join: the program joins the namespaces of process Spec.Join.
	join      int
	writeMaps func(pid int) error
}

// compile turns the Spec into stage 1's Config and spawn options. It makes
// no change to the system: it reads the caller's identity, the environment and
// the host paths the Spec names.
func compile(c *Cmd) (*plan, error) {
	s := c.Spec
	if s == nil {
		s = spec.Default()
	}
	if err := s.Validate(); err != nil {
		var fe *spec.FieldError
		if errors.As(err, &fe) {
			return nil, &SetupError{Step: "spec", Field: fe.Field, Code: 125, Err: errors.New(fe.Reason)}
		}
		return nil, &SetupError{Step: "spec", Code: 125, Err: err}
	}
	plain := s.Namespaces == (spec.Namespaces{}) && s.Join == 0
	light := !plain && s.Join == 0 && !s.Namespaces.Mount && !s.Namespaces.PID
	if !plain && !light && s.Join == 0 && (!s.Namespaces.User || !s.Namespaces.Mount || !s.Namespaces.PID) {
		return nil, &SetupError{Step: "spec", Field: "namespaces", Code: 125,
			Err: errors.New("a sandbox with its own root needs new user, mount and PID namespaces (without mount and PID namespaces, the program runs directly in the others)")}
	}
	if light && !s.Namespaces.User && os.Geteuid() != 0 {
		return nil, &SetupError{Step: "spec", Field: "namespaces.user", Code: 125,
			Err: errors.New("creating namespaces without a user namespace needs root")}
	}
	if len(c.Args) == 0 || c.Path == "" {
		return nil, &SetupError{Step: "spec", Field: "command", Code: 125, Err: errors.New("no command given")}
	}
	home := callerHome()
	p := &plan{plain: plain, light: light, join: s.Join}

	var err error
	if p.cfg.Plan, err = mount.CompileRoot(s.Root, s.Filesystem, home); err != nil {
		var oe *mount.OpError
		if errors.As(err, &oe) {
			return nil, &SetupError{Step: "mount", Field: fmt.Sprintf("filesystem[%d]", oe.Index), Code: 125, Err: err, Errno: errnoOf(err)}
		}
		return nil, &SetupError{Step: "mount", Code: 125, Err: err}
	}
	p.cfg.Plan.Hooks = s.Hooks.Inside
	p.cfg.Hostname = s.Hostname
	p.cfg.Loopback = s.Namespaces.Net

	// Identity. The caller's own ids are the outside ids, except that host
	// root is never mapped unless the Spec says so explicitly.
	uid, gid := os.Getuid(), os.Getgid()
	outUID, outGID := uid, gid
	if uid == 0 && !s.IDs.MapHostRoot {
		outUID = spec.NobodyID
	}
	if gid == 0 && !s.IDs.MapHostRoot {
		outGID = spec.NobodyID
	}
	inUID, inGID := uint32(outUID), uint32(outGID)
	if light && !s.Namespaces.User {
		// Root creating namespaces without a user namespace keeps its ids.
		inUID, inGID = uint32(uid), uint32(gid)
	}
	switch {
	case s.IDs.MapRoot:
		inUID, inGID = 0, 0
	default:
		if s.IDs.UID != nil {
			inUID = *s.IDs.UID
		}
		if s.IDs.GID != nil {
			inGID = *s.IDs.GID
		}
	}
	// Only a privileged caller may allow setgroups beside a gid map; it must,
	// so that root's supplementary groups can be dropped. Root of a user
	// namespace whose setgroups is denied (`unshare -Ur`) cannot
	// (groupsOK false): its groups stay, unmapped, as any user's do.
	privileged := uid == 0
	groupsOK := privileged && setgroupsAllowed()
	lastCap, err := lastCapability()
	if err != nil {
		return nil, &SetupError{Step: "capabilities", Code: 125, Err: err}
	}
	p.opts = stage.SpawnOptions{
		Cloneflags: cloneflags(s.Namespaces),
		UIDMap:     []syscall.SysProcIDMap{{ContainerID: int(inUID), HostID: outUID, Size: 1}},
		GIDMap:     []syscall.SysProcIDMap{{ContainerID: int(inGID), HostID: outGID, Size: 1}},
		Setgroups:  groupsOK,
		UID:        inUID, GID: inGID,
		LastCap: lastCap,
		Stdin:   c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr,
		ExtraFiles: c.ExtraFiles,
	}

	pl := &p.cfg.Payload
	pl.Path = c.Path
	pl.Argv = c.Args
	pl.Env = buildEnv(os.Environ(), s.Env)
	pl.Dir = "/"
	if plain || light {
		// Without a new root, start where the caller is.
		pl.Dir = ""
	}
	if s.Cwd != "" {
		pl.Dir = expandHome(s.Cwd, home)
	}
	pl.Umask = -1
	if s.Umask != nil {
		pl.Umask = int(*s.Umask)
	}
	pl.UID, pl.GID = int(inUID), int(inGID)
	pl.SetGroups = groupsOK
	// Inside a new user namespace the init holds CAP_SETPCAP; without one,
	// only a privileged caller can shrink the bounding set (an unprivileged
	// caller's program has no capabilities to begin with).
	pl.DropBounding = !plain || privileged
	if light && !s.Namespaces.User {
		pl.DropBounding = privileged
	}
	if plain || (light && !s.Namespaces.User) {
		pl.UID, pl.GID, pl.SetGroups = -1, -1, false
	}
	keepCaps := light && !s.Namespaces.User
	if len(s.IDs.UIDMap) > 0 {
		if err := p.explicitMaps(s, uid, gid, groupsOK); err != nil {
			return nil, err
		}
		pl.UID, pl.GID = 0, 0
		pl.SetGroups = groupsOK || p.opts.Setgroups
		p.opts.UID, p.opts.GID = 0, 0
	} else if s.Namespaces.User && (light || s.IDs.Delegated) {
		if err := p.lightMaps(s, uid, gid, outUID, outGID, inUID, inGID, groupsOK); err != nil {
			return nil, err
		}
		// Delegated ranges through newgidmap leave setgroups allowed: drop
		// the caller's supplementary groups (arachsys pseudo: "0/0/no groups").
		pl.SetGroups = groupsOK || p.opts.Setgroups
	}
	if s.Join > 0 {
		// Root of the joined user namespace unless the Spec names other ids
		// (setgroups decided by startJoin).
		pl.UID, pl.GID, pl.SetGroups, pl.DropBounding = 0, 0, false, true
		if s.IDs.UID != nil {
			pl.UID = int(*s.IDs.UID)
		}
		if s.IDs.GID != nil {
			pl.GID = int(*s.IDs.GID)
		}
	}
	pl.Nice, pl.OOMScoreAdj = s.Nice, s.OOMScoreAdj
	if adj := s.OOMScoreAdj; adj != nil {
		// Lowering needs CAP_SYS_RESOURCE in the initial user namespace,
		// which a sandbox never has: say so before anything starts.
		cur, err := procfile.Read("/proc/self/oom_score_adj")
		n, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
		priv := false
		if plain {
			priv, _ = rlimit.Privileged()
		}
		if err == nil && *adj < n && !priv {
			return nil, &SetupError{Step: "oom_score_adj", Field: "oom_score_adj", Code: 125,
				Err: fmt.Errorf("lowering the OOM score adjustment from %d to %d needs CAP_SYS_RESOURCE, which the program would not have", n, *adj)}
		}
	}
	pl.Extra = len(c.ExtraFiles)
	pl.Setctty = c.Terminal
	var limits []rlimit.Limit
	for _, r := range s.Rlimits {
		res, _ := spec.RlimitResource(r.Name)
		pl.Rlimits = append(pl.Rlimits, launch.Rlimit{Resource: res, Cur: r.Soft, Max: r.Hard})
		limits = append(limits, rlimit.Limit{Name: r.Name, Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	// Raising a hard limit needs CAP_SYS_RESOURCE in the initial user
	// namespace, which no sandbox has: check now, before anything starts.
	priv := false
	if plain {
		priv, _ = rlimit.Privileged()
	}
	if err := rlimit.Check(limits, priv); err != nil {
		return nil, &SetupError{Step: "rlimit", Field: "rlimits", Code: 125, Err: err}
	}
	pl.LastCap = lastCap
	if s.Security.AllowNewPrivs && uid != 0 {
		return nil, &SetupError{Step: "spec", Field: "security.allow_new_privs", Code: 125, Err: errors.New("only root may turn off no_new_privs")}
	}
	pl.NoNewPrivs = !s.Security.AllowNewPrivs
	if err := applySecurity(s, pl); err != nil {
		return nil, err
	}
	pl.KeepCaps = keepCaps
	pl.Landlock = s.Security.Landlock
	return p, nil
}

// lightMaps chooses the id maps, and how to write them, for namespaces
// without an init (isolate, pseudo); groupsOK as for explicitMaps.
func (p *plan) lightMaps(s *spec.Spec, uid, gid, outUID, outGID int, inUID, inGID uint32, groupsOK bool) error {
	um := []syscall.SysProcIDMap{{ContainerID: int(inUID), HostID: outUID, Size: 1}}
	gm := []syscall.SysProcIDMap{{ContainerID: int(inGID), HostID: outGID, Size: 1}}
	setgroups := groupsOK
	helpers := false
	if s.IDs.Delegated {
		if uid == 0 && !s.IDs.MapHostRoot {
			um, gm = idmap.RootAllButHostRoot(), idmap.RootAllButHostRoot()
		} else if uid != 0 {
			ur, uerr := idmap.Delegated("/etc/subuid", uid)
			gr, gerr := idmap.Delegated("/etc/subgid", uid)
			if uerr == nil && gerr == nil {
				um, gm = idmap.RootWithRanges(uid, ur), idmap.RootWithRanges(gid, gr)
				helpers, setgroups = true, true
			}
			// Without delegated ranges, only the caller's id is mapped.
		}
	}
	p.opts.UIDMap, p.opts.GIDMap, p.opts.Setgroups = um, gm, setgroups
	if helpers {
		p.writeMaps = idmap.Helpers(um, gm)
	} else {
		p.writeMaps = func(pid int) error { return launch.WriteIDMaps(pid, um, gm, setgroups) }
	}
	return nil
}

// explicitMaps checks the Spec's explicit id maps against what the caller
// may map and chooses how to write them; groupsOK: the caller is root and
// may allow setgroups.
func (p *plan) explicitMaps(s *spec.Spec, uid, gid int, groupsOK bool) error {
	conv := func(rs []spec.IDRange) []syscall.SysProcIDMap {
		var m []syscall.SysProcIDMap
		for _, r := range rs {
			m = append(m, syscall.SysProcIDMap{ContainerID: int(r.Inside), HostID: int(r.Outside), Size: int(r.Count)})
		}
		return m
	}
	um, gm := conv(s.IDs.UIDMap), conv(s.IDs.GIDMap)
	privileged := uid == 0
	var ur, gr []idmap.Range
	if !privileged {
		ur, _ = idmap.Delegated("/etc/subuid", uid)
		gr, _ = idmap.Delegated("/etc/subgid", uid)
	}
	if err := idmap.Check(um, uid, ur, privileged, s.IDs.MapHostRoot); err != nil {
		return &SetupError{Step: "idmap", Field: "ids.uid_map", Code: 125, Err: err}
	}
	if err := idmap.Check(gm, gid, gr, privileged, s.IDs.MapHostRoot); err != nil {
		return &SetupError{Step: "idmap", Field: "ids.gid_map", Code: 125, Err: err}
	}
	single := len(um) == 1 && um[0].Size == 1 && len(gm) == 1 && gm[0].Size == 1
	setgroups := groupsOK || (!privileged && !single)
	p.opts.UIDMap, p.opts.GIDMap, p.opts.Setgroups = um, gm, setgroups
	if privileged || single {
		p.writeMaps = func(pid int) error { return launch.WriteIDMaps(pid, um, gm, setgroups) }
	} else {
		p.writeMaps = idmap.Helpers(um, gm)
	}
	return nil
}

func cloneflags(n spec.Namespaces) uintptr {
	var f uintptr
	set := func(on bool, flag uintptr) {
		if on {
			f |= flag
		}
	}
	set(n.User, unix.CLONE_NEWUSER)
	set(n.Mount, unix.CLONE_NEWNS)
	set(n.PID, unix.CLONE_NEWPID)
	set(n.IPC, unix.CLONE_NEWIPC)
	set(n.UTS, unix.CLONE_NEWUTS)
	set(n.Net, unix.CLONE_NEWNET)
	set(n.Cgroup, unix.CLONE_NEWCGROUP)
	// CLONE_NEWTIME is unshared by the init (clone(2) cannot carry it).
	return f
}

// buildEnv derives the program's environment from the caller's: Clear, then
// Unset, then Set in order.
func buildEnv(base []string, e spec.Env) []string {
	var env []string
	if !e.Clear {
		env = append(env, base...)
	}
	drop := func(name string) {
		out := env[:0]
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); k != name {
				out = append(out, kv)
			}
		}
		env = out
	}
	for _, n := range e.Unset {
		drop(n)
	}
	for _, v := range e.Set {
		drop(v.Name)
		env = append(env, v.Name+"="+v.Value)
	}
	return env
}

// callerHome is the caller's home directory: $HOME, else the password
// database, else "/".
func callerHome() string {
	if h := os.Getenv("HOME"); path.IsAbs(h) {
		return path.Clean(h)
	}
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil && path.IsAbs(u.HomeDir) {
		return u.HomeDir
	}
	return "/"
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return path.Join(home, rest)
	}
	return p
}

func lastCapability() (int, error) {
	c, err := caps.Last()
	if err != nil {
		return 0, fmt.Errorf("read cap_last_cap: %w", err)
	}
	return int(c), nil
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// setgroupsAllowed tells whether this process's user namespace lets it call
// setgroups (/proc/self/setgroups is "allow", or absent before Linux 3.19).
func setgroupsAllowed() bool {
	b, err := procfile.Read("/proc/self/setgroups")
	return err != nil || strings.TrimSpace(string(b)) != "deny"
}
