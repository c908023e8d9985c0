package stage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// SpawnOptions says how stage 1 is started.
type SpawnOptions struct {
	// Exe is the sealed executable to run (see SealedSelf).
	Exe *os.File
	// Cloneflags are the CLONE_NEW* flags of the namespaces to create; they
	// must include CLONE_NEWUSER.
	Cloneflags uintptr
	// UIDMap and GIDMap are written by stage 0 before stage 1 runs.
	UIDMap, GIDMap []syscall.SysProcIDMap
	// Setgroups allows setgroups(2) in the new user namespace (only a
	// privileged caller may allow it alongside a gid map).
	Setgroups bool
	// UID and GID are stage 1's ids inside the new user namespace; it keeps
	// every capability there as an ambient capability.
	UID, GID uint32
	// LastCap is the highest capability number the kernel knows.
	LastCap int
	// Stdin, Stdout, Stderr and ExtraFiles become the program's fds 0, 1, 2
	// and 3.... They follow os/exec.Cmd's rules: non-*os.File values are
	// copied by goroutines.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ExtraFiles     []*os.File
}

// Process is a running stage 1.
type Process struct {
	cmd *exec.Cmd
	ctl *os.File
}

// Spawn starts stage 1 with cfg and returns once it is running; the program
// itself starts later, which Next reports.
//
// Stage 1 lives as long as the calling process: it exits when stage 0's end
// of the control socket closes (PR_SET_PDEATHSIG is not used: it follows the
// forking thread, which Go may end while the process goes on).
func Spawn(cfg *Config, o SpawnOptions) (*Process, error) {
	if o.Cloneflags&unix.CLONE_NEWUSER == 0 {
		return nil, errors.New("stage 1 needs a new user namespace")
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("config pipe: %w", err)
	}
	defer cfgR.Close()
	defer cfgW.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Credentials let stage 1 tell us the program's pid in our namespace.
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return nil, fmt.Errorf("control socket: SO_PASSCRED: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "control")
	theirs := os.NewFile(uintptr(pair[1]), "control")
	defer theirs.Close()

	ambient := make([]uintptr, 0, o.LastCap+1)
	for c := 0; c <= o.LastCap; c++ {
		ambient = append(ambient, uintptr(c))
	}
	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", o.Exe.Fd()),
		Args:       []string{"cove-init"},
		Env:        []string{marker + "=init"},
		Stdin:      o.Stdin,
		Stdout:     o.Stdout,
		Stderr:     o.Stderr,
		ExtraFiles: append([]*os.File{cfgR, theirs}, o.ExtraFiles...),
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 o.Cloneflags,
			UidMappings:                o.UIDMap,
			GidMappings:                o.GIDMap,
			GidMappingsEnableSetgroups: o.Setgroups,
			Credential:                 &syscall.Credential{Uid: o.UID, Gid: o.GID, NoSetGroups: !o.Setgroups},
			AmbientCaps:                ambient,
		},
	}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, ctl: ours}
	cfgR.Close()
	theirs.Close()
	if err := json.NewEncoder(cfgW).Encode(cfg); err != nil {
		// Stage 1 died before reading its config; its status says why.
		return p, nil
	}
	cfgW.Close()
	return p, nil
}

// Pid returns stage 1's pid (in the caller's PID namespace).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Next returns the next control message and any fds that came with it. It
// returns io.EOF once stage 1 has exited.
func (p *Process) Next() (Msg, []int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(int(p.ctl.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Msg{}, nil, fmt.Errorf("read control socket: %w", err)
		}
		if n == 0 && oobn == 0 {
			return Msg{}, nil, io.EOF
		}
		var fds []int
		hostPid := 0
		if oobn > 0 {
			cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil {
				for _, c := range cmsgs {
					if c.Header.Level != unix.SOL_SOCKET {
						continue
					}
					switch c.Header.Type {
					case unix.SCM_RIGHTS:
						if f, err := unix.ParseUnixRights(&c); err == nil {
							fds = append(fds, f...)
						}
					case unix.SCM_CREDENTIALS:
						if cr, err := unix.ParseUnixCredentials(&c); err == nil {
							hostPid = int(cr.Pid)
						}
					}
				}
			}
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			closeAll(fds)
			return Msg{}, nil, errors.New("control message truncated")
		}
		var m Msg
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			closeAll(fds)
			return Msg{}, nil, fmt.Errorf("bad control message: %w", err)
		}
		if m.Type == "started" {
			m.HostPid = hostPid
		}
		return m, fds, nil
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Signal sends sig to stage 1, which forwards it to the program.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills stage 1 and with it the whole sandbox.
func (p *Process) Kill() error { return p.cmd.Process.Kill() }

// Wait waits for stage 1 to exit and releases its resources. It returns
// stage 1's own wait status.
func (p *Process) Wait() (*os.ProcessState, error) {
	err := p.cmd.Wait()
	p.ctl.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil
	}
	return p.cmd.ProcessState, err
}
