package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// hostDB answers user and group questions from the host's /etc/passwd and
// /etc/group, as initgroups(3) and getpwnam(3) would with "files" NSS, and
// keeps the parsed files: every lookup costs one stat(2) per file, and the
// file is read again only when its identity (device, inode, size, mtime,
// ctime) changed. It is always read in the server, before any root a client
// may choose (dived bug 1). Safe for concurrent use.
type hostDB struct {
	passwdPath, groupPath string

	mu     sync.Mutex
	passwd passwdFile
	group  groupFile
}

// The paths the server reads.
const (
	passwdPath = "/etc/passwd"
	groupPath  = "/etc/group"
)

func newHostDB() *hostDB { return &hostDB{passwdPath: passwdPath, groupPath: groupPath} }

// stamp identifies one version of a file.
type stamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

func stampOf(path string) (stamp, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return stamp{}, err
	}
	return stamp{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}, nil
}

type pwEntry struct {
	name     string
	uid, gid uint32
}

type passwdFile struct {
	stamp  stamp
	loaded bool
	byUID  map[uint32]pwEntry
	byName map[string]pwEntry
}

type groupFile struct {
	stamp  stamp
	loaded bool
	byName map[string]uint32
	// member maps a login name to the gids of the groups that list it.
	member map[string][]uint32
}

// errNoEntry: the database has no such user or group.
var errNoEntry = errors.New("no such entry")

// fields splits one database line at ':'; it returns nil for comments and
// lines without n fields.
func fields(line []byte, n int) [][]byte {
	if len(line) == 0 || line[0] == '#' {
		return nil
	}
	f := bytes.Split(line, []byte{':'})
	if len(f) < n {
		return nil
	}
	return f
}

func parseID(b []byte) (uint32, bool) {
	n, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(n), err == nil
}

// loadPasswd refreshes the passwd file. Precondition: db.mu is held.
func (db *hostDB) loadPasswd() error {
	st, err := stampOf(db.passwdPath)
	if err != nil {
		return fmt.Errorf("%s: %w", db.passwdPath, err)
	}
	if db.passwd.loaded && st == db.passwd.stamp {
		return nil
	}
	b, err := os.ReadFile(db.passwdPath)
	if err != nil {
		return fmt.Errorf("%s: %w", db.passwdPath, err)
	}
	pf := passwdFile{stamp: st, loaded: true, byUID: map[uint32]pwEntry{}, byName: map[string]pwEntry{}}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		f := fields(line, 7)
		if f == nil {
			continue
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 || len(f[0]) == 0 {
			continue
		}
		e := pwEntry{name: string(f[0]), uid: uid, gid: gid}
		if _, dup := pf.byUID[uid]; !dup { // the first entry wins, as getpwuid's
			pf.byUID[uid] = e
		}
		if _, dup := pf.byName[e.name]; !dup {
			pf.byName[e.name] = e
		}
	}
	db.passwd = pf
	return nil
}

// loadGroup refreshes the group file. Precondition: db.mu is held.
func (db *hostDB) loadGroup() error {
	st, err := stampOf(db.groupPath)
	if err != nil {
		return fmt.Errorf("%s: %w", db.groupPath, err)
	}
	if db.group.loaded && st == db.group.stamp {
		return nil
	}
	b, err := os.ReadFile(db.groupPath)
	if err != nil {
		return fmt.Errorf("%s: %w", db.groupPath, err)
	}
	gf := groupFile{stamp: st, loaded: true, byName: map[string]uint32{}, member: map[string][]uint32{}}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		f := fields(line, 4)
		if f == nil {
			continue
		}
		gid, ok := parseID(f[2])
		if !ok || len(f[0]) == 0 {
			continue
		}
		if _, dup := gf.byName[string(f[0])]; !dup {
			gf.byName[string(f[0])] = gid
		}
		for _, m := range bytes.Split(f[3], []byte{','}) {
			if len(m) > 0 {
				gf.member[string(m)] = append(gf.member[string(m)], gid)
			}
		}
	}
	db.group = gf
	return nil
}

// userByID returns uid's entry, or errNoEntry.
func (db *hostDB) userByID(uid uint32) (pwEntry, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.loadPasswd(); err != nil {
		return pwEntry{}, err
	}
	e, ok := db.passwd.byUID[uid]
	if !ok {
		return pwEntry{}, errNoEntry
	}
	return e, nil
}

// userByName returns name's entry, or errNoEntry.
func (db *hostDB) userByName(name string) (pwEntry, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.loadPasswd(); err != nil {
		return pwEntry{}, err
	}
	e, ok := db.passwd.byName[name]
	if !ok {
		return pwEntry{}, errNoEntry
	}
	return e, nil
}

// groupID returns the gid of group name, or errNoEntry.
func (db *hostDB) groupID(name string) (uint32, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.loadGroup(); err != nil {
		return 0, err
	}
	g, ok := db.group.byName[name]
	if !ok {
		return 0, errNoEntry
	}
	return g, nil
}

// groupsOf is initgroups(name, gid): gid first, then every group that lists
// name, each once. With no name, or no readable group file, it is [gid].
func (db *hostDB) groupsOf(name string, gid uint32) []uint32 {
	out := []uint32{gid}
	if name == "" {
		return out
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.loadGroup() != nil {
		return out
	}
	for _, g := range db.group.member[name] {
		dup := false
		for _, h := range out {
			dup = dup || h == g
		}
		if !dup {
			out = append(out, g)
		}
	}
	return out
}
