package chain

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// strtoulFull parses s as C's strtoul(s, &end, 0) followed by a check that the whole string was
// used (nosh's test): leading blanks, an optional '+', "0x" hex, a leading "0" octal, else
// decimal. Unlike strtoul, a '-' sign is refused instead of wrapping round to a huge id.
func strtoulFull(s string) (uint64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || strings.ContainsAny(s, "_+-") {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 32)
	return n, err == nil
}

// setuidgidFromenvMain is nosh's `setuidgid-fromenv next-prog...`: set the group from $GID and the
// user from $UID (as envuidgid, s6-envuidgid or chpst -U left them), without any passwd lookup,
// so it works after a chroot that has no passwd file. The supplementary list becomes $GID plus
// $GIDLIST when GIDLIST is set (nosh's documented behaviour), else just $GID.
// Exit codes as nosh: 1 for a missing or malformed variable and for a failed exec, 111 when
// setting an id fails.
func setuidgidFromenvMain(argv []string) int {
	runtime.LockOSThread()
	t := newTool("setuidgid-fromenv")
	g := newGetopt(argv)
	// setuidgid-fromenv takes no options: any option is an error.
	if c := g.next(""); c != 0 {
		return t.fail(1, "FATAL: -"+string(g.problem)+": unknown option")
	}
	prog := g.rest()
	env := environ(os.Environ())

	text, ok := env.get("GID")
	if !ok {
		return t.fail(1, "FATAL: GID: Missing environment variable.")
	}
	gid, ok := strtoulFull(text)
	if !ok {
		return t.fail(1, "FATAL: "+text+": Not a number.")
	}
	groups := []int{int(gid)}
	if list, set := env.get("GIDLIST"); set {
		gids, ok := scanGidList(list)
		if !ok {
			return t.fail(1, "FATAL: "+list+": Not a number.")
		}
		groups = groupsWithPrimary(int(gid), gids)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return t.fail(111, "FATAL: "+text+": "+strerror(err))
	}
	if err := syscall.Setgid(int(gid)); err != nil {
		return t.fail(111, "FATAL: "+text+": "+strerror(err))
	}

	text, ok = env.get("UID")
	if !ok {
		return t.fail(1, "FATAL: UID: Missing environment variable.")
	}
	uid, ok := strtoulFull(text)
	if !ok {
		return t.fail(1, "FATAL: "+text+": Not a number.")
	}
	if err := syscall.Setuid(int(uid)); err != nil {
		return t.fail(111, "FATAL: "+text+": "+strerror(err))
	}

	if len(prog) == 0 {
		return t.fail(1, "FATAL: Missing terminal command.")
	}
	path, havePath := env.get("PATH")
	err := execSearch(prog[0], prog, env, path, havePath, skarnetSearch())
	return t.fail(1, "FATAL: "+prog[0]+": "+strerror(err))
}
