package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/mount"
	"github.com/covebox/cove/internal/registry"
	"github.com/covebox/cove/internal/rlimit"
	"github.com/covebox/cove/spec"
)

// runFlags is what `cove run` collects besides the Spec.
type runFlags struct {
	s          *spec.Spec
	opFlag     map[int]string // Spec filesystem index → the flag that added it
	jsonStatus int
	passFds    []int
	tty        string // auto, always, never
	name       string // --name
	hostname   bool   // --hostname was given
}

func runOptions(f *runFlags) *optionSet {
	fs := func(t spec.MountType, src, dst, flag string) {
		f.opFlag[len(f.s.Filesystem)] = flag
		f.s.Filesystem = append(f.s.Filesystem, spec.Mount{Type: t, Src: src, Dst: dst})
	}
	bind := func(t spec.MountType, optional bool) func([]string) error {
		return func(v []string) error {
			fs(t, v[0], v[1], "--"+string(t)+" "+v[0]+" "+v[1])
			f.s.Filesystem[len(f.s.Filesystem)-1].Optional = optional
			return nil
		}
	}
	one := func(t spec.MountType) func([]string) error {
		return func(v []string) error { fs(t, "", v[0], "--"+string(t)+" "+v[0]); return nil }
	}
	sec := &f.s.Security
	return &optionSet{
		cmd:   "cove run",
		usage: "Usage: cove run [OPTIONS] [--] COMMAND [ARG...]\n\nRun COMMAND in a new sandbox. With no options it gets the built-in default\nprofile: new user, mount, pid, ipc, uts, net and cgroup namespaces; /usr and\n/etc read-only; private /tmp and $HOME; a new /proc and a minimal /dev; only\nloopback networking; hostname 'cove'; no capabilities; no_new_privs; the\ndefault seccomp filter. Filesystem options apply in the order given, after\nthe profile's own operations.",
		options: []option{
			{name: "profile", args: []string{"NAME|FILE"}, help: "start from a built-in profile (default, minimal, no-namespaces) or a TOML/JSON\nprofile file; always applied first, wherever it appears", apply: func(v []string) error { return nil }},
			{name: "no-namespaces", help: "for hosts without user namespaces: no namespaces; Landlock confines files\n(system dirs executable, /etc /proc read-only, /tmp /dev writable, plus\n--landlock-* paths), seccomp and no_new_privs as by default (= --profile\nno-namespaces; applied first)", apply: func(v []string) error { return nil }},
			{name: "ro-bind", args: []string{"SRC", "DST"}, help: "bind host path SRC read-only (nosuid, nodev, recursive) at DST", apply: bind(spec.ROBind, false)},
			{name: "ro-bind-try", args: []string{"SRC", "DST"}, help: "like --ro-bind, but skip it if SRC does not exist", apply: bind(spec.ROBind, true)},
			{name: "bind", args: []string{"SRC", "DST"}, help: "bind host path SRC read-write (nosuid, nodev) at DST", apply: bind(spec.Bind, false)},
			{name: "bind-try", args: []string{"SRC", "DST"}, help: "like --bind, but skip it if SRC does not exist", apply: bind(spec.Bind, true)},
			{name: "dev-bind", args: []string{"SRC", "DST"}, help: "like --bind, but allow device access", apply: bind(spec.DevBind, false)},
			{name: "tmpfs", args: []string{"DST"}, help: "mount an empty tmpfs at DST", apply: one(spec.Tmpfs)},
			{name: "dev", args: []string{"DST"}, help: "mount a minimal /dev at DST (null zero full random urandom tty, pts, shm)", apply: one(spec.Dev)},
			{name: "proc", args: []string{"DST"}, help: "mount a new procfs for the sandbox's PID namespace at DST", apply: one(spec.Proc)},
			{name: "dir", args: []string{"DST"}, help: "create directory DST", apply: one(spec.Dir)},
			{name: "symlink", args: []string{"TARGET", "DST"}, help: "create symlink DST pointing to TARGET", apply: func(v []string) error {
				fs(spec.Symlink, v[0], v[1], "--symlink "+v[0]+" "+v[1])
				return nil
			}},
			{name: "remount-ro", args: []string{"DST"}, help: "make the mount at DST read-only (recursively)", apply: one(spec.RemountRO)},
			{name: "share-cwd", help: "bind the current directory read-write at the same path and start there\n(with --no-namespaces: allow it read-write through Landlock)", apply: func([]string) error {
				wd, err := os.Getwd()
				if err != nil {
					return err
				}
				if f.s.Namespaces == (spec.Namespaces{}) {
					sec.Landlock.RW = append(sec.Landlock.RW, wd)
					f.s.Cwd = wd
					return nil
				}
				fs(spec.Bind, wd, wd, "--share-cwd ("+wd+")")
				f.s.Cwd = wd
				return nil
			}},
			{name: "chdir", args: []string{"DIR"}, help: "start in DIR inside the sandbox (default: $HOME, or / without one)", apply: func(v []string) error { f.s.Cwd = v[0]; return nil }},
			{name: "setenv", args: []string{"VAR", "VALUE"}, help: "set an environment variable", apply: func(v []string) error {
				f.s.Env.Set = append(f.s.Env.Set, spec.EnvVar{Name: v[0], Value: v[1]})
				return nil
			}},
			{name: "unsetenv", args: []string{"VAR"}, help: "remove an environment variable", apply: func(v []string) error {
				f.s.Env.Unset = append(f.s.Env.Unset, v[0])
				return nil
			}},
			{name: "clearenv", help: "start from an empty environment (then --setenv applies)", apply: func([]string) error {
				f.s.Env.Clear = true
				// Earlier --setenv values stay; later ones add to them.
				return nil
			}},
			{name: "hostname", args: []string{"NAME"}, help: "set the hostname (default: the --name, else the profile's: 'cove')", apply: func(v []string) error {
				f.s.Hostname, f.hostname = v[0], true
				return nil
			}},
			{name: "name", args: []string{"NAME"}, help: "register the sandbox as NAME while it runs: cove ps lists it, cove inject\nNAME enters it; NAME is 1-64 letters, digits, '_', '.', '-' (not only digits),\nnot in use; it is also the hostname unless --hostname is given", apply: func(v []string) error {
				if err := registry.ValidateName(v[0]); err != nil {
					return err
				}
				f.name = v[0]
				return nil
			}},
			{name: "net", args: []string{"none|host"}, help: "none: a new network namespace with only lo (default); host: share the host's network", apply: func(v []string) error {
				switch v[0] {
				case "none":
					f.s.Namespaces.Net = true
				case "host":
					f.s.Namespaces.Net = false
				default:
					return fmt.Errorf("%q: want none or host", v[0])
				}
				return nil
			}},
			{name: "uid", args: []string{"N"}, help: "run as uid N inside (your own uid is mapped to it)", apply: func(v []string) error {
				n, err := parseID(v[0])
				f.s.IDs.UID = &n
				return err
			}},
			{name: "gid", args: []string{"N"}, help: "run as gid N inside (your own gid is mapped to it)", apply: func(v []string) error {
				n, err := parseID(v[0])
				f.s.IDs.GID = &n
				return err
			}},
			{name: "map-root", help: "map yourself to uid/gid 0 inside (no capabilities come with it)", apply: func([]string) error { f.s.IDs.MapRoot = true; return nil }},
			{name: "map-host-root", help: "for a root caller: map host uid/gid 0 into the sandbox (by default root's\nsandbox runs as the unprivileged id 65534 on the host)", apply: func([]string) error { f.s.IDs.MapHostRoot = true; return nil }},
			{name: "umask", args: []string{"MODE"}, help: "set the file mode creation mask (octal)", apply: func(v []string) error {
				n, err := strconv.ParseUint(v[0], 8, 32)
				if err != nil || n > 0o777 {
					return fmt.Errorf("%q is not an octal mode", v[0])
				}
				m := uint32(n)
				f.s.Umask = &m
				return nil
			}},
			{name: "cap-add", args: []string{"CAP"}, help: "keep capability CAP (CAP_NET_ADMIN, net_admin, ALL); default: none", apply: func(v []string) error {
				sec.CapAdd = append(sec.CapAdd, v[0])
				return nil
			}},
			{name: "cap-drop", args: []string{"CAP"}, help: "drop capability CAP (after --cap-add ALL)", apply: func(v []string) error {
				sec.CapDrop = append(sec.CapDrop, v[0])
				return nil
			}},
			{name: "cap-ambient", args: []string{"CAP"}, help: "raise CAP in the ambient and inheritable sets (so a non-root program keeps it)", apply: func(v []string) error {
				sec.CapAmbient = append(sec.CapAmbient, v[0])
				return nil
			}},
			{name: "securebits", args: []string{"LIST"}, help: "set securebits (noroot,no-setuid-fixup,keep-caps,no-cap-ambient-raise[,...-locked])", apply: func(v []string) error {
				sec.Securebits = append(sec.Securebits, strings.Split(v[0], ",")...)
				return nil
			}},
			{name: "lock-securebits", help: "lock every securebit", apply: func([]string) error { sec.LockSecurebits = true; return nil }},
			{name: "seccomp", args: []string{"default|none|FILE"}, help: "the syscall filter: the default policy, none, or a policy file (docs/seccomp.md)", apply: func(v []string) error {
				sec.Seccomp.Policy = v[0]
				return nil
			}},
			{name: "seccomp-allow", args: []string{"NAME|@GROUP"}, help: "allow a syscall or group on top of the policy", apply: func(v []string) error {
				sec.Seccomp.Allow = append(sec.Seccomp.Allow, v[0])
				return nil
			}},
			{name: "seccomp-deny", args: []string{"NAME|@GROUP"}, help: "deny a syscall or group (EPERM) on top of the policy", apply: func(v []string) error {
				sec.Seccomp.Deny = append(sec.Seccomp.Deny, v[0])
				return nil
			}},
			{name: "restrict-address-families", args: []string{"LIST"}, help: "allow only these socket families (unix,inet,inet6,netlink,...)", apply: func(v []string) error {
				sec.Seccomp.AddressFamilies = append(sec.Seccomp.AddressFamilies, strings.Split(v[0], ",")...)
				return nil
			}},
			{name: "allow-userns", help: "let the program create nested user namespaces", apply: func([]string) error { sec.Seccomp.AllowUserns = true; return nil }},
			{name: "landlock-ro", args: []string{"PATH"}, help: "Landlock: allow reading PATH (inside the sandbox); once any --landlock-* is\ngiven, everything not listed is denied", apply: func(v []string) error {
				sec.Landlock.RO = append(sec.Landlock.RO, v[0])
				return nil
			}},
			{name: "landlock-rw", args: []string{"PATH"}, help: "Landlock: allow reading and writing PATH", apply: func(v []string) error {
				sec.Landlock.RW = append(sec.Landlock.RW, v[0])
				return nil
			}},
			{name: "landlock-exec", args: []string{"PATH"}, help: "Landlock: allow reading and executing PATH (the command and its libraries\nmust be covered)", apply: func(v []string) error {
				sec.Landlock.Exec = append(sec.Landlock.Exec, v[0])
				return nil
			}},
			{name: "nice", args: []string{"N"}, help: "run at nice value N (-20..19; lowering needs privilege)", apply: func(v []string) error {
				n, err := strconv.Atoi(v[0])
				if err != nil {
					return fmt.Errorf("%q is not a number", v[0])
				}
				f.s.Nice = &n
				return nil
			}},
			{name: "oom-score-adj", args: []string{"N"}, help: "write N (-1000..1000) to the program's oom_score_adj (lowering needs privilege)", apply: func(v []string) error {
				n, err := strconv.Atoi(v[0])
				if err != nil {
					return fmt.Errorf("%q is not a number", v[0])
				}
				f.s.OOMScoreAdj = &n
				return nil
			}},
			{name: "allow-new-privs", help: "root only: do not set no_new_privs (setuid binaries and file capabilities work\nagain inside)", apply: func([]string) error { sec.AllowNewPrivs = true; return nil }},
			{name: "rlimit", args: []string{"NAME=SOFT[:HARD]"}, help: "set a resource limit (nofile=1024, as=1G is not accepted: bytes; unlimited/inf)", apply: func(v []string) error {
				l, err := rlimit.Parse(v[0])
				if err != nil {
					return err
				}
				res, err := rlimit.Resolve([]rlimit.Limit{l})
				if err != nil {
					return err
				}
				f.s.Rlimits = setRlimit(f.s.Rlimits, spec.Rlimit{Name: res[0].Name, Soft: res[0].Soft, Hard: res[0].Hard})
				return nil
			}},
			{name: "timeout", args: []string{"DURATION"}, help: "kill the sandbox after DURATION (10s, 1m30s); exit status 137", apply: func(v []string) error {
				d, err := time.ParseDuration(v[0])
				if err != nil || d <= 0 {
					return fmt.Errorf("%q is not a positive duration like 10s or 1m30s", v[0])
				}
				f.s.Lifecycle.Timeout = spec.Duration(d)
				return nil
			}},
			{name: "json-status", args: []string{"FD"}, help: "write JSON lines to FD: {\"child-pid\":N}, then {\"exit-code\":N},\n{\"signal\":N} or {\"error\":{\"step\":...,\"message\":...}}", apply: func(v []string) error {
				n, err := parseFd(v[0])
				f.jsonStatus = n
				return err
			}},
			{name: "pass-fd", args: []string{"FD"}, help: "pass open fd FD to the program as fd 3, 4, ... in the order given", apply: func(v []string) error {
				n, err := parseFd(v[0])
				f.passFds = append(f.passFds, n)
				return err
			}},
			{name: "tty", args: []string{"auto|always|never"}, help: "give the program its own pseudo-terminal, relayed by cove: auto = when stdin\nis a terminal (default)", apply: func(v []string) error {
				switch v[0] {
				case "auto", "always", "never":
					f.tty = v[0]
					return nil
				}
				return fmt.Errorf("%q: want auto, always or never", v[0])
			}},
		},
		trailer: "Exit status: the command's own; 128+N if it was killed by signal N (137 on\n--timeout); 125 if cove failed before the command started; 126 if the\ncommand is not executable; 127 if it was not found.\n\nSignals: INT, TERM, HUP, QUIT, USR1 and USR2 sent to cove go to the command;\none that cove's caller ignored (nohup) stays ignored for the command too.\nKilling cove (even with SIGKILL) kills everything in the sandbox.\n\nExample: cove run --share-cwd -- make test\n",
	}
}

func setRlimit(list []spec.Rlimit, r spec.Rlimit) []spec.Rlimit {
	for i := range list {
		if list[i].Name == r.Name {
			list[i] = r
			return list
		}
	}
	return append(list, r)
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, fmt.Errorf("%q is not a numeric id", s)
	}
	return uint32(n), nil
}

func parseFd(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a file descriptor number", s)
	}
	if _, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err != nil {
		return 0, fmt.Errorf("fd %d is not open", n)
	}
	return n, nil
}

// findProfile returns the value of the last --profile option (or
// "no-namespaces" for --no-namespaces), so that the profile is applied before
// every other option. Other options' arguments are skipped by their arity.
func findProfile(set *optionSet, args []string) (string, bool, error) {
	name, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "--") {
			break
		}
		n, v, inline := strings.Cut(a[2:], "=")
		o := set.lookup(n)
		if o == nil {
			break // parse reports it
		}
		switch {
		case n == "profile" || n == "no-namespaces":
			if n == "no-namespaces" {
				v = "no-namespaces"
			} else if !inline && i+1 < len(args) {
				v = args[i+1]
			}
			if found && v != name {
				return "", false, fmt.Errorf("--profile %s and --%s: choose one", name, n)
			}
			name, found = v, true
		}
		if !inline {
			i += len(o.args)
		}
	}
	return name, found, nil
}

func runMain(args []string, stdout, stderr io.Writer) int {
	f := &runFlags{s: spec.Default(), opFlag: map[int]string{}, jsonStatus: -1, tty: "auto"}
	profile, ok, err := findProfile(runOptions(f), args)
	if err != nil {
		fmt.Fprintf(stderr, "cove run: %s\n", oneLine(err))
		return exitSetup
	}
	if ok {
		s, err := spec.LoadProfile(profile)
		if err != nil {
			fmt.Fprintf(stderr, "cove run: --%s\n", oneLine(err))
			return exitSetup
		}
		f.s = s
	}
	set := runOptions(f)
	rest, err := set.parse(args)
	if errors.Is(err, errHelp) {
		set.help(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cove run: %s\n", oneLine(err))
		return exitSetup
	}
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "cove run: no command given (usage: cove run [OPTIONS] [--] COMMAND [ARG...])")
		return exitSetup
	}
	if f.name != "" && !f.s.Namespaces.User {
		fmt.Fprintln(stderr, "cove run: --name: a named sandbox needs a user namespace (not with --no-namespaces or a profile without one)")
		return exitSetup
	}
	if f.name != "" && !f.hostname && f.s.Namespaces.UTS {
		f.s.Hostname = f.name
	}
	var status *os.File
	if f.jsonStatus >= 0 {
		status = os.NewFile(uintptr(f.jsonStatus), "json-status")
	}
	writeStatus := func(v any) {
		if status != nil {
			b, _ := json.Marshal(v)
			status.Write(append(b, '\n'))
		}
	}
	fail := func(code int, step, msg string) int {
		fmt.Fprintf(stderr, "cove run: %s\n", msg)
		writeStatus(map[string]any{"error": map[string]string{"step": step, "message": msg}})
		return code
	}

	var claim *nameClaim
	if f.name != "" {
		c, err := claimName(f.name)
		if err != nil {
			return fail(exitSetup, "name", oneLine(err))
		}
		claim = c
		defer claim.release() // every return below, once the sandbox ended
	}
	cmd := cove.Command(f.s, rest[0], rest[1:]...)
	// The CLI starts no other user-namespace child while the sandbox
	// runs, so its init may share cove's memory (see Cmd.SharedInit).
	cmd.SharedInit = true
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, fd := range f.passFds {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd)))
	}
	term, err := startTerminal(cmd, f.tty)
	if err != nil {
		return fail(exitSetup, "terminal", err.Error())
	}
	// Signals that would kill cove go to the program instead; it decides.
	sigs, err := catchSignals()
	if err != nil {
		term.restore()
		return fail(exitSetup, "signals", err.Error())
	}

	if err := cmd.Start(); err != nil {
		term.restore()
		var se *cove.SetupError
		if errors.As(err, &se) {
			return fail(se.Code, se.Step, describeSetupError(se, f, rest[0]))
		}
		return fail(exitSetup, "start", oneLine(err))
	}
	// A program that is still running after a moment is a long one: let
	// the waiting supervisor give back what it does not need. Short runs
	// never pay for it.
	time.AfterFunc(idleAfter, releaseIdle)
	if claim != nil {
		if err := claim.register(cmd, f.s.Root, profile); err != nil {
			cmd.Kill()
			cmd.Wait()
			term.restore()
			return fail(exitSetup, "name", oneLine(err))
		}
	}
	term.started()
	writeStatus(map[string]int{"child-pid": cmd.Pid})
	passSignals(sigs, cmd)
	err = cmd.Wait()
	term.finish()
	st := cmd.Status()
	if st == nil {
		return fail(exitSetup, "wait", oneLine(err))
	}
	if st.TimedOut {
		fmt.Fprintf(stderr, "cove run: %s timed out after %s and was killed\n", rest[0], time.Duration(f.s.Lifecycle.Timeout))
	}
	if st.Signal != 0 {
		writeStatus(map[string]int{"signal": int(st.Signal)})
	} else {
		writeStatus(map[string]int{"exit-code": st.Code})
	}
	return st.Code
}

// filesystemIndex returns N when field starts with "filesystem[N]".
func filesystemIndex(field string) (int, bool) {
	rest, ok := strings.CutPrefix(field, "filesystem[")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil && i >= 0
}

// describeSetupError makes the one-line message for a failure before the
// command started, naming the flag that caused it when there is one.
func describeSetupError(se *cove.SetupError, f *runFlags, name string) string {
	switch se.Code {
	case exitNotFound:
		return fmt.Sprintf("%s: command not found in the sandbox", name)
	case exitNotExec:
		return fmt.Sprintf("%s: cannot execute: %v", name, errnoText(se))
	}
	if i, ok := filesystemIndex(se.Field); ok {
		cause := errors.Unwrap(se)
		var oe *mount.OpError
		if errors.As(cause, &oe) {
			cause = oe.Err
		}
		if flag, ok := f.opFlag[i]; ok {
			return fmt.Sprintf("%s: %s", flag, oneLine(cause))
		}
		return fmt.Sprintf("profile %s (%s %s): %s", se.Field, oe.Op.Type, oe.Op.Dst, oneLine(cause))
	}
	for _, fm := range fieldFlags {
		if strings.HasPrefix(se.Field, fm[0]) {
			return fmt.Sprintf("%s: %s", fm[1], oneLine(errors.Unwrap(se)))
		}
	}
	return oneLine(se)
}

// fieldFlags names the option behind each Spec field, longest prefix first,
// for error messages.
var fieldFlags = [][2]string{
	{"security.seccomp.policy", "--seccomp"},
	{"security.seccomp", "seccomp"},
	{"security.cap_add", "--cap-add"},
	{"security.cap_drop", "--cap-drop"},
	{"security.cap_ambient", "--cap-ambient"},
	{"security.securebits", "--securebits"},
	{"security.landlock", "--landlock-ro/--landlock-rw/--landlock-exec"},
	{"security", "capabilities"},
	{"ids.uid_map", "--uid-map"},
	{"ids.gid_map", "--gid-map"},
	{"ids", "--uid/--gid/--map-root"},
	{"cwd", "--chdir"},
	{"hostname", "--hostname"},
	{"env", "--setenv/--unsetenv"},
	{"rlimits", "--rlimit"},
	{"lifecycle.timeout", "--timeout"},
	{"nice", "--nice"},
	{"oom_score_adj", "--oom-score-adj"},
	{"filesystem", "filesystem options (they need namespaces)"},
}

func errnoText(se *cove.SetupError) string {
	if se.Errno != 0 {
		return se.Errno.Error()
	}
	return oneLine(errors.Unwrap(se))
}

func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
