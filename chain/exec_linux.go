package chain

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExecMain implements `cove exec [OPTIONS] [--] COMMAND...`; args excludes "cove" and "exec".
// It returns only on failure: 125 when a step failed, 126 when COMMAND cannot be executed, 127
// when it does not exist (see execUsage for the steps).
//
// Preconditions: called from the main goroutine; it locks the goroutine to its OS thread for
// good, because capabilities, securebits, no_new_privs, nice and namespaces are per-thread and
// only the thread that calls execve carries them into COMMAND.
func ExecMain(args []string) int {
	runtime.LockOSThread()
	o, err := parseExecArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cove exec: %v\n(see cove exec --help)\n", err)
		return 125
	}
	if o.help {
		fmt.Print(execUsage)
		return 0
	}
	p, err := planExec(o, hostDB(), environ(os.Environ()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cove exec: %v\n", err)
		return 125
	}
	for _, s := range p.steps() {
		if err := s.run(); err != nil {
			fmt.Fprintf(os.Stderr, "cove exec: %v\n", err)
			return 125
		}
	}
	path, ok := p.env.get("PATH")
	err = execSearch(o.command[0], o.command, p.env, path, ok, searchStyle{defaultPath: "/usr/local/bin:/usr/bin:/bin"})
	fmt.Fprintf(os.Stderr, "cove exec: exec %s: %v\n", o.command[0], err)
	if e := errnoOf(err); e == syscall.ENOENT || e == syscall.ENOTDIR {
		return 127
	}
	return 126
}

// execPlan is everything cove exec will do, fully resolved before the first change: ids,
// capability sets, namespace fds, environment.
type execPlan struct {
	opts execOptions
	env  environ

	setUID, setGID, setGroups bool
	uid, gid                  int
	groups                    []int

	capsGiven bool   // any --cap-* option: manage the capability sets
	keepCaps  capSet // the permitted/effective/inheritable sets after the identity change
	ambient   capSet

	securebits    int
	setSecurebits bool

	namespaces []nsFile
}

// planExec resolves o: reads envdirs, resolves users and groups in db (the caller's files,
// before any chroot or setns), parses capability names, and opens namespace files. It changes
// nothing but opening those files.
func planExec(o execOptions, db accountDB, env environ) (*execPlan, error) {
	p := &execPlan{opts: o, env: env}
	for _, dir := range o.envdirs {
		mods, err := s6Envdir(dir, s6EnvdirOptions{noClamp: true, nullIs: '\n'})
		if err != nil {
			return nil, stepErr("envdir "+dir, err)
		}
		for _, m := range mods {
			p.env = p.env.modify(m)
		}
	}
	for _, kv := range o.env {
		k, v, _ := strings.Cut(kv, "=")
		p.env = p.env.set(k, v)
	}
	if err := p.resolveIDs(db); err != nil {
		return nil, err
	}
	if err := p.resolveCaps(); err != nil {
		return nil, err
	}
	if o.securebits != "" {
		bits, err := parseSecurebits(o.securebits)
		if err != nil {
			return nil, stepErr("securebits", err)
		}
		p.securebits, p.setSecurebits = bits, true
	}
	for _, f := range o.setns {
		ns, err := openNamespace(f)
		if err != nil {
			p.closeNamespaces()
			return nil, err
		}
		p.namespaces = append(p.namespaces, ns)
	}
	return p, nil
}

func (p *execPlan) closeNamespaces() {
	for _, ns := range p.namespaces {
		unix.Close(ns.fd)
	}
}

// resolveIDs turns --user, --group and --groups into numbers.
func (p *execPlan) resolveIDs(db accountDB) error {
	o := p.opts
	userName := ""
	if o.user != "" {
		u, g, hasGroup := strings.Cut(o.user, ":")
		acct, err := lookupUserSpec(db, u)
		if err != nil {
			return stepErr("resolve user "+u, err)
		}
		p.setUID, p.uid = true, acct.uid
		userName = acct.name
		if acct.name != "" {
			p.setGID, p.gid = true, acct.gid
		}
		if hasGroup {
			if o.group != "" {
				return errors.New("give the group once: --user U:G or --group G")
			}
			gid, err := lookupGroupSpec(db, g)
			if err != nil {
				return stepErr("resolve group "+g, err)
			}
			p.setGID, p.gid = true, gid
		}
	}
	if o.group != "" {
		gid, err := lookupGroupSpec(db, o.group)
		if err != nil {
			return stepErr("resolve group "+o.group, err)
		}
		p.setGID, p.gid = true, gid
	}
	if p.setUID && !p.setGID {
		return fmt.Errorf("resolve user %s: uid %d has no passwd entry, so no primary group: give one with --user %s:GROUP or --group", o.user, p.uid, o.user)
	}
	mode := o.groups
	if mode == "" {
		switch {
		case userName != "":
			mode = "db"
		case p.setUID || p.setGID:
			mode = "none"
		}
	}
	switch mode {
	case "":
	case "none":
		p.setGroups, p.groups = true, []int{}
	case "db":
		if userName == "" {
			return fmt.Errorf("--groups db needs --user naming an account in %s", db.passwd)
		}
		member, err := db.memberOf(userName)
		if err != nil {
			return stepErr("resolve groups of "+userName, err)
		}
		p.setGroups, p.groups = true, groupsWithPrimary(p.gid, member)
	default:
		p.setGroups, p.groups = true, []int{}
		for _, g := range splitList(mode) {
			gid, err := lookupGroupSpec(db, g)
			if err != nil {
				return stepErr("resolve group "+g, err)
			}
			p.groups = append(p.groups, gid)
		}
	}
	return nil
}

// lookupUserSpec resolves a user name, or a number (with its passwd entry when there is one).
func lookupUserSpec(db accountDB, s string) (account, error) {
	if s == "" {
		return account{}, errors.New("empty user")
	}
	if uid, ok := parseID(s); ok {
		if acct, err := db.userByID(uid); err == nil {
			return acct, nil
		}
		return account{uid: uid}, nil
	}
	acct, err := db.user(s)
	if errors.Is(err, errNoEntry) {
		return account{}, fmt.Errorf("no such user in %s", db.passwd)
	}
	return acct, err
}

// lookupGroupSpec resolves a group name or number.
func lookupGroupSpec(db accountDB, s string) (int, error) {
	if gid, ok := parseID(s); ok {
		return gid, nil
	}
	if s == "" {
		return 0, errors.New("empty group")
	}
	gid, err := db.groupID(s)
	if errors.Is(err, errNoEntry) {
		return 0, fmt.Errorf("no such group in %s", db.group)
	}
	return gid, err
}

// resolveCaps computes the capability sets the command will run with.
func (p *execPlan) resolveCaps() error {
	o := p.opts
	if len(o.capAdd)+len(o.capDrop)+len(o.capAmbient) == 0 {
		return nil
	}
	p.capsGiven = true
	add, err := parseCapNames(o.capAdd)
	if err != nil {
		return stepErr("--cap-add", err)
	}
	drop, err := parseCapNames(o.capDrop)
	if err != nil {
		return stepErr("--cap-drop", err)
	}
	if p.ambient, err = parseCapNames(o.capAmbient); err != nil {
		return stepErr("--cap-ambient", err)
	}
	finalUID := syscall.Getuid()
	if p.setUID {
		finalUID = p.uid
	}
	var base capSet
	if finalUID == 0 {
		cur, err := getThreadCaps()
		if err != nil {
			return stepErr("capget", err)
		}
		base = cur.permitted
	}
	p.keepCaps = (base | add | p.ambient) &^ drop
	if p.ambient&^p.keepCaps != 0 {
		return errors.New("--cap-ambient names a capability that --cap-drop removes")
	}
	return nil
}

// execStep is one named change cove exec makes.
type execStep struct {
	name string
	run  func() error
}

// steps lists the changes in the order they are made. The order is part of the contract (see
// execUsage): namespaces before chroot (joining a mount namespace resets root and cwd), securebits
// before the bounding set and the identity change (they need CAP_SETPCAP), the bounding set before
// setuid, capabilities after it (with keep-caps across it), chdir and locks last so they are
// checked as the new user.
//
// Preconditions: the steps run, in order, on the locked thread that will exec.
func (p *execPlan) steps() []execStep {
	o := p.opts
	var s []execStep
	add := func(name string, run func() error) { s = append(s, execStep{name, run}) }
	for _, ns := range p.namespaces {
		add("setns", ns.join)
	}
	if o.chroot != "" {
		add("chroot", func() error {
			if err := syscall.Chdir(o.chroot); err != nil {
				return stepErr("chroot "+o.chroot, err)
			}
			if err := syscall.Chroot("."); err != nil {
				return stepErr("chroot "+o.chroot, err)
			}
			return nil
		})
	}
	if o.umaskSet {
		add("umask", func() error { syscall.Umask(o.umask); return nil })
	}
	for _, r := range o.rlimits {
		add("rlimit", r.apply)
	}
	if o.niceSet {
		add("nice", func() error {
			if err := unix.Setpriority(unix.PRIO_PROCESS, 0, o.nice); err != nil {
				return stepErr(fmt.Sprintf("nice %d", o.nice), err)
			}
			return nil
		})
	}
	if p.setSecurebits {
		add("securebits", func() error {
			if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(p.securebits), 0, 0, 0); err != nil {
				return stepErr(fmt.Sprintf("securebits %#x", p.securebits), err)
			}
			return nil
		})
	}
	if p.capsGiven {
		add("bounding", func() error {
			if err := dropBoundingExcept(p.keepCaps); err != nil {
				return stepErr("bounding set", err)
			}
			return nil
		})
		add("keepcaps", func() error {
			if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
				return stepErr("keep capabilities across setuid", err)
			}
			return nil
		})
	}
	if p.setGroups {
		add("setgroups", p.applyGroups)
	}
	if p.setGID {
		add("setgid", func() error { return applyID("setgid", p.gid, unix.Getresgid, syscall.Setresgid) })
	}
	if p.setUID {
		add("setuid", func() error { return applyID("setuid", p.uid, unix.Getresuid, syscall.Setresuid) })
	}
	if p.capsGiven {
		add("capset", func() error {
			if err := setThreadCaps(threadCaps{effective: p.keepCaps, permitted: p.keepCaps, inheritable: p.keepCaps}); err != nil {
				return stepErr("capset", err)
			}
			if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
				return stepErr("clear keep-caps", err)
			}
			return nil
		})
		if p.ambient != 0 {
			add("ambient", func() error {
				if err := raiseAmbient(p.ambient); err != nil {
					return stepErr("ambient capabilities", err)
				}
				return nil
			})
		}
	}
	if o.noNewPrivs {
		add("no_new_privs", func() error {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return stepErr("no_new_privs", err)
			}
			return nil
		})
	}
	if o.chdir != "" {
		add("chdir", func() error {
			if err := syscall.Chdir(o.chdir); err != nil {
				return stepErr("chdir "+o.chdir, err)
			}
			return nil
		})
	}
	for _, l := range o.locks {
		add("lock", func() error {
			fd, err := openFlockFile(l)
			if err != nil {
				return stepErr("lock "+l, err)
			}
			if err := flockExclusive(fd, o.lockNowait); err != nil {
				if errnoOf(err) == syscall.EWOULDBLOCK {
					err = errors.New("held by another process (--lock-nowait)")
				}
				return stepErr("lock "+l, err)
			}
			return nil
		})
	}
	return s
}

// applyGroups sets the supplementary groups, skipping the call when they are already right so
// that an unprivileged caller can name its own identity.
func (p *execPlan) applyGroups() error {
	cur, err := syscall.Getgroups()
	if err == nil && sameGroups(cur, p.groups) {
		return nil
	}
	if err := syscall.Setgroups(p.groups); err != nil {
		return stepErr("setgroups "+formatGidList(p.groups), err)
	}
	return nil
}

func sameGroups(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// applyID sets the real, effective and saved uid (or gid) to id, unless all three already are.
// Go applies it to every thread of the process.
func applyID(name string, id int, get func() (int, int, int), set func(int, int, int) error) error {
	if r, e, s := get(); r == id && e == id && s == id {
		return nil
	}
	if err := set(id, id, id); err != nil {
		return stepErr(fmt.Sprintf("%s %d", name, id), err)
	}
	return nil
}
