package chain

import (
	"fmt"
	"strconv"
	"strings"
)

// execOptions is the parsed command line of cove exec. It is pure data: parsing reads no file
// and changes nothing.
type execOptions struct {
	user       string // --user U[:G]
	group      string // --group G
	groups     string // --groups none|db|LIST; "" = default
	chroot     string // --chroot DIR
	chdir      string // --chdir DIR
	umask      int    // --umask, when umaskSet
	umaskSet   bool   //
	rlimits    []rlimitSetting
	nice       int // --nice, when niceSet
	niceSet    bool
	capAdd     []string // --cap-add
	capDrop    []string // --cap-drop
	capAmbient []string // --cap-ambient
	securebits string   // --securebits
	noNewPrivs bool     // --no-new-privs
	setns      []string // --setns FILE, in order
	envdirs    []string // --envdir DIR, in order
	env        []string // --env K=V, in order
	locks      []string // --lock FILE, in order
	lockNowait bool     // --lock-nowait
	help       bool     // --help
	command    []string
}

// execFlagsWithValue lists the options that take a value ("--opt V" or "--opt=V").
var execFlagsWithValue = map[string]bool{
	"--user": true, "--group": true, "--groups": true, "--chroot": true, "--chdir": true,
	"--umask": true, "--rlimit": true, "--nice": true, "--cap-add": true, "--cap-drop": true,
	"--cap-ambient": true, "--securebits": true, "--setns": true, "--envdir": true, "--env": true,
	"--lock": true,
}

// parseExecArgs parses cove exec's arguments. Options come first; "--" or the first word not
// starting with '-' starts COMMAND, whose own options are never looked at.
func parseExecArgs(args []string) (execOptions, error) {
	var o execOptions
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		if name == "-h" {
			name = "--help"
		}
		if execFlagsWithValue[name] {
			if !hasValue {
				if i+1 >= len(args) {
					return o, fmt.Errorf("%s needs a value", name)
				}
				i++
				value = args[i]
			}
		} else if hasValue {
			return o, fmt.Errorf("%s takes no value", name)
		}
		if err := o.set(name, value); err != nil {
			return o, err
		}
	}
	o.command = args[i:]
	if len(o.command) == 0 && !o.help {
		return o, fmt.Errorf("no COMMAND given")
	}
	return o, nil
}

// set records one option.
func (o *execOptions) set(name, value string) error {
	switch name {
	case "--help":
		o.help = true
	case "--user":
		o.user = value
	case "--group":
		o.group = value
	case "--groups":
		o.groups = value
	case "--chroot":
		o.chroot = value
	case "--chdir":
		o.chdir = value
	case "--umask":
		n, err := strconv.ParseUint(value, 8, 32)
		if err != nil || n > 0o777 {
			return fmt.Errorf("--umask %q: want an octal mode like 027", value)
		}
		o.umask, o.umaskSet = int(n), true
	case "--rlimit":
		r, err := parseRlimit(value)
		if err != nil {
			return err
		}
		o.rlimits = append(o.rlimits, r)
	case "--nice":
		n, err := strconv.Atoi(value)
		if err != nil || n < -20 || n > 19 {
			return fmt.Errorf("--nice %q: want a number from -20 to 19", value)
		}
		o.nice, o.niceSet = n, true
	case "--cap-add":
		o.capAdd = append(o.capAdd, splitList(value)...)
	case "--cap-drop":
		o.capDrop = append(o.capDrop, splitList(value)...)
	case "--cap-ambient":
		o.capAmbient = append(o.capAmbient, splitList(value)...)
	case "--securebits":
		o.securebits = value
	case "--no-new-privs":
		o.noNewPrivs = true
	case "--setns":
		o.setns = append(o.setns, value)
	case "--envdir":
		o.envdirs = append(o.envdirs, value)
	case "--env":
		if k, _, ok := strings.Cut(value, "="); !ok || k == "" {
			return fmt.Errorf("--env %q: want NAME=VALUE", value)
		}
		o.env = append(o.env, value)
	case "--lock":
		o.locks = append(o.locks, value)
	case "--lock-nowait":
		o.lockNowait = true
	default:
		return fmt.Errorf("unknown option %s", name)
	}
	return nil
}

// splitList splits a comma-separated option value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

const execUsage = `usage: cove exec [OPTIONS] [--] COMMAND [ARG...]

Change attributes of the current process, then exec COMMAND in place (no fork): the
chain-loading step of a run script, and what dived -J did. Steps run in this order:

  1. --envdir DIR     add DIR's variables (one file per variable: first line, trailing blanks
                      cut, NUL becomes newline, empty file unsets; dotfiles and names with '='
                      skipped); repeatable. --env NAME=VALUE then sets single variables.
  2. --user U[:G], --group G, --groups none|db|LIST
                      resolve names in this system's /etc/passwd and /etc/group, before any
                      chroot or namespace change (a jail's passwd file never picks the ids).
                      U and G are names or numbers. --groups: db = the user's groups from
                      /etc/group (default with --user), none = no supplementary groups,
                      LIST = comma-separated names or numbers.
     --cap-*, --securebits, --setns FILE: parsed and opened here too.
  3. --setns FILE     join the namespace FILE (/proc/PID/ns/net, ...); repeatable. A mount
                      namespace replaces root and cwd, so later paths are looked up inside it.
                      A pid or time namespace applies to COMMAND's children only. User
                      namespaces cannot be joined here: use cove inject.
  4. --chroot DIR     chdir(DIR) then chroot("."): cwd is the new root.
  5. --umask MODE     octal.
  6. --rlimit NAME=SOFT[:HARD]
                      NAME: as core cpu data fsize locks memlock msgqueue nice nofile nproc
                      rss rtprio rttime sigpending stack; values are numbers, unlimited or inf.
                      Without HARD the hard limit is kept (a SOFT above it is an error).
  7. --nice N         absolute nice value, -20..19.
  8. --securebits LIST  noroot, no-setuid-fixup, keep-caps, no-cap-ambient-raise, each
                      optionally with -locked, comma-separated; or a number.
  9. bounding set     with any --cap-* option, every capability outside the kept set is
                      dropped from the bounding set.
 10. setgroups, setgid, setuid (real, effective and saved ids).
 11. capabilities     --cap-add CAP, --cap-drop CAP (names like net_bind_service or
                      CAP_NET_BIND_SERVICE, or all; comma lists allowed). The kept set starts
                      from the current permitted set when the final uid is 0, empty otherwise;
                      it becomes the permitted, effective and inheritable sets.
                      --cap-ambient CAP also raises CAP in the ambient set (implies --cap-add).
 12. --no-new-privs   set no_new_privs.
 13. --chdir DIR      change directory (after the identity change: checked as the new user).
 14. --lock FILE      take an exclusive flock(2) lock on FILE (created 0600), held by COMMAND;
                      waits unless --lock-nowait. Repeatable.
 15. exec COMMAND, searched in the PATH of the new environment.

Exit status: COMMAND's own; 125 when a step failed (the message names the step, e.g.
"cove exec: setuid 1000: operation not permitted"); 126 COMMAND found but not executable;
127 COMMAND not found.

Invoked as setuidgid, envuidgid, envdir, softlimit, setlock, pgrphack (daemontools), chpst
(runit), s6-setuidgid, s6-envuidgid, s6-applyuidgid, s6-softlimit, s6-envdir, s6-setlock,
s6-chroot (s6) or setuidgid-fromenv (nosh), cove behaves as that tool: its syntax,
environment variables and exit codes. cove install-links DIR creates those links.
`
