package chain

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit statuses of ExecDived, dived's own for the same failures.
const (
	divedExitSetup   = 23  // setns, write, chdir, chroot, pivot_root
	divedExitAccount = 13  // user or group not found
	divedExitNoUser  = 112 // -u names no user, and no -g
	divedExitSyscall = 255 // securebits, rlimit, ids, capabilities (dived returned -1)
	divedExitExec    = 127 // execvp failed
)

// ExecDived applies d to this process and execs d.Command; it returns only
// on failure, with dived's exit status for that failure. Steps, in dived's
// per-connection order: setns, writes, chdir/chroot, pivot_root, setsid,
// securebits, rlimits, bounding set, groups and ids (unless NoSetuid),
// capability sets, ambient capabilities, no_new_privs, exec. Names are
// resolved in the host's /etc/passwd and /etc/group before the first step.
//
// Preconditions: called from the main goroutine; it locks the goroutine to
// its OS thread for good (capabilities, securebits, no_new_privs and
// namespaces are per-thread, and only the thread that execs carries them).
func ExecDived(d DivedExec) int {
	runtime.LockOSThread()
	fail := func(code int, err error) int {
		fmt.Fprintf(os.Stderr, "dived: %v\n", err)
		return code
	}
	if len(d.Command) == 0 {
		return fail(4, errors.New("no command"))
	}
	o := execOptions{setns: d.Setns, command: d.Command}
	if !d.NoSetuid {
		o.user = d.User
		if len(d.Groups) > 0 {
			// Without -u, dived -J set only the supplementary list.
			o.groups = strings.Join(d.Groups, ",")
			if d.User != "" {
				o.group = d.Groups[0]
			}
		}
	}
	db := hostDB()
	p, err := planExec(o, db, environ(os.Environ()))
	if err != nil {
		switch {
		case strings.HasPrefix(stepOf(err), "setns"):
			return fail(divedExitSetup, err)
		case d.User != "" && len(d.Groups) == 0 && strings.HasPrefix(stepOf(err), "resolve user"):
			return fail(divedExitNoUser, err)
		}
		return fail(divedExitAccount, err)
	}
	defer p.closeNamespaces()

	// -e: real ids stay the target's, effective and saved become U's.
	setEff, euid, egid := false, 0, 0
	if d.EffectiveUser != "" && !d.NoSetuid {
		acct, err := lookupUserSpec(db, d.EffectiveUser)
		if err != nil {
			return fail(divedExitAccount, stepErr("resolve effective user "+d.EffectiveUser, err))
		}
		setEff, euid, egid = true, acct.uid, acct.gid
		if acct.name == "" {
			// A bare number: dived kept the target's gid as effective gid.
			egid = -1
		}
	}
	var chdirFD = -1
	if d.Chdir != "" && d.Chroot != "" {
		if chdirFD, err = unix.Open(d.Chdir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fail(divedExitSetup, stepErr("open "+d.Chdir+" for later chdir", err))
		}
	}

	type step struct {
		code int
		run  func() error
	}
	var steps []step
	add := func(code int, run func() error) { steps = append(steps, step{code, run}) }
	for _, ns := range p.namespaces {
		add(divedExitSetup, ns.join)
	}
	for _, w := range d.Writes {
		add(divedExitSetup, func() error {
			fd, err := unix.Open(w.Path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o777)
			if err != nil {
				return stepErr("write "+w.Path, err)
			}
			defer unix.Close(fd)
			if _, err := unix.Write(fd, []byte(w.Data)); err != nil {
				return stepErr("write "+w.Path, err)
			}
			return nil
		})
	}
	switch {
	case d.Chroot != "":
		add(divedExitSetup, func() error {
			if err := syscall.Chroot(d.Chroot); err != nil {
				return stepErr("chroot "+d.Chroot, err)
			}
			if chdirFD >= 0 {
				if err := unix.Fchdir(chdirFD); err != nil {
					return stepErr("chdir "+d.Chdir, err)
				}
				return nil
			}
			return nil
		})
	case d.Chdir != "":
		add(divedExitSetup, func() error {
			if err := syscall.Chdir(d.Chdir); err != nil {
				return stepErr("chdir "+d.Chdir, err)
			}
			return nil
		})
	}
	if d.PivotRoot != "" {
		add(divedExitSetup, func() error {
			if err := unix.PivotRoot(d.PivotRoot, d.PutOld); err != nil {
				return stepErr("pivot_root "+d.PivotRoot+" "+d.PutOld, err)
			}
			return nil
		})
	}
	if d.Setsid {
		add(0, func() error {
			// As dived: leave a process group this process leads, so that
			// setsid can succeed; a failure is not fatal (dived ignored it).
			unix.Setpgid(0, unix.Getppid())
			unix.Setsid()
			return nil
		})
	}
	keepCaps := (d.SetCaps && d.Permitted != 0) || len(d.Ambient) > 0
	if d.SetSecurebits || keepCaps {
		bits := d.Securebits
		if !d.SetSecurebits {
			bits = 1 << securebitNames["keep-caps"] // dived set it for -c
		}
		add(divedExitSyscall, func() error {
			if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(bits), 0, 0, 0); err != nil {
				return stepErr(fmt.Sprintf("securebits %#x", bits), err)
			}
			return nil
		})
	}
	for _, r := range d.Rlimits {
		add(divedExitSyscall, func() error {
			if err := setrlimit(r.Resource, syscall.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
				return stepErr(fmt.Sprintf("setrlimit %d", r.Resource), err)
			}
			return nil
		})
	}
	if d.SetBounding {
		add(divedExitSyscall, func() error {
			if err := dropBoundingExcept(capSet(d.KeepBounding)); err != nil {
				return stepErr("bounding set", err)
			}
			return nil
		})
	}
	if p.setGroups {
		add(divedExitSyscall, p.applyGroups)
	}
	switch {
	case setEff:
		add(divedExitSyscall, func() error {
			rgid, ruid := unix.Getgid(), unix.Getuid()
			if p.setGID {
				rgid = p.gid
			}
			if p.setUID {
				ruid = p.uid
			}
			if egid < 0 {
				egid = rgid
			}
			if err := syscall.Setresgid(rgid, egid, egid); err != nil {
				return stepErr(fmt.Sprintf("setresgid %d %d", rgid, egid), err)
			}
			if err := syscall.Setresuid(ruid, euid, euid); err != nil {
				return stepErr(fmt.Sprintf("setresuid %d %d", ruid, euid), err)
			}
			return nil
		})
	default:
		if p.setGID {
			add(divedExitSyscall, func() error { return applyID("setgid", p.gid, unix.Getresgid, syscall.Setresgid) })
		}
		if p.setUID {
			add(divedExitSyscall, func() error { return applyID("setuid", p.uid, unix.Getresuid, syscall.Setresuid) })
		}
	}
	if d.SetCaps || len(d.Ambient) > 0 {
		var amb capSet
		for _, c := range d.Ambient {
			amb |= 1 << uint(c)
		}
		add(divedExitSyscall, func() error {
			c := threadCaps{effective: capSet(d.Effective) | amb, permitted: capSet(d.Permitted) | amb, inheritable: capSet(d.Inheritable) | amb}
			if err := setThreadCaps(c); err != nil {
				return stepErr("capset", err)
			}
			if err := raiseAmbient(amb); err != nil {
				return stepErr("ambient capabilities", err)
			}
			return nil
		})
	}
	if d.NoNewPrivs {
		add(divedExitSyscall, func() error {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return stepErr("no_new_privs", err)
			}
			return nil
		})
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return fail(s.code, err)
		}
	}
	path, ok := p.env.get("PATH")
	err = execSearch(d.Command[0], d.Command, p.env, path, ok, searchStyle{defaultPath: "/bin:/usr/bin"})
	return fail(divedExitExec, fmt.Errorf("execvp %s: %w", d.Command[0], err))
}
