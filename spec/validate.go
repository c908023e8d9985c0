package spec

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// FieldError reports an invalid Spec field. Field is the JSON path of the
// field ("filesystem[2].dst"), so that front-ends can point at its source.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// Validate checks the Spec for errors that need no system call to detect. It
// returns the first problem found as a *FieldError.
func (s *Spec) Validate() error {
	if s.Namespaces.Mount && !s.Namespaces.User {
		// Without a user namespace the engine would need host privileges to
		// mount; it refuses rather than run a half-isolated sandbox.
		return fieldErr("namespaces.user", "a new mount namespace needs a new user namespace")
	}
	if s.Join < 0 {
		return fieldErr("join", "%d is not a process id", s.Join)
	}
	if s.Join > 0 && (s.Namespaces != (Namespaces{}) || len(s.Filesystem) > 0 || s.Root != "" || s.Hostname != "") {
		return fieldErr("join", "joining a process's namespaces excludes creating namespaces, a root or filesystem operations")
	}
	if s.Join > 0 && (s.IDs.MapRoot || s.IDs.MapHostRoot || s.IDs.Delegated || len(s.IDs.UIDMap)+len(s.IDs.GIDMap) > 0) {
		return fieldErr("ids", "joining a process's namespaces uses its id maps: only ids.uid and ids.gid apply")
	}
	if (len(s.Hooks.Inside) > 0 || len(s.Hooks.Outside) > 0) && !s.Namespaces.Mount {
		return fieldErr("hooks", "hooks run while a sandbox with its own root is set up (namespaces.mount)")
	}
	if s.Root != "" && !isSandboxPath(s.Root) {
		return fieldErr("root", "%q must be an absolute host path", s.Root)
	}
	if s.Root != "" && !s.Namespaces.Mount {
		return fieldErr("root", "a root directory needs a new mount namespace")
	}
	if !s.Namespaces.Mount && len(s.Filesystem) > 0 {
		return fieldErr("filesystem", "filesystem operations need a new mount namespace (namespaces.mount)")
	}
	if s.Namespaces.Mount && !s.Namespaces.PID {
		return fieldErr("namespaces.pid", "a sandbox with its own root also needs its own PID namespace, so that every process it starts dies with it")
	}
	if (len(s.IDs.UIDMap) == 0) != (len(s.IDs.GIDMap) == 0) {
		return fieldErr("ids.uid_map", "uid_map and gid_map go together")
	}
	if len(s.IDs.UIDMap) > 0 && !s.Namespaces.User {
		return fieldErr("ids.uid_map", "explicit maps need a new user namespace")
	}
	if s.IDs.Delegated && !s.IDs.MapRoot {
		return fieldErr("ids.delegated", "delegated ranges start at inside id 1: they need ids.map_root")
	}
	if s.IDs.MapRoot && (s.IDs.UID != nil || s.IDs.GID != nil) {
		return fieldErr("ids.map_root", "cannot be combined with ids.uid or ids.gid")
	}
	if s.Hostname != "" {
		if !s.Namespaces.UTS {
			return fieldErr("hostname", "setting a hostname needs a new UTS namespace (namespaces.uts)")
		}
		if len(s.Hostname) > 64 {
			return fieldErr("hostname", "%q is longer than 64 bytes", s.Hostname)
		}
	}
	for i, m := range s.Filesystem {
		if err := m.validate(fmt.Sprintf("filesystem[%d]", i)); err != nil {
			return err
		}
	}
	if s.Cwd != "" && !isSandboxPath(s.Cwd) {
		return fieldErr("cwd", "%q must be an absolute path (or start with ~)", s.Cwd)
	}
	if s.Cwd != "" && hasDotDot(s.Cwd) {
		return fieldErr("cwd", "%q must not contain ..", s.Cwd)
	}
	if s.Umask != nil && *s.Umask > 0o777 {
		return fieldErr("umask", "%#o is not a permission mask (max 0777)", *s.Umask)
	}
	for i, v := range s.Env.Set {
		if v.Name == "" || strings.ContainsAny(v.Name, "=\x00") {
			return fieldErr(fmt.Sprintf("env.set[%d].name", i), "%q is not a valid variable name", v.Name)
		}
		if strings.ContainsRune(v.Value, 0) {
			return fieldErr(fmt.Sprintf("env.set[%d].value", i), "contains a NUL byte")
		}
	}
	for i, n := range s.Env.Unset {
		if n == "" || strings.ContainsAny(n, "=\x00") {
			return fieldErr(fmt.Sprintf("env.unset[%d]", i), "%q is not a valid variable name", n)
		}
	}
	for i, r := range s.Rlimits {
		if _, ok := rlimitNames[r.Name]; !ok {
			return fieldErr(fmt.Sprintf("rlimits[%d].name", i), "unknown resource %q (one of %s)", r.Name, strings.Join(RlimitNames(), ", "))
		}
		if r.Soft > r.Hard {
			return fieldErr(fmt.Sprintf("rlimits[%d]", i), "%s soft limit %d is above its hard limit %d", r.Name, r.Soft, r.Hard)
		}
	}
	if s.Nice != nil && (*s.Nice < -20 || *s.Nice > 19) {
		return fieldErr("nice", "%d is outside -20..19", *s.Nice)
	}
	if s.OOMScoreAdj != nil && (*s.OOMScoreAdj < -1000 || *s.OOMScoreAdj > 1000) {
		return fieldErr("oom_score_adj", "%d is outside -1000..1000", *s.OOMScoreAdj)
	}
	if s.Namespaces == (Namespaces{}) && s.Join == 0 && (s.IDs.UID != nil || s.IDs.GID != nil || s.IDs.MapRoot || s.IDs.MapHostRoot) {
		return fieldErr("ids", "ids are mapped only in a new user namespace; without namespaces the program keeps the caller's ids")
	}
	if s.Lifecycle.Timeout < 0 {
		return fieldErr("lifecycle.timeout", "must not be negative")
	}
	for i, p := range append(append(append([]string{}, s.Security.Landlock.RO...), s.Security.Landlock.RW...), s.Security.Landlock.Exec...) {
		if !isSandboxPath(p) {
			return fieldErr(fmt.Sprintf("security.landlock[%d]", i), "%q must be an absolute path", p)
		}
	}
	return nil
}

func (m Mount) validate(field string) error {
	if m.Type == "" {
		return fieldErr(field+".type", "missing")
	}
	if !m.Type.known() {
		return fieldErr(field+".type", "unknown operation %q", m.Type)
	}
	if m.Dst == "" {
		return fieldErr(field+".dst", "missing")
	}
	if !isSandboxPath(m.Dst) {
		return fieldErr(field+".dst", "%q must be an absolute path (or start with ~)", m.Dst)
	}
	if hasDotDot(m.Dst) {
		return fieldErr(field+".dst", "%q must not contain ..", m.Dst)
	}
	if m.Type.takesSource() && m.Src == "" {
		return fieldErr(field+".src", "missing (%s needs a source)", m.Type)
	}
	if !m.Type.takesSource() && m.Src != "" {
		return fieldErr(field+".src", "%s takes no source", m.Type)
	}
	if m.Type != Symlink && m.Src != "" && !isSandboxPath(m.Src) {
		return fieldErr(field+".src", "%q must be an absolute path (or start with ~)", m.Src)
	}
	if m.Mode > 0o7777 {
		return fieldErr(field+".mode", "%#o is not a file mode", m.Mode)
	}
	if m.Mode != 0 && m.Type != Tmpfs && m.Type != Dir && m.Type != File {
		return fieldErr(field+".mode", "only tmpfs, dir and file take a mode")
	}
	if m.Size != 0 && m.Type != Tmpfs {
		return fieldErr(field+".size", "only tmpfs takes a size")
	}
	if m.Data != "" && m.Type != File {
		return fieldErr(field+".data", "only file takes data")
	}
	if m.Optional && m.Type != Bind && m.Type != ROBind && m.Type != DevBind && m.Type != Sysfs && m.Type != Cgroup2 {
		return fieldErr(field+".optional", "only the bind types, sysfs and cgroup2 can be optional")
	}
	return nil
}

func isSandboxPath(p string) bool {
	return path.IsAbs(p) || p == "~" || strings.HasPrefix(p, "~/")
}

func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// ErrNotFound is returned by LoadProfile when no built-in profile or file has
// the given name.
var ErrNotFound = errors.New("no such profile")
