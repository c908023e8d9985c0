package chain

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/moby/sys/user"
)

// accountDB names the passwd and group files names are resolved in. Every personality resolves
// names in the files of the root it starts in, before any chroot.
type accountDB struct {
	passwd, group string
}

func hostDB() accountDB { return accountDB{passwd: "/etc/passwd", group: "/etc/group"} }

// errNoEntry reports a name absent from the database (as opposed to an unreadable file).
var errNoEntry = errors.New("no such entry")

// account is one passwd entry.
type account struct {
	name     string
	uid, gid int
	home     string
}

// user returns the first passwd entry called name, as getpwnam does.
func (db accountDB) user(name string) (account, error) {
	return db.firstUser(func(u user.User) bool { return u.Name == name })
}

// userByID returns the first passwd entry with uid.
func (db accountDB) userByID(uid int) (account, error) {
	return db.firstUser(func(u user.User) bool { return u.Uid == uid })
}

// firstUser returns the first passwd entry that match accepts.
func (db accountDB) firstUser(match func(user.User) bool) (account, error) {
	found, err := user.ParsePasswdFileFilter(db.passwd, match)
	if err != nil {
		return account{}, fmt.Errorf("read %s: %w", db.passwd, err)
	}
	if len(found) == 0 {
		return account{}, errNoEntry
	}
	u := found[0]
	return account{name: u.Name, uid: u.Uid, gid: u.Gid, home: u.Home}, nil
}

// groupID returns the gid of the first group called name, as getgrnam does.
func (db accountDB) groupID(name string) (int, error) {
	found, err := user.ParseGroupFileFilter(db.group, func(g user.Group) bool { return g.Name == name })
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", db.group, err)
	}
	if len(found) == 0 {
		return 0, errNoEntry
	}
	return found[0].Gid, nil
}

// memberOf returns, in file order, the gid of every group that lists name as a member (the
// supplementary groups initgroups would add; the primary group only if it lists name too).
func (db accountDB) memberOf(name string) ([]int, error) {
	found, err := user.ParseGroupFileFilter(db.group, func(g user.Group) bool {
		for _, m := range g.List {
			if m == name {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", db.group, err)
	}
	gids := make([]int, 0, len(found))
	for _, g := range found {
		gids = append(gids, g.Gid)
	}
	return gids, nil
}

// parseID parses a decimal uid or gid: digits only, no sign, at most 2^32-2 (the kernel reserves
// -1).
func parseID(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, false
	}
	return int(n), true
}

func itoa(n int) string { return strconv.Itoa(n) }
