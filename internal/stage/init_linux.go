package stage

import (
	"encoding/json"
	"errors"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/landlock"
	"github.com/covebox/cove/internal/launch"
	"github.com/covebox/cove/internal/mount"
)

// Dispatch runs stage 1 and exits if this process was started as stage 1;
// otherwise it returns at once. Call it before anything else runs: package
// cove calls it from init.
func Dispatch() {
	if os.Getenv(marker) != "init" {
		return
	}
	runtime.LockOSThread()
	os.Exit(runInit())
}

// Forwarded lists the signals a sandbox init passes on to the program.
// SIGCHLD is handled, not forwarded; SIGKILL and SIGSTOP cannot be caught.
func Forwarded() []syscall.Signal {
	return []syscall.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGALRM,
		unix.SIGPIPE,
	}
}

// runInit is stage 1: PID 1 of the new namespaces.
//
// Preconditions: started by Spawn, with the config pipe at configFD and the
// control socket at controlFD, holding every capability of its new user
// namespace (as ambient capabilities).
func runInit() int {
	ctl := controlFD
	cfg, err := readConfig()
	if err != nil {
		return sendError(ctl, "read config", err, 125)
	}
	// The program inherits our OOM score; set it while our /proc files
	// are still ours.
	if adj := cfg.Payload.OOMScoreAdj; adj != nil {
		w := OOMWrite(*adj)
		if err := os.WriteFile(w.Path, []byte(w.Data), 0); err != nil {
			return sendError(ctl, "oom_score_adj", err, 125)
		}
	}
	// Nothing in the sandbox may ptrace us or open our /proc files.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	name := []byte("cove-init\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	sigs := make(chan os.Signal, 32)
	notify := []os.Signal{unix.SIGCHLD}
	for _, s := range Forwarded() {
		notify = append(notify, s)
	}
	signal.Notify(sigs, notify...)

	if cfg.Plan != nil {
		if err := mount.Build(cfg.Plan); err != nil {
			return sendError(ctl, "mount", err, 125)
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return sendError(ctl, "hostname", err, 125)
		}
	}
	if cfg.Loopback {
		if err := loopbackUp(); err != nil {
			return sendError(ctl, "loopback", err, 125)
		}
	}
	files := []int{0, 1, 2}
	for i := 0; i < cfg.Payload.Extra; i++ {
		files = append(files, firstExtraFD+i)
	}
	pl := cfg.Payload
	pl.OOMScoreAdj = nil // set on ourselves above, inherited
	p, cleanup, err := LaunchParams(&pl, files)
	if err != nil {
		return sendError(ctl, "prepare", err, 125)
	}
	// Landlock rules name paths inside the sandbox, so they are opened here,
	// after the pivot; the launcher only enforces the prepared ruleset.
	if ll := cfg.Payload.Landlock; len(ll.RO)+len(ll.RW)+len(ll.Exec) > 0 {
		rs, err := landlock.Prepare(landlock.Rules{RO: ll.RO, RW: ll.RW, Exec: ll.Exec})
		if err != nil {
			return sendError(ctl, "landlock", err, 125)
		}
		defer rs.Close()
		p.LandlockFD = rs.FD
	}
	pid, err := launch.Start(p)
	cleanup()
	if err != nil {
		return sendError(ctl, launchStep(err), err, launchExitCode(err))
	}
	// The pidfd and the credentials travel together; the kernel rewrites
	// the credentials' pid into stage 0's PID namespace, which is how stage 0
	// learns the program's host pid even if it has already exited (it stays
	// a zombie until we reap it below).
	var oob []byte
	if pidfd, err := unix.PidfdOpen(pid, 0); err == nil {
		oob = unix.UnixRights(pidfd)
		defer unix.Close(pidfd)
	}
	oob = append(oob, unix.UnixCredentials(&unix.Ucred{Pid: int32(pid), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})...)
	sendOOB(ctl, Msg{Type: "started", Pid: pid}, oob)

	parentGone := make(chan struct{})
	go watchParent(ctl, parentGone)
	for {
		select {
		case s := <-sigs:
			if s != unix.SIGCHLD {
				unix.Kill(pid, s.(syscall.Signal))
			}
		case <-parentGone:
			// Stage 0 died: exiting takes the whole PID namespace with us.
			return 128 + int(unix.SIGKILL)
		}
		// Reap every zombie; the program's own status ends the sandbox.
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil)
			if err == unix.EINTR {
				continue
			}
			if wpid <= 0 || err != nil {
				break
			}
			if wpid != pid || !(ws.Exited() || ws.Signaled()) {
				continue
			}
			m := Msg{Type: "exit"}
			if ws.Signaled() {
				m.Signal = int(ws.Signal())
				m.Code = 128 + m.Signal
			} else {
				m.Code = ws.ExitStatus()
			}
			send(ctl, m)
			return m.Code
		}
	}
}

func readConfig() (*Config, error) {
	f := os.NewFile(configFD, "config")
	defer f.Close()
	var cfg Config
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// watchParent closes gone when stage 0's end of the control socket closes.
func watchParent(ctl int, gone chan<- struct{}) {
	buf := make([]byte, 64)
	for {
		n, _, err := unix.Recvfrom(ctl, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if n == 0 || err != nil {
			close(gone)
			return
		}
	}
}

func send(ctl int, m Msg) { sendOOB(ctl, m, nil) }

func sendOOB(ctl int, m Msg, oob []byte) {
	b, _ := json.Marshal(m)
	for {
		err := unix.Sendmsg(ctl, b, oob, nil, 0)
		if err != unix.EINTR {
			return
		}
	}
}

func sendError(ctl int, step string, err error, code int) int {
	m := Msg{Type: "error", Step: step, Message: err.Error(), Code: code}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	}
	send(ctl, m)
	return code
}

func launchStep(err error) string {
	var le *launch.Error
	if errors.As(err, &le) {
		return le.Step.String()
	}
	return "launch"
}

// launchExitCode maps a launcher failure to cove's exit status: 127 when the
// command does not exist, 126 when it exists but cannot be executed, 125 for
// every other setup failure.
func launchExitCode(err error) int {
	var le *launch.Error
	if !errors.As(err, &le) || le.Step != launch.StepExec {
		return 125
	}
	switch le.Errno {
	case unix.ENOENT, unix.ENOTDIR:
		return 127
	}
	return 126
}

// LaunchParams turns the Payload into launcher parameters; files is the
// program's fd table (see launch.Params.Files). cleanup releases what the
// parameters hold open once the launcher has run.
func LaunchParams(pl *Payload, files []int) (*launch.Params, func(), error) {
	if len(pl.Argv) == 0 {
		return nil, func() {}, errors.New("empty command")
	}
	p := &launch.Params{
		Path: candidates(pl.Path, pl.Env), Argv: pl.Argv, Env: pl.Env,
		Setsid: true, Setctty: pl.Setctty, Files: files, Dir: pl.Dir, Umask: pl.Umask,
		Rlimits: pl.Rlimits, SetSecurebits: pl.SetSecurebits, Securebits: pl.Securebits,
		DropBounding: pl.DropBounding, KeepBounding: pl.KeepBounding, LastCap: pl.LastCap,
		SetGroups: pl.SetGroups, UID: pl.UID, GID: pl.GID,
		SetCaps: true, Effective: pl.Effective, Permitted: pl.Permitted, Inherited: pl.Inheritable,
		Ambient: pl.Ambient, NoNewPrivs: pl.NoNewPrivs, LandlockFD: -1, Seccomp: pl.Seccomp,
		Pdeathsig: unix.SIGKILL,
	}
	if pl.KeepCaps {
		p.SetCaps, p.DropBounding, p.Ambient = false, false, nil
	}
	if pl.Nice != nil {
		p.SetNice, p.Nice = true, *pl.Nice
	}
	if pl.OOMScoreAdj != nil {
		p.Writes = append(p.Writes, OOMWrite(*pl.OOMScoreAdj))
	}
	return p, func() {}, nil
}

// OOMWrite is the file write that sets a process's own OOM score
// adjustment, which its children inherit. It must run while the writer is
// still dumpable: a non-dumpable process's /proc files belong to root.
func OOMWrite(adj int) launch.FileWrite {
	return launch.FileWrite{Path: "/proc/self/oom_score_adj", Data: strconv.Itoa(adj)}
}

// defaultPath is used when the program's environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// candidates lists the paths execvp would try for name, in order.
func candidates(name string, env []string) []string {
	if strings.Contains(name, "/") {
		return []string{name}
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
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
