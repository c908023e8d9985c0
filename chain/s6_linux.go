package chain

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file holds the s6 (skarnet) personalities. Their conventions: messages
// "NAME: fatal: unable to X: Strerror" and "NAME: usage: ...", 100 for usage, 111 for a failed
// system call, 1 for an unknown account or a busy lock, 126/127 for a failed exec.

// skaExec execs argv with env, searching the PATH the tool started with; it returns the
// exit status and prints the message when exec fails.
func skaExec(t tool, argv, env []string) int {
	path, ok := environ(os.Environ()).get("PATH")
	err := execSearch(argv[0], argv, env, path, ok, skarnetSearch())
	return t.fail(skarnetExecStatus(err), "fatal: unable to exec "+argv[0]+": "+strerror(err))
}

// scanGidList parses a skalibs gid list: numbers separated by ',' ':' or blanks. Like skalibs it
// stops quietly at the first thing that is not a number ("1,x" gives [1]); ok is false only when
// nothing at all could be read from a non-empty string.
func scanGidList(s string) (gids []int, ok bool) {
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			break
		}
		n, good := parseID(s[i:j])
		if !good {
			break
		}
		gids = append(gids, n)
		i = j
		if i < len(s) && strings.IndexByte(",: \t\n", s[i]) >= 0 {
			i++
			continue
		}
		break
	}
	return gids, len(gids) > 0 || s == ""
}

// formatGidList formats gids as skalibs' gid_fmtlist does: comma-separated.
func formatGidList(gids []int) string {
	parts := make([]string, len(gids))
	for i, g := range gids {
		parts[i] = strconv.Itoa(g)
	}
	return strings.Join(parts, ",")
}

// groupsWithPrimary is skalibs' setgroups_and_gid list: gid first, then the others without a
// second copy of gid.
func groupsWithPrimary(gid int, gids []int) []int {
	out := []int{gid}
	for _, g := range gids {
		if g != gid {
			out = append(out, g)
		}
	}
	return out
}

const s6ApplyuidgidUsage = "usage: s6-applyuidgid [ -z ] [ -u uid ] [ -g gid ] [ -G gidlist ] [ -U ] prog..."

// s6ApplyuidgidMain is `s6-applyuidgid [-z] [-u uid] [-g gid] [-G gidlist] [-U] prog...`. Options
// apply left to right; 0 means "unset" for -u and -g (s6's documented convention).
//
// Deliberate difference: s6 leaves the supplementary groups untouched when no -G/-U is given, so
// root's groups survive `-u N`. cove then sets them to the single (new or current) gid; if that is
// not permitted the caller had no privilege to drop and the groups are its own anyway.
func s6ApplyuidgidMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-applyuidgid")
	uid, gid := 0, 0
	var gids []int
	haveGids, unexport := false, false
	env := environ(os.Environ())
	g := newGetopt(argv)
	for {
		c := g.next("zUu:g:G:")
		if c == 0 {
			break
		}
		var ok bool
		switch c {
		case 'z':
			unexport = true
		case 'u':
			if uid, ok = parseID(g.arg); !ok {
				return t.fail(100, s6ApplyuidgidUsage)
			}
		case 'g':
			if gid, ok = parseID(g.arg); !ok {
				return t.fail(100, s6ApplyuidgidUsage)
			}
		case 'G':
			if gids, ok = scanGidList(g.arg); !ok {
				return t.fail(100, s6ApplyuidgidUsage)
			}
			haveGids = true
		case 'U':
			for _, v := range []string{"UID", "GID", "GIDLIST"} {
				s, set := env.get(v)
				if !set {
					return t.fail(100, "fatal: "+v+" not set")
				}
				switch v {
				case "UID":
					if uid, ok = parseID(s); !ok {
						return t.fail(100, "fatal: invalid $UID")
					}
				case "GID":
					if gid, ok = parseID(s); !ok {
						return t.fail(100, "fatal: invalid $GID")
					}
				case "GIDLIST":
					if gids, ok = scanGidList(s); !ok {
						return t.fail(100, "fatal: invalid $GIDLIST")
					}
					haveGids = true
				}
			}
		default:
			return t.fail(100, s6ApplyuidgidUsage)
		}
	}
	prog := g.rest()
	if len(prog) == 0 {
		return t.fail(100, s6ApplyuidgidUsage)
	}
	primary := gid
	if primary == 0 {
		primary = syscall.Getegid()
	}
	switch {
	case haveGids:
		if err := syscall.Setgroups(groupsWithPrimary(primary, gids)); err != nil {
			return t.fail(111, "fatal: unable to set supplementary group list: "+strerror(err))
		}
	case uid != 0 || gid != 0:
		if err := syscall.Setgroups([]int{primary}); err != nil && errnoOf(err) != syscall.EPERM {
			return t.fail(111, "fatal: unable to set supplementary group list: "+strerror(err))
		}
	}
	if gid != 0 {
		if err := syscall.Setgid(gid); err != nil {
			return t.fail(111, "fatal: unable to setgid: "+strerror(err))
		}
	}
	if uid != 0 {
		if err := syscall.Setuid(uid); err != nil {
			return t.fail(111, "fatal: unable to setuid: "+strerror(err))
		}
	}
	if unexport {
		env = env.without("UID").without("GID").without("GIDLIST")
	}
	return skaExec(t, prog, env)
}

const s6EnvuidgidUsage = "usage: s6-envuidgid [ -i | -D defaultuid:defaultgid:defaultgidlist ] [ -u | -g | -B ] [ -n ] account prog..."

// s6Defaults parses s6-envuidgid's -D uid:gid:gidlist (each part optional, missing ones are 0 or
// empty).
func s6Defaults(s string) (uid, gid int, gids []int, ok bool) {
	parts := strings.SplitN(s, ":", 3)
	num := func(p string) (int, bool) {
		if p == "" {
			return 0, true
		}
		return parseID(p)
	}
	if uid, ok = num(parts[0]); !ok {
		return 0, 0, nil, false
	}
	if len(parts) > 1 {
		if gid, ok = num(parts[1]); !ok {
			return 0, 0, nil, false
		}
	}
	if len(parts) > 2 && parts[2] != "" {
		if gids, ok = scanGidList(parts[2]); !ok {
			return 0, 0, nil, false
		}
	}
	return uid, gid, gids, true
}

// s6EnvuidgidMain is `s6-envuidgid [-i|-D uid:gid:gidlist] [-u|-g|-B] [-n] account prog...`: it
// exports UID, GID and GIDLIST (the account's supplementary groups from /etc/group), or only UID
// (-u), only GID of a group (-g), or UID and GID of "user:group" (-B). Parts that are not looked up
// are exported as 0, s6's "unset".
func s6EnvuidgidMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-envuidgid")
	const (
		wantUID = 1 << iota
		wantGID
		wantList
	)
	what, numeric, insist := wantUID|wantGID|wantList, false, true
	uid, gid := 0, 0
	var gids []int
	g := newGetopt(argv)
	for {
		c := g.next("ugBniD:")
		if c == 0 {
			break
		}
		switch c {
		case 'u':
			what = wantUID
		case 'g':
			what = wantGID
		case 'B':
			what = wantUID | wantGID
		case 'n':
			what &= wantUID | wantGID
			numeric = true
		case 'i':
			insist = true
		case 'D':
			var ok bool
			if uid, gid, gids, ok = s6Defaults(g.arg); !ok {
				return t.fail(100, s6EnvuidgidUsage)
			}
			insist = false
		default:
			return t.fail(100, s6EnvuidgidUsage)
		}
	}
	rest := g.rest()
	if len(rest) < 2 {
		return t.fail(100, s6EnvuidgidUsage)
	}
	db := hostDB()
	account, user, group := rest[0], "", ""
	switch what {
	case wantUID | wantGID | wantList, wantUID:
		user = account
	case wantGID:
		group = account
	case wantUID | wantGID:
		u, gr, _ := strings.Cut(account, ":")
		user, group = u, gr
	}
	if group != "" {
		id, err := db.groupID(group)
		switch {
		case err == nil:
			gid = id
		case numeric && isNumber(group):
			gid, _ = parseID(group)
		case insist:
			return t.fail(1, "fatal: unknown group: "+group)
		}
	}
	if user != "" {
		acct, err := db.user(user)
		switch {
		case err == nil:
			uid = acct.uid
			if what == wantUID|wantGID|wantList {
				list, err := db.memberOf(user)
				if err != nil {
					return t.fail(111, "fatal: unable to get supplementary groups for "+user+": "+strerror(err))
				}
				gids, gid = list, acct.gid
			}
		case numeric && isNumber(user):
			uid, _ = parseID(user)
		case insist:
			return t.fail(1, "fatal: unknown user: "+user)
		}
	}
	env := environ(os.Environ())
	if what&wantUID != 0 {
		env = env.set("UID", itoa(uid))
	}
	if what&wantGID != 0 {
		env = env.set("GID", itoa(gid))
	}
	if what&wantList != 0 {
		env = env.set("GIDLIST", formatGidList(gids))
	}
	return skaExec(t, rest[1:], env)
}

func isNumber(s string) bool { _, ok := parseID(s); return ok }

// s6SetuidgidMain is `s6-setuidgid account prog...`: "uid:gid" sets exactly those ids with the
// supplementary list {gid}; a name sets the account's uid, gid and /etc/group memberships. Like
// s6 (which chains into s6-envuidgid and s6-applyuidgid), errors are worded by those tools, and the
// name form removes UID, GID and GIDLIST from the environment.
func s6SetuidgidMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-setuidgid")
	if len(argv) < 3 {
		return t.fail(100, "usage: s6-setuidgid username prog...")
	}
	account, prog := argv[1], argv[2:]
	if account == "" {
		return skaExec(t, prog, os.Environ())
	}
	if u, g, ok := strings.Cut(account, ":"); ok {
		return s6ApplyuidgidMain(append([]string{"s6-applyuidgid", "-u", u, "-g", g, "-G", "", "--"}, prog...))
	}
	acct, err := hostDB().user(account)
	if err != nil {
		return newTool("s6-envuidgid").fail(1, "fatal: unknown user: "+account)
	}
	list, err := hostDB().memberOf(account)
	if err != nil {
		return newTool("s6-envuidgid").fail(111, "fatal: unable to get supplementary groups for "+account+": "+strerror(err))
	}
	ta := newTool("s6-applyuidgid")
	if err := syscall.Setgroups(groupsWithPrimary(acct.gid, list)); err != nil {
		return ta.fail(111, "fatal: unable to set supplementary group list: "+strerror(err))
	}
	if acct.gid != 0 {
		if err := syscall.Setgid(acct.gid); err != nil {
			return ta.fail(111, "fatal: unable to setgid: "+strerror(err))
		}
	}
	if acct.uid != 0 {
		if err := syscall.Setuid(acct.uid); err != nil {
			return ta.fail(111, "fatal: unable to setuid: "+strerror(err))
		}
	}
	env := environ(os.Environ()).without("UID").without("GID").without("GIDLIST")
	return skaExec(ta, prog, env)
}

const s6SoftlimitUsage = "usage: s6-softlimit [ -a allbytes ] [ -c corebytes ] [ -d databytes ] [ -f filebytes ] [ -l lockbytes ] [ -m membytes ] [ -o openfiles ] [ -p processes ] [ -r residentbytes ] [ -s stackbytes ] [ -t cpusecs ] prog..."

// s6SoftlimitMain is `s6-softlimit [-acdflmoprst n] prog...`. Like the original, an unknown option
// letter is ignored.
func s6SoftlimitMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-softlimit")
	g := newGetopt(argv)
	for {
		c := g.next("a:c:d:f:l:m:o:p:r:s:t:")
		if c == 0 {
			break
		}
		if c == '?' {
			continue
		}
		value, toHard := uint64(0), g.arg == "="
		if !toHard {
			var ok bool
			if value, ok = scanULong(g.arg); !ok || g.arg == "" {
				return t.fail(100, s6SoftlimitUsage)
			}
		}
		for _, res := range softlimitResources(c) {
			if err := softLimit(res, value, toHard); err != nil {
				return t.fail(111, "fatal: unable to "+stepOf(err)+": "+strerror(err))
			}
		}
	}
	prog := g.rest()
	if len(prog) == 0 {
		return t.fail(100, s6SoftlimitUsage)
	}
	return skaExec(t, prog, os.Environ())
}

const s6EnvdirUsage = "usage: s6-envdir [ -I | -i ] [ -n ] [ -f ] [ -L ] [ -c nullchar ] dir prog..."

// s6EnvdirMain is `s6-envdir [-I|-i] [-n] [-f] [-L] [-c nullchar] dir prog...`.
func s6EnvdirMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-envdir")
	o := s6EnvdirOptions{nullIs: '\n'}
	insist := true
	g := newGetopt(argv)
	for {
		c := g.next("IinfLc:")
		if c == 0 {
			break
		}
		switch c {
		case 'I':
			insist = false
		case 'i':
			insist = true
		case 'n':
			o.noChomp = true
		case 'f':
			o.verbatim = true
		case 'L':
			o.noClamp = true
		case 'c':
			o.nullIs = 0
			if g.arg != "" {
				o.nullIs = g.arg[0]
			}
		default:
			return t.fail(100, s6EnvdirUsage)
		}
	}
	rest := g.rest()
	if len(rest) < 2 {
		return t.fail(100, s6EnvdirUsage)
	}
	env := environ(os.Environ())
	mods, err := s6Envdir(rest[0], o)
	if err != nil {
		var ee *envdirError
		if insist || !errors.As(err, &ee) || ee.op != "open" || errnoOf(err) != syscall.ENOENT {
			return t.fail(111, "fatal: unable to envdir "+rest[0]+": "+strerror(err))
		}
	}
	for _, m := range mods {
		env = env.modify(m)
	}
	return skaExec(t, rest[1:], env)
}

const s6SetlockUsage = "usage: s6-setlock [ -r | -w ] [ -n | -N | -t timeout ] lockfile prog..."

// s6SetlockMain is `s6-setlock [-r|-w] [-n|-N|-t ms] lockfile prog...`: a POSIX fcntl(2) record
// lock (not flock: it does not exclude daemontools setlock). A busy lock exits 1.
//
// Difference: s6 waits for a -t lock in a helper process that then holds the lock; cove polls for
// it itself, so the lock is held by the program, as with -n and -N.
func s6SetlockMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-setlock")
	shared := false
	timeout := time.Duration(-1)
	g := newGetopt(argv)
	for {
		c := g.next("nNrwt:")
		if c == 0 {
			break
		}
		switch c {
		case 'n':
			timeout = 0
		case 'N':
			timeout = -1
		case 'r':
			shared = true
		case 'w':
			shared = false
		case 't':
			ms, ok := scanULong(g.arg)
			if !ok || g.arg == "" || ms > 1<<31 {
				return t.fail(100, s6SetlockUsage)
			}
			timeout = time.Duration(ms) * time.Millisecond
		default:
			return t.fail(100, s6SetlockUsage)
		}
	}
	rest := g.rest()
	if len(rest) < 2 {
		return t.fail(100, s6SetlockUsage)
	}
	file := rest[0]
	fd, err := openPosixLockFile(file, shared)
	if err != nil {
		mode := "writing"
		if shared {
			mode = "reading"
		}
		return t.fail(111, fmt.Sprintf("fatal: unable to open %s for %s: %s", file, mode, strerror(err)))
	}
	if err := posixLock(fd, shared, timeout); err != nil {
		if timeout > 0 && errnoOf(err) == syscall.ETIMEDOUT {
			return t.fail(1, "fatal: unable to acquire lock: "+strerror(err))
		}
		code := 111
		if errnoOf(err) == syscall.EBUSY {
			code = 1
		}
		return t.fail(code, "fatal: unable to lock "+file+": "+strerror(err))
	}
	return skaExec(t, rest[1:], os.Environ())
}

// s6ChrootMain is s6-linux-utils' `s6-chroot dir prog...`: chdir(dir), chroot("."), exec.
func s6ChrootMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("s6-chroot")
	g := newGetopt(argv)
	if c := g.next(""); c != 0 {
		return t.fail(100, "usage: s6-chroot dir prog...")
	}
	rest := g.rest()
	if len(rest) < 2 {
		return t.fail(100, "usage: s6-chroot dir prog...")
	}
	if err := syscall.Chdir(rest[0]); err != nil {
		return t.fail(111, "fatal: unable to chdir to "+rest[0]+": "+strerror(err))
	}
	if err := syscall.Chroot("."); err != nil {
		return t.fail(111, "fatal: unable to chroot in "+rest[0]+": "+strerror(err))
	}
	return skaExec(t, rest[1:], os.Environ())
}
