package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/covebox/cove/internal/launch"
	"golang.org/x/sys/unix"
)

// passedFD is a client descriptor (held by the server) and the number the
// program sees it as.
type passedFD struct {
	target int
	fd     int
}

// job is one start request, whatever protocol brought it. Every descriptor
// in it belongs to the server until close.
type job struct {
	peer     Peer
	terminal int // -1: none
	winsize  *unix.Winsize
	fds      []passedFD
	umask    int // -1: keep the server's
	root     int // client root directory, -1: none
	cwd      int // client working directory, -1: none
	argv     []string
	env      []string
}

// close releases every descriptor of the job. The terminal is kept when
// keepTerminal (window-size updates still need it).
func (j *job) close(keepTerminal bool) {
	for _, p := range j.fds {
		unix.Close(p.fd)
	}
	j.fds = nil
	for _, fd := range []*int{&j.root, &j.cwd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	if !keepTerminal && j.terminal >= 0 {
		unix.Close(j.terminal)
		j.terminal = -1
	}
}

// StartError is a failure to start the program: the step that failed (a
// short lowercase name: "exec", "setns", "chroot", "identity", ...), the
// errno when a system call failed, and a sentence for the user.
type StartError struct {
	Step  string
	Errno syscall.Errno
	Err   error
	// Message is the sentence without the errno (for wire.Error).
	Message string
}

func (e *StartError) Error() string {
	if e.Message != "" && e.Errno != 0 {
		return e.Message + ": " + e.Errno.Error()
	}
	if e.Message != "" {
		return e.Message
	}
	return e.Err.Error()
}
func (e *StartError) Unwrap() error { return e.Err }

// ExitCode is the status dive reports for a program that could not start:
// 127 when it was not found, 126 otherwise (as a shell does).
func (e *StartError) ExitCode() int {
	if e.Step == "exec" && (e.Errno == syscall.ENOENT || e.Errno == syscall.ENOTDIR) {
		return 127
	}
	if e.Step == "no-program" {
		return 127
	}
	return 126
}

// ErrNoProgram: neither the client nor the server named a program (dived
// bug 8 crashed on it).
var ErrNoProgram = errors.New("no program to run: the client sent no command and the server has no forced command")

func startErr(step string, err error) *StartError {
	e := &StartError{Step: step, Err: err, Message: err.Error()}
	if errors.As(err, &e.Errno) {
		e.Message = strings.TrimSuffix(e.Message, ": "+e.Errno.Error())
	}
	return e
}

var launchSteps = map[launch.Step]string{
	launch.StepSetns: "setns", launch.StepWrite: "write-content", launch.StepChroot: "chroot",
	launch.StepChdir: "chdir", launch.StepSetsid: "setsid", launch.StepFiles: "fd-table",
	launch.StepSetctty: "setctty", launch.StepUmask: "umask", launch.StepRlimit: "rlimit",
	launch.StepSecurebits: "securebits", launch.StepBounding: "bounding-set",
	launch.StepKeepCaps: "keep-caps", launch.StepSetgroups: "setgroups", launch.StepSetgid: "setgid",
	launch.StepSetuid: "setuid", launch.StepCapset: "capset", launch.StepAmbient: "ambient-caps",
	launch.StepNoNewPrivs: "no-new-privs", launch.StepLandlock: "landlock", launch.StepSeccomp: "seccomp",
	launch.StepPdeathsig: "pdeathsig", launch.StepExec: "exec",
}

// DiveEnv returns env without DIVE_* entries and with the server's DIVE_UID,
// DIVE_GID, DIVE_PID and DIVE_USER for peer.
func DiveEnv(env []string, peer Peer) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DIVE_") {
			out = append(out, kv)
		}
	}
	return append(out,
		"DIVE_UID="+strconv.FormatUint(uint64(peer.UID), 10),
		"DIVE_GID="+strconv.FormatUint(uint64(peer.GID), 10),
		"DIVE_PID="+strconv.FormatInt(int64(peer.PID), 10),
		"DIVE_USER="+peer.User)
}

// Candidates lists where execve looks for name: name itself when it contains
// a slash, else each directory of path ("" meaning ".").
func Candidates(name, path string) []string {
	if strings.Contains(name, "/") {
		return []string{name}
	}
	var out []string
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		out = append(out, dir+"/"+name)
	}
	return out
}

func envValue(env []string, key string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if s, found := strings.CutPrefix(kv, key+"="); found {
			v, ok = s, true
		}
	}
	return v, ok
}

// program computes argv, env and the executable candidates of a job.
func (s *Server) program(j *job) (argv, env, path []string, err error) {
	p := &s.cfg.Policy
	argv = append(argv, p.ForcedArgv...)
	if !p.NoClientArgv {
		argv = append(argv, j.argv...)
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, nil, nil, ErrNoProgram
	}
	base := j.env
	if p.NoClientEnv {
		base = p.ServerEnv
	}
	env = DiveEnv(base, j.peer)
	search := p.Path
	if search == "" {
		search = DefaultPath
	}
	if len(p.ForcedArgv) == 0 {
		// The client's own command is searched in the program's PATH, as
		// dived's execvpe does.
		if v, ok := envValue(env, "PATH"); ok {
			search = v
		}
	}
	return argv, env, Candidates(argv[0], search), nil
}

// within returns the path of dir relative to root as an absolute path inside
// root ("/" + rel), or "" when dir is not below root.
func within(root, dir string) string {
	if dir == root {
		return "/"
	}
	if root == "/" {
		return dir
	}
	if rel, ok := strings.CutPrefix(dir, root+"/"); ok {
		return "/" + rel
	}
	return ""
}

func fdPath(fd int) string {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(p, "/") {
		return ""
	}
	return p
}

// params builds the launcher's parameters. The returned cleanup closes the
// descriptors params opened (namespace files, -h directory).
//
// Postcondition: on error nothing is left open by params.
func (s *Server) params(j *job) (*launch.Params, func(), error) {
	p := &s.cfg.Policy
	var opened []int
	cleanup := func() {
		for _, fd := range opened {
			unix.Close(fd)
		}
	}
	fail := func(e *StartError) (*launch.Params, func(), error) {
		cleanup()
		return nil, nil, e
	}
	argv, env, path, err := s.program(j)
	if err != nil {
		return fail(startErr("no-program", err))
	}
	lp := &launch.Params{Path: path, Argv: argv, Env: env, UID: -1, GID: -1, Umask: -1, LandlockFD: -1, LastCap: int(s.lastCap)}

	for _, ns := range p.Setns {
		fd, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(startErr("setns", fmt.Errorf("open namespace %s: %w", ns, err)))
		}
		opened = append(opened, fd)
		lp.Setns = append(lp.Setns, launch.Namespace{FD: fd})
	}
	for _, w := range p.Writes {
		lp.Writes = append(lp.Writes, launch.FileWrite{Path: w.Path, Data: w.Data})
	}

	// Root and working directory. With any chroot, a directory outside the
	// new root must not become the cwd (dived bug 2): the client's cwd is
	// re-expressed as a path inside the root, or "/".
	chrooted := false
	rootPath := ""
	switch {
	case p.ClientRoot && j.root >= 0:
		lp.UseRootFD, lp.RootFD = true, j.root
		chrooted, rootPath = true, fdPath(j.root)
	case p.Chroot != "":
		lp.Chroot = p.Chroot
		chrooted = true
		if r, err := filepath.EvalSymlinks(p.Chroot); err == nil {
			rootPath, _ = filepath.Abs(r)
		}
	}
	switch {
	case p.RootToCwd:
		lp.Dir = "/"
	case !p.NoClientCwd && j.cwd >= 0 && !chrooted:
		lp.UseDirFD, lp.DirFD = true, j.cwd
	case !p.NoClientCwd && j.cwd >= 0:
		lp.Dir = "/"
		if rootPath != "" {
			if in := within(rootPath, fdPath(j.cwd)); in != "" {
				lp.Dir = in
			}
		}
	case p.Chdir != "" && chrooted:
		fd, err := unix.Open(p.Chdir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(startErr("chdir", fmt.Errorf("open %s: %w", p.Chdir, err)))
		}
		opened = append(opened, fd)
		lp.UseDirFD, lp.DirFD = true, fd
	case p.Chdir != "":
		lp.Dir = p.Chdir
	case chrooted:
		lp.Dir = "/"
	}

	// The fd table: the client's descriptors at their numbers. The
	// terminal is never an entry (dived bug 4).
	if p.NoClientFDs {
		lp.Files = []int{0, 1, 2}
	} else {
		n := 0
		for _, f := range j.fds {
			n = max(n, f.target+1)
		}
		lp.Files = make([]int, n)
		for i := range lp.Files {
			lp.Files[i] = -1
		}
		for _, f := range j.fds {
			if chrooted && isDir(f.fd) {
				s.log.Info("directory descriptor not passed into a chroot", "fd", f.target, "peer_uid", j.peer.UID)
				continue
			}
			lp.Files[f.target] = f.fd
		}
	}
	lp.Setsid = !p.NoSetsid
	if j.terminal >= 0 && lp.Setsid && !p.NoCtty {
		if t, ok := cttySlot(j.terminal, lp.Files); ok {
			lp.Setctty, lp.Ctty = true, t
		}
	}
	if !p.NoClientUmask && j.umask >= 0 {
		lp.Umask = j.umask
	}
	for _, r := range p.Rlimits {
		lp.Rlimits = append(lp.Rlimits, launch.Rlimit{Resource: r.Resource, Cur: r.Soft, Max: r.Hard})
	}
	if p.LockSecurebits {
		lp.SetSecurebits, lp.Securebits = true, 0x1f // KEEP_CAPS, NO_SETUID_FIXUP(+LOCKED), NOROOT(+LOCKED)
	}
	switch {
	case p.HasRetainCaps:
		lp.DropBounding, lp.KeepBounding = true, p.RetainCaps
	case p.HasRemoveCaps:
		lp.DropBounding, lp.KeepBounding = true, ^p.RemoveCaps
	}

	if !p.NoSetuid {
		id, err := s.resolveIdentity(j.peer)
		if err != nil {
			return fail(startErr("identity", err))
		}
		same := id.uid == s.euid && id.gid == s.egid && len(p.Groups) == 0
		if p.EffectiveUser != "" {
			eu, err := s.db.lookupUser(p.EffectiveUser)
			if err != nil {
				return fail(startErr("identity", err))
			}
			lp.SetEffective = true
			lp.EUID, lp.EGID = int(eu.uid), int(eu.gid)
			same = false
		}
		if !same {
			lp.SetGroups, lp.Groups = true, id.groups
			lp.UID, lp.GID = id.uid, id.gid
		}
	}
	var amb uint64
	for _, c := range p.AmbientCaps {
		amb |= 1 << uint(c)
		lp.Ambient = append(lp.Ambient, c)
	}
	if p.SetCaps || amb != 0 {
		lp.SetCaps = true
		lp.Effective, lp.Permitted, lp.Inherited = p.CapEff|amb, p.CapPerm|amb, p.CapInh|amb
	}
	// A client-chosen root must not meet setuid binaries (dived bug 1).
	lp.NoNewPrivs = p.NoNewPrivs || (p.ClientRoot && j.root >= 0)
	return lp, cleanup, nil
}

func isDir(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// cttySlot finds the child fd that is the same terminal as term: TIOCSCTTY
// needs a descriptor in the program, and the terminal itself never takes a
// slot of its own.
func cttySlot(term int, files []int) (int, bool) {
	var ts unix.Stat_t
	if unix.Fstat(term, &ts) != nil || ts.Mode&unix.S_IFMT != unix.S_IFCHR {
		return 0, false
	}
	if _, err := unix.IoctlGetTermios(term, unix.TCGETS); err != nil {
		return 0, false // not a terminal (e.g. /dev/null on fd 0)
	}
	for i, fd := range files {
		var st unix.Stat_t
		if fd >= 0 && unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == ts.Rdev {
			return i, true
		}
	}
	return 0, false
}

// diveStatus is what protocol 1100 reports: the exit code, or the signal
// number when the program was killed.
func diveStatus(ws unix.WaitStatus) int32 {
	if ws.Signaled() {
		return int32(ws.Signal())
	}
	return int32(ws.ExitStatus())
}
