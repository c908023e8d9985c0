package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/covebox/cove/chain"
	"github.com/covebox/cove/dive/server"
	"github.com/covebox/cove/internal/caps"
	"github.com/covebox/cove/internal/pivot"
	"github.com/covebox/cove/internal/rlimit"
	"golang.org/x/sys/unix"
)

// serveOpts is the parsed command line of `cove serve` and of the dived
// personality: the server's policy plus how the process runs.
type serveOpts struct {
	addr   string
	policy server.Policy

	detach, noFork, inetd, justExec bool
	pidfiles                        []string
	chmod                           os.FileMode
	chown                           string
	unshare                         int
	pivotNew, pivotOld              string
	uidGidMap                       bool // -tt
	allow                           server.Allowlist
	allowSet                        bool
	maxClients                      int
	phaseTimeout, grace             time.Duration
	logFormat, logLevel             string
	insecure                        bool
	help                            bool
}

// serveFlag is one option: its dived short name, its long name (shared by
// dived and cove serve), the number of values, and what it does.
type serveFlag struct {
	short, long string
	nargs       int
	help        string
	set         func(o *serveOpts, v []string, dived bool) error
}

func serveFlags() []serveFlag {
	return []serveFlag{
		{"-d", "--detach", 0, "run in the background once the socket is ready", func(o *serveOpts, _ []string, _ bool) error { o.detach = true; return nil }},
		{"-D", "--children-daemon", 0, "run each program under a daemon(0,0) helper: not the server's descendant, own session, cwd / and /dev/null instead of the server's", func(o *serveOpts, _ []string, _ bool) error {
			o.policy.Daemon = true
			return nil
		}},
		{"-F", "--no-fork", 0, "serve one client, then exit", func(o *serveOpts, _ []string, _ bool) error { o.noFork = true; return nil }},
		{"-P", "--no-setuid", 0, "run programs as the server's user (no user, group or id change)", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoSetuid = true; return nil }},
		{"-S", "--no-setsid", 0, "do not start a new session for the program", func(o *serveOpts, _ []string, _ bool) error {
			o.policy.NoSetsid = true
			return nil
		}},
		{"-T", "--no-csctty", 0, "do not make the client's terminal the controlling terminal", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoCtty = true; return nil }},
		{"-u", "--user", 1, "run programs as USER instead of the client", func(o *serveOpts, v []string, _ bool) error {
			o.policy.User = v[0]
			return nil
		}},
		{"-g", "--groups", 1, "G1,G2,...: primary group and supplementary groups (needs --user)", func(o *serveOpts, v []string, _ bool) error {
			o.policy.Groups = splitComma(v[0])
			return nil
		}},
		{"-e", "--effective-user", 1, "set only the effective uid/gid to USER's", func(o *serveOpts, v []string, _ bool) error {
			o.policy.EffectiveUser = v[0]
			return nil
		}},
		{"-p", "--pidfile", 1, "write the serving process's pid to FILE (repeatable)", func(o *serveOpts, v []string, _ bool) error {
			o.pidfiles = append(o.pidfiles, v[0])
			return nil
		}},
		{"-C", "--chmod", 1, "chmod the socket file to octal MODE", func(o *serveOpts, v []string, _ bool) error {
			m, err := strconv.ParseUint(v[0], 8, 32)
			if err != nil || m > 0o7777 {
				return fmt.Errorf("--chmod %q: want an octal mode like 0770", v[0])
			}
			o.chmod = os.FileMode(m)
			return nil
		}},
		{"-U", "--chown", 1, "USER:GROUP owner of the socket file", func(o *serveOpts, v []string, _ bool) error {
			if !strings.Contains(v[0], ":") {
				return fmt.Errorf("--chown %q: want USER:GROUP", v[0])
			}
			o.chown = v[0]
			return nil
		}},
		{"-h", "--chdir", 1, "working directory of programs (when the client's is not used)", func(o *serveOpts, v []string, _ bool) error {
			o.policy.Chdir = v[0]
			return nil
		}},
		{"-R", "--chroot", 1, "root directory of programs", func(o *serveOpts, v []string, _ bool) error {
			o.policy.Chroot = v[0]
			return nil
		}},
		{"-V", "--pivot-root", 2, "NEW OLD: every program runs with root NEW, old root at OLD (the server pivots once, in a mount namespace of its own)", func(o *serveOpts, v []string, _ bool) error {
			o.pivotNew, o.pivotOld = v[0], v[1]
			return nil
		}},
		{"-N", "--setns", 1, "join the namespace FILE for every program (repeatable, in order)", func(o *serveOpts, v []string, _ bool) error {
			if len(o.policy.Setns) >= 8 {
				return errors.New("--setns: at most 8")
			}
			o.policy.Setns = append(o.policy.Setns, v[0])
			return nil
		}},
		{"-t", "--write-content", 2, "FILE DATA: write DATA to FILE for every program, after --setns", func(o *serveOpts, v []string, _ bool) error {
			if len(o.policy.Writes) >= 8 {
				return errors.New("--write-content: at most 8")
			}
			o.policy.Writes = append(o.policy.Writes, server.FileWrite{Path: v[0], Data: v[1]})
			return nil
		}},
		{"-tt", "--setup-uidgidmap", 0, "map the server's uid and gid to 0: once at start with --unshare user, else written per program", func(o *serveOpts, _ []string, _ bool) error {
			o.uidGidMap = true
			return nil
		}},
		{"-s", "--unshare", 1, "ipc,net,fs|mnt,pid,uts,user,cgroup: new namespaces for the server, at start (with pid it reaps orphans)", func(o *serveOpts, v []string, _ bool) error {
			for _, n := range splitComma(v[0]) {
				f, ok := map[string]int{"ipc": unix.CLONE_NEWIPC, "net": unix.CLONE_NEWNET, "fs": unix.CLONE_NEWNS, "mnt": unix.CLONE_NEWNS,
					"pid": unix.CLONE_NEWPID, "uts": unix.CLONE_NEWUTS, "user": unix.CLONE_NEWUSER, "cgroup": unix.CLONE_NEWCGROUP}[n]
				if !ok {
					return errUnshareFlag{n}
				}
				o.unshare |= f
			}
			return nil
		}},
		{"-E", "--no-environment", 0, "ignore the client's environment (programs get the server's)", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoClientEnv = true; return nil }},
		{"-A", "--no-argv", 0, "ignore the client's argv (only the forced command runs)", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoClientArgv = true; return nil }},
		{"-H", "--no-chdir", 0, "ignore the client's working directory", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoClientCwd = true; return nil }},
		{"-O", "--no-fds", 0, "ignore the client's descriptors (programs get the server's 0, 1, 2)", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoClientFDs = true; return nil }},
		{"-M", "--no-umask", 0, "ignore the client's umask", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoClientUmask = true; return nil }},
		{"-r", "--client-chroot", 0, "make the client's root directory the program's root (forces no_new_privs)", func(o *serveOpts, _ []string, _ bool) error { o.policy.ClientRoot = true; return nil }},
		{"-W", "--root-to-current", 0, "start programs in their root directory", func(o *serveOpts, _ []string, _ bool) error { o.policy.RootToCwd = true; return nil }},
		{"-a", "--authenticate", 1, "shell command run per connection with the client's stdio; non-zero refuses", func(o *serveOpts, v []string, _ bool) error { o.policy.Auth = v[0]; return nil }},
		{"-l", "--rlimit", 1, "resource limits: cove serve NAME=SOFT[:HARD],...; dived NAME=HARD[:SOFT],...", func(o *serveOpts, v []string, dived bool) error {
			for _, item := range splitComma(v[0]) {
				r, err := parseServeRlimit(item, dived)
				if err != nil {
					return err
				}
				if len(o.policy.Rlimits) >= 30 {
					return errors.New("--rlimit: at most 30")
				}
				o.policy.Rlimits = append(o.policy.Rlimits, r)
			}
			return nil
		}},
		{"-B", "--retain-capabilities", 1, "keep only these capabilities in the bounding set", func(o *serveOpts, v []string, _ bool) error {
			s, err := caps.ParseList(v[0])
			o.policy.RetainCaps, o.policy.HasRetainCaps = uint64(s), true
			return err
		}},
		{"-b", "--remove-capabilities", 1, "drop these capabilities from the bounding set", func(o *serveOpts, v []string, _ bool) error {
			s, err := caps.ParseList(v[0])
			o.policy.RemoveCaps, o.policy.HasRemoveCaps = uint64(s), true
			return err
		}},
		{"-m", "--ambient-capabilities", 1, "raise these ambient capabilities", func(o *serveOpts, v []string, _ bool) error {
			s, err := caps.ParseList(v[0])
			for _, c := range caps.Set(s).Caps() {
				o.policy.AmbientCaps = append(o.policy.AmbientCaps, int(c))
			}
			return err
		}},
		{"-X", "--no-new-privs", 0, "set no_new_privs", func(o *serveOpts, _ []string, _ bool) error {
			o.policy.NoNewPrivs = true
			return nil
		}},
		{"-c", "--set-capabilities", 1, "capability sets in libcap text form, e.g. cap_net_raw+eip", func(o *serveOpts, v []string, _ bool) error {
			last, err := caps.Last()
			if err != nil {
				return err
			}
			cs, err := server.ParseCapText(v[0], last)
			o.policy.SetCaps, o.policy.CapEff, o.policy.CapPerm, o.policy.CapInh = true, cs.Effective, cs.Permitted, cs.Inheritable
			return err
		}},
		{"-L", "--lock-securebits", 0, "set and lock keep-caps, no-setuid-fixup and noroot", func(o *serveOpts, _ []string, _ bool) error {
			o.policy.LockSecurebits = true
			return nil
		}},
		{"-n", "--signals", 0, "deliver signals the client forwards to the program", func(o *serveOpts, _ []string, _ bool) error { o.policy.Signals = server.SignalsProcess; return nil }},
		{"", "--signals-pgid", 0, "deliver signals the client forwards to the program's process group", func(o *serveOpts, _ []string, _ bool) error { o.policy.Signals = server.SignalsGroup; return nil }},
		{"-w", "--no-wait", 0, "do not report the program's end to the client", func(o *serveOpts, _ []string, _ bool) error { o.policy.NoWait = true; return nil }},
		{"", "--max-clients", 1, "connections served at once (default 64)", func(o *serveOpts, v []string, _ bool) error {
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 {
				return fmt.Errorf("--max-clients %q: want a positive number", v[0])
			}
			o.maxClients = n
			return nil
		}},
		{"", "--phase-timeout", 1, "bound on each protocol phase before the program starts (default 10s)", func(o *serveOpts, v []string, _ bool) error {
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				return fmt.Errorf("--phase-timeout %q: want a duration like 10s", v[0])
			}
			o.phaseTimeout = d
			return nil
		}},
		{"", "--grace", 1, "on SIGTERM, how long running connections may finish (default 10s)", func(o *serveOpts, v []string, _ bool) error {
			d, err := time.ParseDuration(v[0])
			if err != nil || d < 0 {
				return fmt.Errorf("--grace %q: want a duration like 10s", v[0])
			}
			o.grace = d
			return nil
		}},
		{"", "--log-format", 1, "text or json (stderr)", func(o *serveOpts, v []string, _ bool) error {
			if v[0] != "text" && v[0] != "json" {
				return fmt.Errorf("--log-format %q: want text or json", v[0])
			}
			o.logFormat = v[0]
			return nil
		}},
		{"", "--log-level", 1, "debug, info, warn or error", func(o *serveOpts, v []string, _ bool) error {
			o.logLevel = v[0]
			var l slog.Level
			return l.UnmarshalText([]byte(v[0]))
		}},
		{"", "--allow-uid", 1, "UID[,UID...] may connect to an abstract socket", func(o *serveOpts, v []string, _ bool) error {
			for _, s := range splitComma(v[0]) {
				n, err := resolveUID(s)
				if err != nil {
					return fmt.Errorf("--allow-uid: %w", err)
				}
				o.allow.UIDs = append(o.allow.UIDs, n)
			}
			o.allowSet = true
			return nil
		}},
		{"", "--allow-gid", 1, "GID[,GID...] whose members may connect to an abstract socket", func(o *serveOpts, v []string, _ bool) error {
			for _, s := range splitComma(v[0]) {
				n, err := resolveGID(s)
				if err != nil {
					return fmt.Errorf("--allow-gid: %w", err)
				}
				o.allow.GIDs = append(o.allow.GIDs, n)
			}
			o.allowSet = true
			return nil
		}},
		{"", "--allow-anyone", 0, "anyone may connect to an abstract socket (dived's behaviour)", func(o *serveOpts, _ []string, _ bool) error {
			o.allow.Any, o.allowSet = true, true
			return nil
		}},
		{"", "--insecure", 0, "allow a privileged forced command to take the client's environment", func(o *serveOpts, _ []string, _ bool) error { o.insecure = true; return nil }},
		{"", "--help", 0, "show this help", func(o *serveOpts, _ []string, _ bool) error { o.help = true; return nil }},
	}
}

type errUnshareFlag struct{ name string }

func (e errUnshareFlag) Error() string { return fmt.Sprintf("unknown --unshare namespace %q", e.name) }

func splitComma(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func resolveUID(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(n), err
}

func resolveGID(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(n), err
}

// parseServeRlimit reads one limit: cove's NAME=SOFT[:HARD], or with dived
// syntax NAME=HARD[:SOFT] (soft defaults to hard). NAME may be a number.
func parseServeRlimit(item string, dived bool) (server.Rlimit, error) {
	name, val, ok := strings.Cut(item, "=")
	if !ok {
		return server.Rlimit{}, fmt.Errorf("--rlimit %q: want NAME=VALUE", item)
	}
	res, err := strconv.Atoi(name)
	if err != nil {
		if res, err = rlimit.Lookup(name); err != nil {
			return server.Rlimit{}, fmt.Errorf("--rlimit %q: %w", item, err)
		}
	}
	a, b, pair := strings.Cut(val, ":")
	av, err := parseLimitValue(a)
	if err != nil {
		return server.Rlimit{}, fmt.Errorf("--rlimit %q: %w", item, err)
	}
	bv := av
	if pair {
		if bv, err = parseLimitValue(b); err != nil {
			return server.Rlimit{}, fmt.Errorf("--rlimit %q: %w", item, err)
		}
	}
	soft, hard := av, bv
	if dived {
		soft, hard = bv, av
	}
	if soft > hard {
		return server.Rlimit{}, fmt.Errorf("--rlimit %q: soft limit above hard limit", item)
	}
	return server.Rlimit{Resource: res, Soft: soft, Hard: hard}, nil
}

func parseLimitValue(s string) (uint64, error) {
	switch strings.ToLower(s) {
	case "unlimited", "infinity", "inf", "-1":
		return rlimit.Infinity, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or \"unlimited\"", s)
	}
	return n, nil
}

// parseServe parses `cove serve` arguments (dived false) or dived's
// (dived true: separate argv elements only; the socket or -i/-J/-j first).
func parseServe(args []string, dived bool) (*serveOpts, error) {
	o := &serveOpts{logFormat: "text", logLevel: "info", grace: 10 * time.Second}
	if dived {
		o.logLevel = "warn"
	}
	flags := serveFlags()
	find := func(name string) *serveFlag {
		for i := range flags {
			if (flags[i].short != "" && flags[i].short == name) || flags[i].long == name {
				return &flags[i]
			}
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.policy.ForcedArgv = append([]string(nil), args[i+1:]...)
			break
		}
		switch {
		case dived && (a == "-i" || a == "--inetd"):
			// dived takes -i anywhere (its "must be the first" check for -i
			// is never reached).
			o.inetd = true
			continue
		case dived && i == 0 && (a == "-J" || a == "--just-execute"):
			o.justExec = true
			continue
		case dived && i == 0 && (a == "-j" || a == "--just-execute2"):
			o.justExec, o.policy.NoSetsid, o.policy.NoCtty, o.policy.NoSetuid = true, true, true, true
			continue
		case dived && i > 0 && (a == "-J" || a == "--just-execute" || a == "-j" || a == "--just-execute2"):
			long := map[string]string{"-J": "--just-execute", "-j": "--just-execute2"}[a]
			if long == "" {
				long = a
			}
			return nil, usageError{fmt.Sprintf("Option %s must be the first", long)}
		case !dived && a == "--inetd":
			o.inetd = true
			continue
		case o.addr == "" && !o.inetd && !o.justExec && (!strings.HasPrefix(a, "-") || (dived && i == 0)):
			o.addr = a
			continue
		}
		name, val, hasVal := a, "", false
		if !dived && strings.HasPrefix(a, "--") {
			name, val, hasVal = strings.Cut(a, "=")
		}
		f := find(name)
		if f == nil || (dived && f.short == "" && !strings.HasPrefix(name, "--")) {
			return nil, usageError{"unknown argument " + a}
		}
		var vals []string
		switch {
		case hasVal && f.nargs == 1:
			vals = []string{val}
		case hasVal:
			return nil, usageError{fmt.Sprintf("%s takes %d values, not =", name, f.nargs)}
		default:
			if i+f.nargs > len(args)-1 {
				return nil, usageError{fmt.Sprintf("%s needs %d value(s)", name, f.nargs)}
			}
			vals = args[i+1 : i+1+f.nargs]
			i += f.nargs
		}
		if err := f.set(o, vals, dived); err != nil {
			var uf errUnshareFlag
			if errors.As(err, &uf) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
	}
	return o, nil
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func serveUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: cove serve SOCKET|@ABSTRACT [OPTIONS] [-- FORCED-COMMAND...]
       cove serve --inetd [OPTIONS] [-- FORCED-COMMAND...]

Start programs for clients (cove dive, or the dive tool) connecting over a UNIX
socket, with the client's fds, cwd, umask, environment, argv and terminal, and
report their exit status. Options (also "--name=value"):
`)
	for _, f := range serveFlags() {
		n := f.long
		if f.short != "" {
			n = f.short + ", " + f.long
		}
		if f.nargs == 1 {
			n += " X"
		} else if f.nargs == 2 {
			n += " X Y"
		}
		fmt.Fprintf(w, "  %-34s %s\n", n, f.help)
	}
	fmt.Fprint(w, "\nSee docs/serve.md.\n")
}

// serveMain implements `cove serve`.
func serveMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == server.DaemonHelperArg {
		return server.DaemonHelperMain(args[1:])
	}
	// The engine's pin of the main goroutine to the main thread is not
	// needed here (no sandbox is started), and it would cost a thread
	// hand-off each time the accept loop blocks.
	runtime.UnlockOSThread()
	o, err := parseServe(args, false)
	if err != nil {
		fmt.Fprintf(stderr, "cove serve: %v (see cove serve --help)\n", err)
		return exitSetup
	}
	if o.help {
		serveUsage(stdout)
		return 0
	}
	if o.addr == "" && !o.inetd {
		fmt.Fprintln(stderr, "cove serve: missing SOCKET (a path or @abstract-name)")
		return exitSetup
	}
	if err := o.policy.Validate(o.insecure); err != nil {
		fmt.Fprintf(stderr, "cove serve: %v\n", err)
		return exitSetup
	}
	code, err := runServer(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cove serve: %v\n", err)
		if code == 0 {
			code = exitSetup
		}
	}
	return code
}

// divedMain implements the dived personality with dived's syntax and exit
// codes (see docs/serve.md).
func divedMain(argv []string) int {
	args := argv[1:]
	if len(args) == 0 || args[0] == "-?" || args[0] == "--help" || args[0] == "--version" {
		fmt.Printf("Dive server (cove %s, proto 1100)\nUsage: dived {socket_path|@abstract_address|-i|-J|-j} [-d] [-D] [-F] [-P] [-S] [-T] [-u user] [-g group,...] [-e user] [-C mode] [-U user:group] [-R dir] [-V newroot putold] [-h dir] [-r] [-W] [-s ns,...] [-N file] [-t file content] [-tt] [-p pidfile] [-E] [-A] [-H] [-O] [-M] [-a cmd] [-l limits] [-B caps] [-b caps] [-m caps] [-c text] [-L] [-X] [-n|--signals-pgid] [-w] [-- forced argv]\nSee 'cove serve --help' and docs/serve.md.\n", Version)
		return 4
	}
	o, err := parseServe(args, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		var uf errUnshareFlag
		if errors.As(err, &uf) {
			return 21
		}
		return 4
	}
	if !o.inetd && !o.justExec && strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(os.Stderr, "Warning: suspicious socket name '%s'\n", args[0])
	}
	p := &o.policy
	if p.NoSetuid && (p.User != "" || len(p.Groups) > 0 || p.EffectiveUser != "") {
		fmt.Fprintln(os.Stderr, "--user, --group and --effective_user options are not effective with --no-setuid")
		if args[0] == "-j" || args[0] == "--just-execute2" {
			fmt.Fprintln(os.Stderr, "Maybe use '-J -S -T' instead of '-j'?")
		}
		return 4
	}
	if os.Getenv("DIVED_NOSANITYCHECK") == "" && !o.justExec {
		if len(p.ForcedArgv) > 0 && !strings.HasPrefix(p.ForcedArgv[0], "/") && !p.NoClientEnv {
			fmt.Fprintln(os.Stderr, "Please either use absolute program path after -- or use --no-environment option.")
			return 4
		}
		if p.User == "" && len(p.Groups) > 0 {
			fmt.Fprintln(os.Stderr, "--groups won't work without --user")
			return 4
		}
	}
	switch {
	case o.justExec && o.inetd:
		fmt.Fprintln(os.Stderr, "--just-execute and --inetd are incompatible")
		return 15
	case p.NoWait && p.Signals != server.SignalsOff:
		fmt.Fprintln(os.Stderr, "--no-wait and --signals are incompatible")
		return 15
	case p.HasRetainCaps && p.HasRemoveCaps:
		fmt.Fprintln(os.Stderr, "--remove-capabilities and --retain-capabilities are incompatible")
		return 18
	case p.Chroot != "" && o.pivotNew != "":
		fmt.Fprintln(os.Stderr, "--chroot and --pivot-root are incompatible")
		return 4
	case o.justExec && len(p.ForcedArgv) == 0:
		fmt.Fprintln(os.Stderr, "You must include argv after -- with --just-execute")
		return 4
	}
	if o.justExec {
		return divedJustExec(o)
	}
	runtime.UnlockOSThread() // serving needs no pinned thread (see serveMain)
	if o.addr == "" && !o.inetd {
		fmt.Fprintln(os.Stderr, "dived: missing socket path")
		return 4
	}
	if err := p.Validate(os.Getenv("DIVED_NOSANITYCHECK") != ""); err != nil {
		fmt.Fprintf(os.Stderr, "dived: %v (set DIVED_NOSANITYCHECK to override)\n", err)
		return 4
	}
	code, err := runServer(o, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dived: %v\n", err)
	}
	return code
}

// divedJustExec implements dived -J/-j: apply the options to this process
// in dived's order, then exec the forced command in place, through cove
// exec's machinery (chain.ExecDived). Options about clients and sockets
// (-E -A -H -O -M -r -W -C -U -n -w -F -T) have nothing to act on and are
// ignored, as dived ignored them. -s with user or pid starts the program in
// a child in the new namespaces, as dived's clone did (this process waits
// and exits with its status); other namespaces are unshared in place.
func divedJustExec(o *serveOpts) int {
	p := &o.policy
	if o.uidGidMap && o.unshare&unix.CLONE_NEWUSER == 0 {
		fmt.Fprintln(os.Stderr, "dived -J: -tt writes the id maps of a new user namespace; add -s user (without it the writes can only fail)")
		return 4
	}
	stage := os.Getenv(envStage)
	os.Unsetenv(envStage)
	if (o.detach || p.Daemon) && stage == "" {
		// daemon(3): -d keeps the working directory, -D goes to "/".
		return justReexec("detached", 0, false, nil, p.Daemon)
	}
	if o.unshare&(unix.CLONE_NEWUSER|unix.CLONE_NEWPID) != 0 && stage != "unshared" {
		return justReexec("unshared", o.unshare, o.uidGidMap, o.pidfiles, false)
	}
	if o.unshare != 0 && stage != "unshared" {
		// On this (locked, main) thread only, which is the one that execs.
		flags := o.unshare
		if flags&unix.CLONE_NEWNS != 0 {
			flags |= unix.CLONE_FS
		}
		if err := unix.Unshare(flags); err != nil {
			fmt.Fprintf(os.Stderr, "unshare: %v\n", err)
			return 255
		}
	}
	if stage != "unshared" {
		if err := writePidfiles(o.pidfiles, os.Getpid()); err != nil {
			fmt.Fprintf(os.Stderr, "dived: %v\n", err)
			return 1
		}
	}
	// dived -J sets the DIVE_* variables of its own identity; there is no
	// client, so DIVE_USER is empty.
	for k, v := range map[string]string{"DIVE_UID": strconv.Itoa(os.Getuid()), "DIVE_GID": strconv.Itoa(os.Getgid()),
		"DIVE_PID": strconv.Itoa(os.Getpid()), "DIVE_USER": ""} {
		os.Setenv(k, v)
	}
	if p.Auth != "" {
		cmd := exec.Command("/bin/sh", "-c", p.Auth)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if cmd.Run() != nil {
			return 1
		}
	}
	d := chain.DivedExec{
		Command: p.ForcedArgv, Setns: p.Setns, Chdir: p.Chdir, Chroot: p.Chroot,
		PivotRoot: o.pivotNew, PutOld: o.pivotOld, Setsid: !p.NoSetsid,
		SetSecurebits: p.LockSecurebits, NoSetuid: p.NoSetuid, User: p.User, Groups: p.Groups,
		EffectiveUser: p.EffectiveUser, SetCaps: p.SetCaps, Effective: p.CapEff, Permitted: p.CapPerm,
		Inheritable: p.CapInh, Ambient: p.AmbientCaps, NoNewPrivs: p.NoNewPrivs,
	}
	if p.LockSecurebits {
		d.Securebits = 0x1f // keep-caps, no-setuid-fixup(+locked), noroot(+locked)
	}
	for _, w := range p.Writes {
		d.Writes = append(d.Writes, chain.DivedWrite{Path: w.Path, Data: w.Data})
	}
	for _, r := range p.Rlimits {
		d.Rlimits = append(d.Rlimits, chain.DivedRlimit{Resource: r.Resource, Soft: r.Soft, Hard: r.Hard})
	}
	switch {
	case p.HasRetainCaps:
		d.SetBounding, d.KeepBounding = true, p.RetainCaps
	case p.HasRemoveCaps:
		d.SetBounding, d.KeepBounding = true, ^p.RemoveCaps
	}
	return chain.ExecDived(d)
}

// justReexec runs this program again for -J: detached (new session, stdio
// on /dev/null; this process exits 0 at once, as daemon(3)), or in new
// namespaces (this process waits, forwards SIGTERM/SIGINT/SIGHUP and exits
// with the child's status; the pidfiles name the child).
func justReexec(stage string, cloneflags int, mapIDs bool, pidfiles []string, chdirRoot bool) int {
	cmd, done, err := selfCommand(stage, cloneflags, mapIDs, nil, chdirRoot)
	if err != nil {
		fmt.Fprintf(os.Stderr, "daemon: %v\n", err)
		return 16
	}
	defer done()
	if err := cmd.Start(); err != nil {
		if stage == "detached" {
			fmt.Fprintf(os.Stderr, "daemon: %v\n", err)
			return 16
		}
		fmt.Fprintf(os.Stderr, "clone: %v\n", err)
		return 19
	}
	if stage == "detached" {
		return 0
	}
	if err := writePidfiles(pidfiles, cmd.Process.Pid); err != nil {
		fmt.Fprintf(os.Stderr, "dived: %v\n", err)
	}
	forwardToSelf(cmd)
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return int(ws.Signal()) // dived returned ssi_status: the signal number
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}

// Environment variables of the process chain (detach, unshare).
const (
	envStage = "COVE_SERVE_STAGE" // "detached" or "unshared"
	listenFD = 3                  // the inherited listening socket
)

// runServer runs the server process: listen, detach, unshare, serve until
// SIGTERM. It returns the exit status.
func runServer(o *serveOpts, stderr io.Writer) (int, error) {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(o.logLevel))
	hopts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)
	stage := os.Getenv(envStage)
	os.Unsetenv(envStage)

	cfg := server.Config{Policy: o.policy, MaxClients: o.maxClients, PhaseTimeout: o.phaseTimeout, Logger: log}
	cfg.Policy.ServerEnv = os.Environ()
	if o.allowSet {
		cfg.Allow = &o.allow
	} else if server.Address(o.addr).Abstract() {
		// An abstract socket has no permissions: by default only the
		// server's own uid (and root) may connect (dived bug 13).
		cfg.Allow = &server.Allowlist{UIDs: []uint32{uint32(os.Getuid()), 0}}
	}
	if o.uidGidMap && o.unshare&unix.CLONE_NEWUSER == 0 {
		// dived's -tt without a new user namespace: per-program writes.
		cfg.Policy.Writes = append(cfg.Policy.Writes,
			server.FileWrite{Path: "/proc/self/uid_map", Data: fmt.Sprintf("0 %d 1", os.Getuid())},
			server.FileWrite{Path: "/proc/self/setgroups", Data: "deny"},
			server.FileWrite{Path: "/proc/self/gid_map", Data: fmt.Sprintf("0 %d 1", os.Getgid())})
	}

	if o.inetd {
		srv, err := server.New(cfg)
		if err != nil {
			return 1, err
		}
		f := os.NewFile(0, "inetd")
		c, err := net.FileConn(f)
		if err != nil {
			return 1, fmt.Errorf("--inetd: fd 0: %w", err)
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			return 1, errors.New("--inetd: fd 0 is not a UNIX socket")
		}
		srv.ServeConn(uc)
		return 0, nil
	}

	var ln *net.UnixListener
	if stage != "" {
		f := os.NewFile(listenFD, "listener")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return 1, fmt.Errorf("inherited listener: %w", err)
		}
		ln = l.(*net.UnixListener)
		ln.SetUnlinkOnClose(false)
	} else {
		uid, gid := -1, -1
		if o.chown != "" {
			u, g, _ := strings.Cut(o.chown, ":")
			un, err := resolveUID(u)
			if err != nil {
				return 12, err
			}
			gn, err := resolveGID(g)
			if err != nil {
				return 13, err
			}
			uid, gid = int(un), int(gn)
		}
		l, err := server.Listen(server.Address(o.addr), o.chmod, uid, gid)
		if err != nil {
			return 2, err
		}
		ln = l
	}

	if o.detach && stage == "" {
		return reexec(ln, "detached", 0, false, nil)
	}
	unshare := o.unshare
	if o.pivotNew != "" {
		// pivot_root acts on the whole mount namespace: the server gets one
		// of its own, so that the host's is never pivoted.
		unshare |= unix.CLONE_NEWNS
	}
	if unshare != 0 && stage != "unshared" {
		return reexec(ln, "unshared", unshare, o.uidGidMap, o.pidfiles)
	}
	if o.pivotNew != "" {
		old, err := servePivot(o.pivotNew, o.pivotOld)
		if err != nil {
			return 1, err
		}
		// dived joined (-N) and wrote (-t) before pivot_root, in the old
		// root: those paths are now below OLD.
		for i, ns := range cfg.Policy.Setns {
			cfg.Policy.Setns[i] = underOld(old, ns)
		}
		for i, w := range cfg.Policy.Writes {
			cfg.Policy.Writes[i].Path = underOld(old, w.Path)
		}
	}
	// As PID 1 of a new PID namespace (--unshare pid) the server inherits
	// every orphan of its programs: it must reap them.
	cfg.ReapChildren = os.Getpid() == 1
	if stage != "unshared" {
		// The serving process's own pid (with --unshare the parent wrote
		// the serving child's pid, as seen from outside).
		if err := writePidfiles(o.pidfiles, os.Getpid()); err != nil {
			return 1, err
		}
	}

	srv, err := server.New(cfg)
	if err != nil {
		return 1, err
	}
	if o.noFork {
		c, err := ln.AcceptUnix()
		ln.Close()
		if err != nil {
			return 1, err
		}
		srv.ServeConn(c)
		return 0, nil
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		log.Info("shutting down", "signal", s.String(), "grace", o.grace)
		ctx, cancel := context.WithTimeout(context.Background(), o.grace)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Info("serving", "socket", o.addr, "pid", os.Getpid(), "max_clients", cfg.MaxClients)
	if err := srv.Serve(ln); err != nil {
		return 1, err
	}
	ln.Close()
	return 0, nil
}

// servePivot makes newRoot the root of the server's mount namespace (its own:
// see runServer), with the old root at putOld, and returns where the old
// root is seen from the new one. The namespace's mounts become private
// first and newRoot a mount point (a bind mount of itself), which
// pivot_root needs; dived left both to the caller.
func servePivot(newRoot, putOld string) (string, error) {
	nr, err := filepath.Abs(newRoot)
	if err != nil {
		return "", fmt.Errorf("--pivot-root %s: %w", newRoot, err)
	}
	po, err := filepath.Abs(putOld)
	if err != nil {
		return "", fmt.Errorf("--pivot-root %s: %w", putOld, err)
	}
	rel, err := filepath.Rel(nr, po)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("--pivot-root %s %s: OLD must be a directory below NEW", newRoot, putOld)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("--pivot-root: make mounts private: %w", err)
	}
	if err := unix.Mount(nr, nr, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("--pivot-root: bind %s on itself: %w", nr, err)
	}
	if err := pivot.Root(nr, po); err != nil {
		return "", err // names the call and why, with a hint when known
	}
	if err := os.Chdir("/"); err != nil {
		return "", fmt.Errorf("chdir / after pivot_root: %w", err)
	}
	return "/" + rel, nil
}

// underOld re-expresses an absolute path of the old root after pivot.
func underOld(old, p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(old, p)
}

// selfCommand prepares this program to run again at stage, with extra as
// fds 3, 4, ...: "detached" in a new session with stdio on /dev/null (and
// / as working directory with chdirRoot), as daemon(3); otherwise in the new
// namespaces cloneflags names, with this process's stdio, and with mapIDs
// this user as root of the new user namespace — mapped once, for every
// connection (dived -s user -tt mapped them per connection, so only the
// first client was served: bug 7). done releases what it opened.
func selfCommand(stage string, cloneflags int, mapIDs bool, extra []*os.File, chdirRoot bool) (*exec.Cmd, func(), error) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = os.Args
	cmd.Env = append(os.Environ(), envStage+"="+stage)
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(cloneflags)}
	if stage == "detached" {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
		cmd.SysProcAttr.Setsid = true
		if chdirRoot {
			cmd.Dir = "/"
		}
		return cmd, func() { null.Close() }, nil
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if cloneflags&unix.CLONE_NEWUSER != 0 && mapIDs {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	return cmd, func() {}, nil
}

// forwardToSelf passes SIGTERM, SIGINT and SIGHUP to the started cmd for
// the rest of this process's life.
func forwardToSelf(cmd *exec.Cmd) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
}

func writePidfiles(files []string, pid int) error {
	for _, f := range files {
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			return fmt.Errorf("pidfile: %w", err)
		}
	}
	return nil
}

// reexec starts this program again with the listening socket as fd 3:
// detached (new session, stdio on /dev/null, cove exits at once, as
// daemon(1,0)) or in new namespaces (cove waits, forwards SIGTERM/SIGINT and
// exits with the server's status; the pidfiles name the serving child).
func reexec(ln *net.UnixListener, stage string, cloneflags int, mapIDs bool, pidfiles []string) (int, error) {
	ln.SetUnlinkOnClose(false)
	lf, err := ln.File()
	if err != nil {
		return 1, fmt.Errorf("listener: %w", err)
	}
	defer lf.Close()
	cmd, done, err := selfCommand(stage, cloneflags, mapIDs, []*os.File{lf}, false)
	if err != nil {
		return 1, err
	}
	defer done()
	if err := cmd.Start(); err != nil {
		if stage == "detached" {
			return 16, fmt.Errorf("detach: %w", err)
		}
		return 19, fmt.Errorf("unshare: %w", err)
	}
	if stage == "detached" {
		return 0, nil
	}
	ln.Close()
	lf.Close()
	if err := writePidfiles(pidfiles, cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 1, err
	}
	forwardToSelf(cmd)
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}
