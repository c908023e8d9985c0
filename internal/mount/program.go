package mount

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/spec"
)

// Registers of the mount program (fd slots of the executor).
const (
	regOld    = 0 // the host root, at /old after the first pivot
	regNew    = 1 // the new root being built
	regParA   = 2 // alternating parents while resolving a target
	regParB   = 3
	regSrc    = 4 // a bind source
	regTree   = 5 // a detached mount: cloned tree or new filesystem
	regFS     = 6 // a filesystem context
	regScratc = 7 // a plain fd (file contents, chmod)
)

// Program compiles the Plan into the launcher's mount program: the exact
// system calls, in order, with every path resolved in the right root at run
// time. base is an existing host directory used as the scratch mount point
// (see ScratchDir).
//
// The program: make / a recursive slave; mount a scratch tmpfs at base with
// the new root (a tmpfs) inside; pivot so the host root is /old; run each
// operation — targets are opened with openat2(RESOLVE_IN_ROOT) from the new
// root, one component at a time, creating what is missing; binds clone the
// source tree (open_tree), set its attributes while detached
// (mount_setattr), and attach it (move_mount); new filesystems go through
// fsopen/fsconfig/fsmount — then make the new root read-only, pivot into it
// and detach the old one.
func (p *Plan) Program(base string) []launch.Insn {
	// One allocation: an operation takes a dozen instructions on average
	// (a minimal /dev about eighty).
	g := &gen{prog: make([]launch.Insn, 0, 32+16*len(p.Ops)+len(p.Hooks))}
	g.emit(launch.Insn{Op: launch.OpMount, S2: "/", Flags: unix.MS_REC | unix.MS_SLAVE, What: "make / a slave mount"})
	g.emit(launch.Insn{Op: launch.OpMount, S1: "tmpfs", S2: base, S3: "tmpfs", S4: "mode=0700", Flags: unix.MS_NOSUID | unix.MS_NODEV, What: "mount scratch tmpfs on " + base})
	g.emit(launch.Insn{Op: launch.OpMkdir, S1: base + "/new", Flags: 0o700, What: "mkdir " + base + "/new"})
	g.emit(launch.Insn{Op: launch.OpMkdir, S1: base + "/old", Flags: 0o700, What: "mkdir " + base + "/old"})
	if p.Root == "" {
		g.emit(launch.Insn{Op: launch.OpMount, S1: "tmpfs", S2: base + "/new", S3: "tmpfs", S4: "mode=0755", Flags: unix.MS_NOSUID | unix.MS_NODEV, What: "mount the new root"})
	}
	g.emit(launch.Insn{Op: launch.OpPivotRoot, S1: base, S2: base + "/old", What: "pivot_root to scratch"})
	g.emit(launch.Insn{Op: launch.OpChdir, S1: "/", What: "chdir /"})
	g.emit(launch.Insn{Op: launch.OpOpen, R: regOld, A: -1, S1: "/old", Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, What: "open old root"})
	if p.Root != "" {
		// The root directory, resolved in the host root like any source,
		// cloned (with its submounts) and attached at /new.
		g.emit(launch.Insn{Op: launch.OpOpenAt2, R: regSrc, A: regOld, S1: p.Root, Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, What: "open root " + p.Root})
		g.emit(launch.Insn{Op: launch.OpOpenTree, R: regTree, A: regSrc, Flags: unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH | unix.AT_RECURSIVE, What: "clone the tree at " + p.Root})
		g.emit(launch.Insn{Op: launch.OpClose, R: regSrc})
		g.emit(launch.Insn{Op: launch.OpOpen, R: regParA, A: -1, S1: "/new", Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, What: "open /new"})
		g.emit(launch.Insn{Op: launch.OpMoveMount, A: regTree, R: regParA, What: "attach the root"})
		g.emit(launch.Insn{Op: launch.OpClose, R: regParA})
		g.emit(launch.Insn{Op: launch.OpClose, R: regTree})
	}
	// Opened after the root is attached, so that it names the mount.
	g.emit(launch.Insn{Op: launch.OpOpen, R: regNew, A: -1, S1: "/new", Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, What: "open new root"})
	for _, op := range p.Ops {
		g.index, g.optional = op.Index, op.Optional
		g.op(op)
	}
	g.index = -1
	g.optional = false
	for _, h := range p.Hooks {
		g.emit(launch.Insn{Op: launch.OpRun, R: regNew, S1: h, What: fmt.Sprintf("inside hook %q failed", h)})
	}
	if p.Root == "" {
		g.emit(launch.Insn{Op: launch.OpSetattr, R: regNew, Flags: unix.AT_EMPTY_PATH, Flags2: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, What: "make the new root read-only"})
	}
	g.emit(launch.Insn{Op: launch.OpFchdir, R: regNew, What: "chdir to the new root"})
	g.emit(launch.Insn{Op: launch.OpPivotRoot, S1: ".", S2: ".", What: "pivot_root into the new root"})
	g.emit(launch.Insn{Op: launch.OpDetach, S1: ".", Flags: unix.MNT_DETACH, What: "detach the old root"})
	g.emit(launch.Insn{Op: launch.OpChdir, S1: "/", What: "chdir / in the new root"})
	g.emit(launch.Insn{Op: launch.OpClose, R: regOld})
	g.emit(launch.Insn{Op: launch.OpClose, R: regNew})
	return g.prog
}

type gen struct {
	prog     []launch.Insn
	index    int
	optional bool
}

func (g *gen) emit(in launch.Insn) {
	in.Index = g.index
	in.SkipOnFail = g.optional
	g.prog = append(g.prog, in)
}

func (g *gen) op(op Op) {
	switch op.Type {
	case spec.Bind, spec.ROBind, spec.DevBind:
		attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
		switch op.Type {
		case spec.ROBind:
			attr |= unix.MOUNT_ATTR_RDONLY
		case spec.DevBind:
			attr = unix.MOUNT_ATTR_NOSUID
		}
		g.bind(op.Src, op.Dst, op.SrcIsDir, attr)
	case spec.Tmpfs:
		opts := []string{fmt.Sprintf("mode=%o", op.Mode)}
		if op.Size > 0 {
			opts = append(opts, fmt.Sprintf("size=%d", op.Size))
		}
		g.newMount("tmpfs", op.Dst, opts, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	case spec.Proc:
		g.newMount("proc", op.Dst, nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	case spec.Sysfs:
		g.newMount("sysfs", op.Dst, nil, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	case spec.Cgroup2:
		g.newMount("cgroup2", op.Dst, nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	case spec.Dev:
		g.dev(op.Dst)
	case spec.Dir:
		t := g.target(op.Dst, true)
		g.closeTarget(t)
		// fchmod needs a real (not O_PATH) descriptor.
		g.emit(launch.Insn{Op: launch.OpOpenAt2, R: regScratc, A: regNew, S1: op.Dst, Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, What: "open " + op.Dst})
		g.emit(launch.Insn{Op: launch.OpFchmod, R: regScratc, Flags: uint64(op.Mode), What: "chmod " + op.Dst})
		g.emit(launch.Insn{Op: launch.OpClose, R: regScratc})
	case spec.Symlink:
		dir, name := path.Split(op.Dst)
		t := g.target(dir, true)
		g.emit(launch.Insn{Op: launch.OpSymlink, S1: op.Src, A: t, S2: name, What: "symlink " + op.Dst})
		g.closeTarget(t)
	case spec.File:
		dir, name := path.Split(op.Dst)
		t := g.target(dir, true)
		g.emit(launch.Insn{Op: launch.OpOpen, R: regScratc, A: t, S1: name, Flags: unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Flags2: uint64(op.Mode), What: "create " + op.Dst})
		g.closeTarget(t)
		g.emit(launch.Insn{Op: launch.OpWrite, R: regScratc, S1: op.Data, What: "write " + op.Dst})
		g.emit(launch.Insn{Op: launch.OpFchmod, R: regScratc, Flags: uint64(op.Mode), What: "chmod " + op.Dst})
		g.emit(launch.Insn{Op: launch.OpClose, R: regScratc})
	case spec.RemountRO:
		g.emit(launch.Insn{Op: launch.OpOpenAt2, R: regTree, A: regNew, S1: op.Dst, Flags: unix.O_PATH | unix.O_CLOEXEC, What: "open " + op.Dst})
		g.emit(launch.Insn{Op: launch.OpSetattr, R: regTree, Flags: unix.AT_EMPTY_PATH | unix.AT_RECURSIVE, Flags2: unix.MOUNT_ATTR_RDONLY, What: "remount " + op.Dst + " read-only (is it a mount point?)"})
		g.emit(launch.Insn{Op: launch.OpClose, R: regTree})
	}
}

// target emits the resolution of p inside the new root, creating missing
// components (the last as a directory when isDir, else as an empty file),
// and returns the register holding an O_PATH fd of it.
func (g *gen) target(p string, isDir bool) int {
	comps := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	parent := regNew
	for i, c := range comps {
		reg := regParA
		if parent == regParA {
			reg = regParB
		}
		prefix := "/" + strings.Join(comps[:i+1], "/")
		var dirFlag uint64
		if i < len(comps)-1 || isDir {
			dirFlag = 1
		}
		g.emit(launch.Insn{Op: launch.OpEnsure, R: reg, A: regNew, B: parent, S1: prefix, S2: c, Flags2: dirFlag, What: "open or create " + prefix})
		if parent != regNew {
			g.emit(launch.Insn{Op: launch.OpClose, R: parent})
		}
		parent = reg
	}
	return parent
}

func (g *gen) closeTarget(t int) {
	if t != regNew {
		g.emit(launch.Insn{Op: launch.OpClose, R: t})
	}
}

func (g *gen) bind(src, dst string, isDir bool, attr uint64) {
	g.emit(launch.Insn{Op: launch.OpOpenAt2, R: regSrc, A: regOld, S1: src, Flags: unix.O_PATH | unix.O_CLOEXEC, What: "open source " + src})
	g.emit(launch.Insn{Op: launch.OpOpenTree, R: regTree, A: regSrc, Flags: unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH | unix.AT_RECURSIVE, What: "clone the tree at " + src})
	g.emit(launch.Insn{Op: launch.OpClose, R: regSrc})
	g.emit(launch.Insn{Op: launch.OpSetattr, R: regTree, Flags: unix.AT_EMPTY_PATH | unix.AT_RECURSIVE, Flags2: attr, What: "set mount attributes of " + src})
	g.attach(dst, isDir)
}

func (g *gen) attach(dst string, isDir bool) {
	t := g.target(dst, isDir)
	g.emit(launch.Insn{Op: launch.OpMoveMount, A: regTree, R: t, What: "attach at " + dst})
	g.closeTarget(t)
	g.emit(launch.Insn{Op: launch.OpClose, R: regTree})
}

func (g *gen) newMount(fstype, dst string, opts []string, attr uint64) {
	g.emit(launch.Insn{Op: launch.OpFsopen, R: regFS, S1: fstype, What: "fsopen " + fstype})
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		cmd := uint64(unix.FSCONFIG_SET_FLAG)
		if hasValue {
			cmd = unix.FSCONFIG_SET_STRING
		}
		g.emit(launch.Insn{Op: launch.OpFsconfig, R: regFS, Flags: cmd, S1: k, S2: v, What: fstype + " option " + o})
	}
	g.emit(launch.Insn{Op: launch.OpFsconfig, R: regFS, Flags: unix.FSCONFIG_CMD_CREATE, What: "create " + fstype})
	g.emit(launch.Insn{Op: launch.OpFsmount, R: regTree, A: regFS, Flags: attr, What: "fsmount " + fstype})
	g.emit(launch.Insn{Op: launch.OpClose, R: regFS})
	g.attach(dst, true)
}

// dev builds a minimal /dev at dst.
func (g *gen) dev(dst string) {
	g.newMount("tmpfs", dst, []string{"mode=755"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	for _, n := range devNodes {
		g.bind("/dev/"+n, path.Join(dst, n), false, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	}
	g.newMount("devpts", path.Join(dst, "pts"), []string{"newinstance", "ptmxmode=0666", "mode=620"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	g.newMount("tmpfs", path.Join(dst, "shm"), []string{"mode=1777"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	t := g.target(dst, true)
	for _, l := range devLinks {
		g.emit(launch.Insn{Op: launch.OpSymlink, S1: l[0], A: t, S2: l[1], What: "symlink " + path.Join(dst, l[1])})
	}
	g.closeTarget(t)
}

// devNodes are bound from the host into a minimal /dev; devLinks are
// {target, name} symlinks created there.
var (
	devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}
	devLinks = [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
	}
)

// ScratchDir returns the first existing directory among the candidates for
// the scratch mount point (it is covered by a tmpfs in the sandbox's own
// mount namespace, so any existing directory works).
func ScratchDir(lstat func(string) (isDir bool, err error)) (string, error) {
	for _, d := range scratchCandidates {
		if ok, err := lstat(d); err == nil && ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("no scratch directory for the new root (tried %s)", strings.Join(scratchCandidates, ", "))
}

// scratchCandidates are tried in order; the first existing directory wins.
var scratchCandidates = []string{"/tmp", "/mnt", "/run", "/var/tmp"}
