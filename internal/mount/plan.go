// Package mount builds a sandbox's root filesystem from an ordered list of
// operations.
//
// Compile turns the Spec's filesystem list into a Plan in stage 0: it expands
// "~", fills in defaults and checks host sources, so that bad input fails before
// anything is created. Build (Linux) executes the Plan in stage 1, inside the new
// user and mount namespaces, and leaves the calling process in the new root.
//
// Every target path is resolved inside the new root with openat2(2)
// RESOLVE_IN_ROOT, component by component, and every mount is attached to an
// O_PATH file descriptor with the new mount API (open_tree, fsopen, fsmount,
// move_mount): no string is ever joined onto a host path, so a symlink planted
// in a bound directory cannot redirect a mount to the host.
package mount

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/covebox/cove/spec"
)

// Op is one operation of a Plan, with paths made absolute.
type Op struct {
	Type spec.MountType `json:"type"`
	// Src is an absolute host path for the bind types and Mirror, the link
	// target for Symlink.
	Src string `json:"src,omitempty"`
	// Dst is an absolute path inside the new root.
	Dst string `json:"dst"`
	// SrcIsDir tells whether a bind source is a directory (else a file).
	SrcIsDir bool   `json:"src_is_dir,omitempty"`
	Mode     uint32 `json:"mode,omitempty"`
	Size     uint64 `json:"size,omitempty"`
	Data     string `json:"data,omitempty"`
	// Optional skips an operation the kernel refuses (sysfs, cgroup2).
	Optional bool `json:"optional,omitempty"`
	// Index is the position of the operation in the Spec's list, for errors.
	Index int `json:"index"`
}

// Plan is the compiled form of a Spec's filesystem list.
type Plan struct {
	// Root is the host directory bound as the new root ("" = a tmpfs).
	Root string `json:"root,omitempty"`
	Ops  []Op   `json:"ops"`
	// Hooks are shell commands run after the operations, before the pivot,
	// inside the new namespaces, with the new root as working directory
	// and the host root as root (to bind more host paths, say).
	Hooks []string `json:"hooks,omitempty"`
}

// OpError is a failure of one operation; Index is its position in the Spec.
type OpError struct {
	Index int
	Op    Op
	Err   error
}

func (e *OpError) Error() string {
	switch e.Op.Type {
	case spec.Bind, spec.ROBind, spec.DevBind, spec.Mirror:
		return fmt.Sprintf("%s %s on %s: %v", e.Op.Type, e.Op.Src, e.Op.Dst, e.Err)
	case spec.Symlink:
		return fmt.Sprintf("symlink %s -> %s: %v", e.Op.Dst, e.Op.Src, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op.Type, e.Op.Dst, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Compile checks ms against the host and returns the Plan. home replaces a
// leading "~" in paths. Sources are checked with the caller's own access
// rights, so that a missing or unreadable source is reported before any
// namespace exists.
//
// Preconditions: runs on the host, before any namespace is entered.
func Compile(ms []spec.Mount, home string) (*Plan, error) {
	return CompileRoot("", ms, home)
}

// CompileRoot is Compile with a host directory as the new root.
func CompileRoot(root string, ms []spec.Mount, home string) (*Plan, error) {
	p := &Plan{}
	if root != "" {
		root = path.Clean(expand(root, home))
		st, err := os.Stat(root)
		if err != nil {
			return nil, &OpError{Index: -1, Op: Op{Type: "root", Dst: root}, Err: unwrapPath(err)}
		}
		if !st.IsDir() {
			return nil, &OpError{Index: -1, Op: Op{Type: "root", Dst: root}, Err: errors.New("not a directory")}
		}
		p.Root = root
	}
	for i, m := range ms {
		op := Op{Type: m.Type, Src: m.Src, Dst: expand(m.Dst, home), Mode: m.Mode, Size: m.Size, Data: m.Data, Index: i, Optional: m.Optional}
		if m.Type != spec.Symlink && m.Src != "" {
			op.Src = path.Clean(expand(m.Src, home))
		}
		op.Dst = path.Clean(op.Dst)
		switch m.Type {
		case spec.Bind, spec.ROBind, spec.DevBind:
			st, err := os.Stat(op.Src)
			if err != nil {
				if m.Optional && errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, &OpError{Index: i, Op: op, Err: unwrapPath(err)}
			}
			op.SrcIsDir = st.IsDir()
		case spec.Mirror:
			st, err := os.Lstat(op.Src)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, &OpError{Index: i, Op: op, Err: unwrapPath(err)}
			}
			if st.Mode()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(op.Src)
				if err != nil {
					return nil, &OpError{Index: i, Op: op, Err: unwrapPath(err)}
				}
				op.Type, op.Src = spec.Symlink, target
			} else {
				op.Type, op.SrcIsDir = spec.ROBind, st.IsDir()
			}
		case spec.Tmpfs:
			if op.Mode == 0 {
				op.Mode = 0o755
			}
		case spec.Dir:
			if op.Mode == 0 {
				op.Mode = 0o755
			}
		case spec.File:
			if op.Mode == 0 {
				op.Mode = 0o644
			}
		}
		if op.Dst == "/" && op.Type != spec.RemountRO && op.Type != spec.Tmpfs {
			return nil, &OpError{Index: i, Op: op, Err: errors.New("cannot replace the sandbox root itself")}
		}
		p.Ops = append(p.Ops, op)
	}
	return p, nil
}

func expand(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return path.Join(home, rest)
	}
	return p
}

// unwrapPath drops the *fs.PathError wrapper: OpError already names the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
