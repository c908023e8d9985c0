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

// This file holds runit's chpst. Its conventions are djb's (100 usage, 111 any failure, djb error
// wording) with its own message layout ("chpst: fatal: unable to run: prog: file does not exist").

const chpstUsage = "usage: chpst [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog\n"

// chpstIDs is the result of chpst's uidgids_get: a uid and up to 60 gids, the first being the
// primary group.
type chpstIDs struct {
	uid  int
	gids []int
}

// errChpstNumeric marks a malformed ":uid:gid..." specification.
var errChpstNumeric = errors.New("invalid uid/gids")

// parseChpstIDs resolves chpst's -u/-U argument: "user[:group[:group...]]" by name (groups are
// names too, and the account's /etc/group memberships are not added), or ":uid:gid[:gid...]"
// numerically. Unlike runit, an empty numeric field is rejected instead of meaning 0 (root).
func parseChpstIDs(db accountDB, spec string) (chpstIDs, error) {
	if rest, ok := strings.CutPrefix(spec, ":"); ok {
		fields := strings.Split(rest, ":")
		if len(fields) < 2 || len(fields) > 61 {
			return chpstIDs{}, errChpstNumeric
		}
		var ids chpstIDs
		for i, f := range fields {
			n, ok := parseID(f)
			if !ok {
				return chpstIDs{}, errChpstNumeric
			}
			if i == 0 {
				ids.uid = n
			} else {
				ids.gids = append(ids.gids, n)
			}
		}
		return ids, nil
	}
	name, groups, hasGroups := strings.Cut(spec, ":")
	acct, err := db.user(name)
	if err != nil {
		return chpstIDs{}, err
	}
	ids := chpstIDs{uid: acct.uid}
	if !hasGroups {
		ids.gids = []int{acct.gid}
		return ids, nil
	}
	for i, g := range strings.Split(groups, ":") {
		if i == 60 {
			break
		}
		gid, err := db.groupID(g)
		if err != nil {
			return chpstIDs{}, err
		}
		ids.gids = append(ids.gids, gid)
	}
	return ids, nil
}

// chpstOptions is chpst's parsed command line.
type chpstOptions struct {
	setUser, envUser string
	argv0, envDir    string
	root             string
	nice             int
	lock             string
	lockWait         bool
	setsid           bool
	closeFD          [3]bool
	limits           []chpstLimit
	verbose          bool
	prog             []string
}

// chpstLimit is one rlimit option; chpst applies them in a fixed order after parsing.
type chpstLimit struct {
	letter byte
	value  uint64
}

// chpstLimitOrder is the order chpst applies its limits in, whatever the command line's order.
const chpstLimitOrder = "dslaopfcrt"

// chpstMain is runit's `chpst [-vVP012] [-u user] [-U user] [-b argv0] [-e dir] [-/ root] [-n inc]
// [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-r n] [-t n] prog...`.
//
// Order of operations: setsid, envdir, resolve -U/-u in the caller's passwd/group files, chroot,
// nice, -U, -u, lock, close fds, limits, exec. runit resolves names after the chroot (inside the
// jail); cove resolves them before, so a jail's own passwd file cannot choose the identity.
func chpstMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("chpst")
	usage := func() int { fmt.Fprint(t.stderr, chpstUsage+"\n"); return 100 }
	var o chpstOptions
	limits := map[byte]uint64{}
	g := newGetopt(argv)
	for {
		c := g.next("u:U:b:e:m:d:o:p:f:c:r:t:/:n:l:L:vP012V")
		if c == 0 {
			break
		}
		switch c {
		case 'u':
			o.setUser = g.arg
		case 'U':
			o.envUser = g.arg
		case 'b':
			o.argv0 = g.arg
		case 'e':
			o.envDir = g.arg
		case '/':
			o.root = g.arg
		case 'm', 'd', 'o', 'p', 'f', 'c', 'r', 't':
			n, ok := scanULong(g.arg)
			if !ok {
				return usage()
			}
			if c == 'm' {
				for _, l := range []byte("slad") {
					limits[l] = n
				}
			} else {
				limits[c] = n
			}
		case 'n':
			s, neg := g.arg, false
			if strings.HasPrefix(s, "-") {
				s, neg = s[1:], true
			} else {
				s = strings.TrimPrefix(s, "+")
			}
			n, ok := scanULong(s)
			if !ok || n > 1<<31 {
				return usage()
			}
			o.nice = int(n)
			if neg {
				o.nice = -o.nice
			}
		case 'l', 'L':
			if o.lock != "" {
				return usage()
			}
			o.lock, o.lockWait = g.arg, c == 'l'
		case 'v':
			o.verbose = true
		case 'P':
			o.setsid = true
		case '0', '1', '2':
			o.closeFD[c-'0'] = true
		case 'V':
			fmt.Fprintln(t.stderr, "$Id: cove chpst (runit 2.1.2 compatible) $")
			return usage()
		default:
			t.say(g.complaint())
			return usage()
		}
	}
	o.prog = g.rest()
	if len(o.prog) == 0 {
		return usage()
	}
	for _, l := range []byte(chpstLimitOrder) {
		if n, ok := limits[l]; ok {
			o.limits = append(o.limits, chpstLimit{letter: l, value: n})
		}
	}
	return chpstRun(t, o)
}

// chpstResolve resolves a -u/-U argument and words a failure as chpst does.
func chpstResolve(t tool, spec string) (chpstIDs, int, bool) {
	ids, err := parseChpstIDs(hostDB(), spec)
	switch {
	case err == nil:
		return ids, 0, true
	case errors.Is(err, errChpstNumeric):
		return ids, t.fail(111, "fatal: invalid uid/gids: "+spec[1:]), false
	case errors.Is(err, errNoEntry):
		return ids, t.fail(111, "fatal: unknown user/group: "+spec), false
	default:
		return ids, t.fail(111, "fatal: unable to get password/group file entry: "+djbStr(err)), false
	}
}

// chpstRun applies o and execs; it returns only on failure.
//
// Preconditions: runs on the goroutine locked by chpstMain.
func chpstRun(t tool, o chpstOptions) int {
	env := environ(os.Environ())
	if o.setsid {
		_, _ = unix.Setsid()
	}
	if o.envDir != "" {
		mods, err := djbEnvdir(o.envDir, true)
		if err != nil {
			var ee *envdirError
			errors.As(err, &ee)
			switch ee.op {
			case "open":
				return t.fail(111, "fatal: unable to switch to directory: "+o.envDir+": "+djbStr(err))
			case "list":
				return t.fail(111, "fatal: unable to read directory: "+o.envDir+": "+djbStr(err))
			default:
				return t.fail(111, "fatal: unable to read "+o.envDir+"/"+ee.name+": "+djbStr(err))
			}
		}
		for _, m := range mods {
			env = env.modify(m)
		}
	}
	var envIDs, setIDs chpstIDs
	if o.envUser != "" {
		var code int
		var ok bool
		if envIDs, code, ok = chpstResolve(t, o.envUser); !ok {
			return code
		}
	}
	if o.setUser != "" {
		var code int
		var ok bool
		if setIDs, code, ok = chpstResolve(t, o.setUser); !ok {
			return code
		}
	}
	if o.root != "" {
		if err := syscall.Chdir(o.root); err != nil {
			return t.fail(111, "fatal: unable to change directory: "+o.root+": "+djbStr(err))
		}
		if err := syscall.Chroot("."); err != nil {
			return t.fail(111, "fatal: unable to change root directory: "+djbStr(err))
		}
	}
	if o.nice != 0 {
		if err := addNice(o.nice); err != nil {
			return t.fail(111, "fatal: unable to set nice level: "+djbStr(err))
		}
	}
	if o.envUser != "" {
		env = env.set("GID", itoa(envIDs.gids[0])).set("UID", itoa(envIDs.uid))
	}
	if o.setUser != "" {
		if err := syscall.Setgroups(setIDs.gids); err != nil {
			return t.fail(111, "fatal: unable to setgroups: "+djbStr(err))
		}
		if err := syscall.Setgid(setIDs.gids[0]); err != nil {
			return t.fail(111, "fatal: unable to setgid: "+djbStr(err))
		}
		if err := syscall.Setuid(setIDs.uid); err != nil {
			return t.fail(111, "fatal: unable to setuid: "+djbStr(err))
		}
	}
	if o.lock != "" {
		fd, err := openFlockFile(o.lock)
		if err != nil {
			return t.fail(111, "fatal: unable to open lock: "+o.lock+": "+djbStr(err))
		}
		if err := flockExclusive(fd, !o.lockWait); err != nil {
			return t.fail(111, "fatal: unable to lock: "+o.lock+": "+djbStr(err))
		}
	}
	for fd, name := range []string{"stdin", "stdout", "stderr"} {
		if o.closeFD[fd] {
			if err := unix.Close(fd); err != nil {
				return t.fail(111, "fatal: unable to close "+name+": "+djbStr(err))
			}
		}
	}
	for _, l := range o.limits {
		for _, res := range softlimitResources(l.letter) {
			if err := softLimit(res, l.value, false); err != nil {
				return t.fail(111, "fatal: unable to "+stepOf(err)+"(): "+djbStr(err))
			}
		}
	}
	file, argv := o.prog[0], append([]string(nil), o.prog...)
	if o.argv0 != "" {
		argv[0] = o.argv0
	}
	path, ok := environ(os.Environ()).get("PATH")
	err := execSearch(file, argv, env, path, ok, djbSearch())
	return t.fail(111, "fatal: unable to run: "+argv[0]+": "+djbStr(err))
}

// addNice adds inc to the calling thread's nice value, as nice(3) does; the kernel clamps the
// result to [-20, 19]. On Linux the nice value is per thread: the exec'ing thread's value is the
// one the program inherits.
//
// Preconditions: runs on the locked thread that will exec.
func addNice(inc int) error {
	// The raw getpriority syscall returns 20 - nice.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return err
	}
	return unix.Setpriority(unix.PRIO_PROCESS, 0, 20-raw+inc)
}
