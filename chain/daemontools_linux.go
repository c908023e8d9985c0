package chain

import (
	"errors"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// This file holds the daemontools 0.76 personalities. Their conventions: messages
// "NAME: fatal: ..." with djb's error wording, 100 for usage (111 for envdir, as the original),
// 111 for every other failure including a failed exec, names resolved with getpwnam only (no
// numeric ids), and a PATH search that uses the caller's PATH, not one set by envdir.

// djbExec execs argv with env, searching the PATH of the environment the tool started with.
func djbExec(argv, env []string) error {
	path, ok := environ(os.Environ()).get("PATH")
	return execSearch(argv[0], argv, env, path, ok, djbSearch())
}

// djbSetgroupsGid is djb's prot_gid: setgroups to the single group gid, then setgid. Go applies
// both to every thread of the process.
func djbSetgroupsGid(gid int) error {
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return err
	}
	return syscall.Setgid(gid)
}

// setuidgidMain is daemontools `setuidgid account child...`.
func setuidgidMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("setuidgid")
	if len(argv) < 3 {
		return t.fail(100, "usage: setuidgid account child")
	}
	acct, err := hostDB().user(argv[1])
	if err != nil {
		return t.fail(111, "fatal: unknown account "+argv[1])
	}
	if err := djbSetgroupsGid(acct.gid); err != nil {
		return t.fail(111, "fatal: unable to setgid: "+djbStr(err))
	}
	if err := syscall.Setuid(acct.uid); err != nil {
		return t.fail(111, "fatal: unable to setuid: "+djbStr(err))
	}
	err = djbExec(argv[2:], os.Environ())
	return t.fail(111, "fatal: unable to run "+argv[2]+": "+djbStr(err))
}

// envuidgidMain is daemontools `envuidgid account child...`: it exports UID and GID (no GIDLIST).
func envuidgidMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("envuidgid")
	if len(argv) < 3 {
		return t.fail(100, "usage: envuidgid account child")
	}
	acct, err := hostDB().user(argv[1])
	if err != nil {
		return t.fail(111, "fatal: unknown account "+argv[1])
	}
	env := environ(os.Environ()).set("GID", itoa(acct.gid)).set("UID", itoa(acct.uid))
	err = djbExec(argv[2:], env)
	return t.fail(111, "fatal: unable to run "+argv[2]+": "+djbStr(err))
}

// envdirMain is daemontools `envdir d child...`.
func envdirMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("envdir")
	if len(argv) < 3 {
		return t.fail(111, "usage: envdir dir child") // sic: the original exits 111 here
	}
	dir := argv[1]
	mods, err := djbEnvdir(dir, false)
	if err != nil {
		var ee *envdirError
		errors.As(err, &ee)
		switch ee.op {
		case "open":
			return t.fail(111, "fatal: unable to switch to directory "+dir+": "+djbStr(err))
		case "list":
			return t.fail(111, "fatal: unable to read directory "+dir+": "+djbStr(err))
		default:
			return t.fail(111, "fatal: unable to read "+dir+"/"+ee.name+": "+djbStr(err))
		}
	}
	env := environ(os.Environ())
	for _, m := range mods {
		env = env.modify(m)
	}
	err = djbExec(argv[2:], env)
	return t.fail(111, "fatal: unable to run "+argv[2]+": "+djbStr(err))
}

// softlimitUsage is daemontools softlimit's usage line.
const softlimitUsage = "usage: softlimit [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child"

// softlimitMain is daemontools `softlimit [-acdflmoprst n] child...`. Each option takes effect as
// it is parsed, like the original: "=" means the hard limit, larger values are clamped to it.
func softlimitMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("softlimit")
	g := newGetopt(argv)
	for {
		c := g.next("a:c:d:f:l:m:o:p:r:s:t:")
		if c == 0 {
			break
		}
		if c == '?' {
			t.say(g.complaint())
			return t.fail(100, softlimitUsage)
		}
		value, toHard := uint64(0), g.arg == "="
		if !toHard {
			var ok bool
			if value, ok = scanULong(g.arg); !ok {
				return t.fail(100, softlimitUsage)
			}
		}
		for _, res := range softlimitResources(c) {
			if err := softLimit(res, value, toHard); err != nil {
				return t.fail(111, "fatal: "+stepOf(err)+" failed: "+djbStr(err))
			}
		}
	}
	rest := g.rest()
	if len(rest) == 0 {
		return t.fail(100, softlimitUsage)
	}
	err := djbExec(rest, os.Environ())
	return t.fail(111, "fatal: unable to run "+rest[0]+": "+djbStr(err))
}

// setlockMain is daemontools `setlock [-nNxX] file program...`: an exclusive flock(2) on file,
// inherited by the program. -n: fail instead of waiting; -x: if the lock cannot be opened or taken,
// exit 0 without running the program.
func setlockMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("setlock")
	const usage = "usage: setlock [ -nNxX ] file program [ arg ... ]"
	g := newGetopt(argv)
	nowait, quiet := false, false
	for {
		c := g.next("nNxX")
		if c == 0 {
			break
		}
		switch c {
		case 'n':
			nowait = true
		case 'N':
			nowait = false
		case 'x':
			quiet = true
		case 'X':
			quiet = false
		default:
			t.say(g.complaint())
			return t.fail(100, usage)
		}
	}
	rest := g.rest()
	if len(rest) < 2 {
		return t.fail(100, usage)
	}
	file := rest[0]
	fd, err := openFlockFile(file)
	if err != nil {
		if quiet {
			return 0
		}
		return t.fail(111, "fatal: unable to open "+file+": "+djbStr(err))
	}
	if err := flockExclusive(fd, nowait); err != nil {
		if quiet {
			return 0
		}
		return t.fail(111, "fatal: unable to lock "+file+": "+djbStr(err))
	}
	err = djbExec(rest[1:], os.Environ())
	return t.fail(111, "fatal: unable to run "+rest[1]+": "+djbStr(err))
}

// pgrphackMain is daemontools `pgrphack child...`: run child in a new session.
func pgrphackMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("pgrphack")
	if len(argv) < 2 {
		return t.fail(100, "usage: pgrphack child")
	}
	_, _ = unix.Setsid() // the original ignores failure (already a group leader)
	err := djbExec(argv[1:], os.Environ())
	return t.fail(111, "fatal: unable to run "+argv[1]+": "+djbStr(err))
}
