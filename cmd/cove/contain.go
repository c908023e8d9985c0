package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/idmap"
	"github.com/covebox/cove/internal/registry"
	"github.com/covebox/cove/spec"
)

const containUsage = `Usage: cove contain [OPTIONS] ROOTFS [COMMAND [ARG...]]

Run COMMAND (default /bin/sh) as root of a rootless container whose root is the
directory ROOTFS: new user, mount, PID, IPC, UTS, network, cgroup and time
namespaces; a synthetic /dev (null zero full random urandom tty, its own devpts,
shm, /dev/console); a new /proc; a read-only /sys and the cgroup2 hierarchy
where the kernel allows; environment container=cove (and TERM with a console);
every capability of the container's user namespace, no_new_privs and the
default seccomp policy with mounting allowed. The host root is pivoted away
and detached.

Ids: you are uid and gid 0 inside. The ids /etc/subuid and /etc/subgid
delegate to you are mapped at 1, 2, ... (newuidmap/newgidmap, Debian package
uidmap); without delegated ids only your own id is mapped. Run by root,
inside 0 is host id 4294967294 and every other id maps to itself: host root is
never mapped.

Options:
  --name NAME         register the container as NAME while it runs: cove ps
                      lists it, cove inject NAME enters it; NAME is 1-64
                      letters, digits, '_', '.', '-' (not only digits) and
                      must not be in use (see cove ps --help)
  --hostname NAME     the container's hostname (default: the --name, else cove)
  --net none|host     none (default): own network namespace with lo up;
                      host: share the host's network (and no /sys)
  --no-console        pass stdio through instead of a console pseudo-terminal
                      (the default when stdin is not a terminal)
  --uid-map MAP, --gid-map MAP
                      explicit maps, INSIDE:OUTSIDE:COUNT[,...] (arachsys
                      syntax), instead of the defaults above; both or neither.
                      They may use only your own id and your delegated ranges
                      (root: anything but host id 0)
  --hook-inside CMD   run /bin/sh -c CMD inside the new namespaces before the
                      pivot, as the container's root, with the new root as
                      working directory and the host's root as root (e.g.
                      mount --bind /srv/data ./data); repeatable
  --hook-outside CMD  run /bin/sh -c CMD outside, with your privileges, once
                      the namespaces exist; COVE_PID is the container init's
                      pid (e.g. ip link set veth1 netns $COVE_PID); repeatable

Exit status: COMMAND's; 128+N if it was killed by signal N; 125 if cove failed
before it started; 126 not executable; 127 not found (no PATH search outside
the container: COMMAND is looked up in the container's default PATH).

Signals: INT, TERM, HUP, QUIT, USR1 and USR2 sent to cove go to COMMAND
(through the container's init); one that cove's caller ignored stays ignored.
`

func containMain(args []string, stdout, stderr io.Writer) int {
	o := spec.ContainOptions{}
	console := "auto"
	var inside, outside []string
	var uidMap, gidMap []spec.IDRange
	name := ""
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		args = args[1:]
		need := func() (string, bool) {
			if len(args) == 0 {
				fmt.Fprintf(stderr, "cove contain: %s needs a value\n", a)
				return "", false
			}
			v := args[0]
			args = args[1:]
			return v, true
		}
		switch a {
		case "-h", "--help":
			fmt.Fprint(stdout, containUsage)
			return 0
		case "--":
			goto done
		case "--hostname":
			v, ok := need()
			if !ok {
				return exitSetup
			}
			o.Hostname = v
		case "--name":
			v, ok := need()
			if !ok {
				return exitSetup
			}
			if err := registry.ValidateName(v); err != nil {
				fmt.Fprintf(stderr, "cove contain: --name: %v\n", err)
				return exitSetup
			}
			name = v
		case "--net":
			v, ok := need()
			if !ok {
				return exitSetup
			}
			switch v {
			case "none":
				o.HostNet = false
			case "host":
				o.HostNet = true
			default:
				fmt.Fprintf(stderr, "cove contain: --net %q: want none or host\n", v)
				return exitSetup
			}
		case "--no-console":
			console = "never"
		case "--uid-map", "--gid-map":
			v, ok := need()
			if !ok {
				return exitSetup
			}
			m, err := idmap.Parse(v)
			if err != nil {
				fmt.Fprintf(stderr, "cove contain: %s: %v\n", a, err)
				return exitSetup
			}
			var r []spec.IDRange
			for _, e := range m {
				r = append(r, spec.IDRange{Inside: uint32(e.ContainerID), Outside: uint32(e.HostID), Count: uint32(e.Size)})
			}
			if a == "--uid-map" {
				uidMap = r
			} else {
				gidMap = r
			}
		case "--hook-inside", "--hook-outside":
			v, ok := need()
			if !ok {
				return exitSetup
			}
			if a == "--hook-inside" {
				inside = append(inside, v)
			} else {
				outside = append(outside, v)
			}
		default:
			fmt.Fprintf(stderr, "cove contain: unknown option %s (see 'cove contain --help')\n", a)
			return exitSetup
		}
	}
done:
	if len(args) == 0 {
		fmt.Fprintln(stderr, "cove contain: no ROOTFS given (usage: cove contain [OPTIONS] ROOTFS [COMMAND [ARG...]])")
		return exitSetup
	}
	rootfs := args[0]
	command := args[1:]
	if len(command) == 0 {
		command = []string{"/bin/sh"}
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		fmt.Fprintf(stderr, "cove contain: rootfs %s: %v\n", rootfs, oneLineErr(err))
		return exitSetup
	}
	if name != "" && o.Hostname == "" {
		o.Hostname = name
	}
	s := spec.Contain(rootfs, o)
	s.Hooks = spec.Hooks{Inside: inside, Outside: outside}
	if len(uidMap)+len(gidMap) > 0 {
		if len(uidMap) == 0 || len(gidMap) == 0 {
			fmt.Fprintln(stderr, "cove contain: --uid-map and --gid-map go together")
			return exitSetup
		}
		s.IDs.UIDMap, s.IDs.GIDMap = uidMap, gidMap
	}
	var claim *nameClaim
	if name != "" {
		c, err := claimName(name)
		if err != nil {
			fmt.Fprintf(stderr, "cove contain: %s\n", oneLine(err))
			return exitSetup
		}
		claim = c
		defer claim.release() // every return below, once the container ended
	}
	cmd := cove.Command(s, command[0], command[1:]...)
	// The CLI starts no other user-namespace child while the sandbox
	// runs, so its init may share cove's memory (see Cmd.SharedInit).
	cmd.SharedInit = true
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	term, err := startTerminal(cmd, console)
	if err != nil {
		fmt.Fprintf(stderr, "cove contain: %v\n", err)
		return exitSetup
	}
	if term.slave != nil {
		// The console: our pty's slave, bound at /dev/console.
		s.Filesystem = append(s.Filesystem, spec.Mount{Type: spec.Bind, Src: term.slave.Name(), Dst: "/dev/console"})
		if t := os.Getenv("TERM"); t != "" {
			s.Env.Set = append(s.Env.Set, spec.EnvVar{Name: "TERM", Value: t})
		}
	}
	sigs, err := catchSignals()
	if err != nil {
		term.restore()
		fmt.Fprintf(stderr, "cove contain: %v\n", err)
		return exitSetup
	}
	if err := cmd.Start(); err != nil {
		term.restore()
		var se *cove.SetupError
		if errors.As(err, &se) {
			switch se.Code {
			case exitNotFound:
				fmt.Fprintf(stderr, "cove contain: %s: command not found in the container\n", command[0])
			case exitNotExec:
				fmt.Fprintf(stderr, "cove contain: %s: cannot execute: %v\n", command[0], errnoText(se))
			default:
				msg := oneLine(se)
				for field, flag := range map[string]string{"ids.uid_map": "--uid-map", "ids.gid_map": "--gid-map"} {
					msg = strings.Replace(msg, field+":", flag+":", 1)
				}
				fmt.Fprintf(stderr, "cove contain: %s\n", msg)
			}
			return se.Code
		}
		fmt.Fprintf(stderr, "cove contain: %s\n", oneLine(err))
		return exitSetup
	}
	// As in cove run: a long-running container's supervisor gives back
	// what it does not need while it waits.
	time.AfterFunc(idleAfter, releaseIdle)

	if claim != nil {
		abs, _ := filepath.Abs(rootfs)
		if err := claim.register(cmd, abs, ""); err != nil {
			cmd.Kill()
			cmd.Wait()
			term.restore()
			fmt.Fprintf(stderr, "cove contain: %s\n", oneLine(err))
			return exitSetup
		}
	}
	term.started()
	passSignals(sigs, cmd)
	err = cmd.Wait()
	term.finish()
	if st := cmd.Status(); st != nil {
		return st.Code
	}
	fmt.Fprintf(stderr, "cove contain: %s\n", oneLine(err))
	return exitSetup
}

func oneLineErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return oneLine(err)
}
