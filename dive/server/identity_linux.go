package server

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Peer is who is on the other end of a connection, as the kernel reports it.
type Peer struct {
	UID, GID uint32
	PID      int32
	// User is the login name of UID from the host's passwd database, or ""
	// when it has none.
	User string
	// PidFD says SO_PEERPIDFD confirmed that PID is still the connecting
	// process (kernel 6.5+); false when the kernel lacks it.
	PidFD bool
}

// peerOf reads SO_PEERCRED (and SO_PEERPIDFD when the kernel has it, to make
// sure PID still names the process that connected).
func peerOf(c *net.UnixConn) (Peer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var (
		cred  *unix.Ucred
		cerr  error
		pidfd = -1
	)
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if cerr == nil {
			if n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
				pidfd = n
			}
		}
	}); err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return Peer{}, fmt.Errorf("peer credentials: SO_PEERCRED: %w", cerr)
	}
	p := Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}
	if pidfd >= 0 {
		// The pidfd pins the process: its fdinfo names the pid, or -1 once
		// the client has exited (its pid may then be reused).
		if pid, ok := pidfdPID(pidfd); ok && pid == int(cred.Pid) {
			p.PidFD = true
		} else if ok && pid <= 0 {
			unix.Close(pidfd)
			return Peer{}, fmt.Errorf("peer credentials: client pid %d exited", cred.Pid)
		}
		unix.Close(pidfd)
	}
	return p, nil
}

// pidfdPID reads the "Pid:" line of a pidfd's fdinfo.
func pidfdPID(fd int) (int, bool) {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil
		}
	}
	return 0, false
}

// identity is the resolved user a program runs as.
type identity struct {
	uid, gid int
	name     string
	groups   []uint32
}

// lookupUser resolves a user name or number in the host database.
func lookupUser(s string) (*user.User, error) {
	if _, err := strconv.ParseUint(s, 10, 32); err == nil {
		u, err := user.LookupId(s)
		if err != nil {
			return &user.User{Uid: s, Gid: s}, nil // a bare number needs no entry
		}
		return u, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", s, err)
	}
	return u, nil
}

// lookupGroup resolves a group name or number.
func lookupGroup(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", s, err)
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %q: gid %q: %w", s, g.Gid, err)
	}
	return uint32(n), nil
}

// groupsOf is initgroups(name, gid) over the host's group database: gid and
// every group of /etc/group that lists name. It runs in the server, never
// inside a root the client chose (dived bug 1).
func groupsOf(name string, gid uint32) []uint32 {
	out := []uint32{gid}
	if name == "" {
		return out
	}
	b, err := os.ReadFile("/etc/group")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) != 4 {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || uint32(n) == gid {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name {
				out = append(out, uint32(n))
				break
			}
		}
	}
	return out
}

// resolveIdentity decides who the program runs as: the peer (uid and gid
// exactly as SO_PEERCRED reports them, groups from the host database) or
// the policy's user and groups.
func (p *Policy) resolveIdentity(peer Peer) (identity, error) {
	if p.User == "" {
		return identity{uid: int(peer.UID), gid: int(peer.GID), name: peer.User, groups: groupsOf(peer.User, peer.GID)}, nil
	}
	u, err := lookupUser(p.User)
	if err != nil {
		return identity{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	id := identity{uid: uid, gid: gid, name: u.Username}
	if len(p.Groups) > 0 {
		for _, g := range p.Groups {
			n, err := lookupGroup(g)
			if err != nil {
				return identity{}, err
			}
			id.groups = append(id.groups, n)
		}
		id.gid = int(id.groups[0])
		return id, nil
	}
	id.groups = groupsOf(id.name, uint32(gid))
	return id, nil
}
