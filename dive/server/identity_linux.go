package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

// Peer is who is on the other end of a connection, as the kernel reports it.
type Peer struct {
	UID, GID uint32
	PID      int32
	// User is the login name of UID from the host's passwd database, or ""
	// when it has none.
	User string
	// Groups is initgroups(User, GID) over the host's group database (GID
	// first); filled by the server when a policy needs it.
	Groups []uint32
	// PidFD says SO_PEERPIDFD confirmed that PID is still the connecting
	// process (kernel 6.5+); false when the kernel lacks it.
	PidFD bool
}

// peerOf reads SO_PEERCRED, and SO_PEERPIDFD when the kernel has it: a
// pidfd pins the process that connected, so signalling it with signal 0
// tells whether PID still names that process (ESRCH once it has exited and
// the number may have been reused). No /proc file is read.
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
		err := unix.PidfdSendSignal(pidfd, 0, nil, 0)
		unix.Close(pidfd)
		switch {
		case err == nil || errors.Is(err, unix.EPERM):
			// Alive (EPERM: alive, and not ours to signal).
			p.PidFD = true
		case errors.Is(err, unix.ESRCH):
			return Peer{}, fmt.Errorf("peer credentials: client pid %d exited", cred.Pid)
		}
	}
	return p, nil
}

// identity is the resolved user a program runs as.
type identity struct {
	uid, gid int
	name     string
	groups   []uint32
}

// lookupUser resolves a user name or number in the host database. A bare
// number needs no entry (its gid is then the same number, as dived's
// sscanf path left it).
func (db *hostDB) lookupUser(s string) (pwEntry, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if e, err := db.userByID(uint32(n)); err == nil {
			return e, nil
		}
		return pwEntry{uid: uint32(n), gid: uint32(n)}, nil
	}
	e, err := db.userByName(s)
	if err != nil {
		return pwEntry{}, fmt.Errorf("user %q: %w", s, err)
	}
	return e, nil
}

// lookupGroup resolves a group name or number.
func (db *hostDB) lookupGroup(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := db.groupID(s)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", s, err)
	}
	return g, nil
}

// resolveIdentity decides who the program runs as: the peer (uid and gid
// exactly as SO_PEERCRED reports them, groups from the host database) or
// the policy's user and groups.
func (s *Server) resolveIdentity(peer Peer) (identity, error) {
	p := &s.cfg.Policy
	if p.User == "" {
		groups := peer.Groups
		if groups == nil {
			groups = s.db.groupsOf(peer.User, peer.GID)
		}
		return identity{uid: int(peer.UID), gid: int(peer.GID), name: peer.User, groups: groups}, nil
	}
	u, err := s.db.lookupUser(p.User)
	if err != nil {
		return identity{}, err
	}
	id := identity{uid: int(u.uid), gid: int(u.gid), name: u.name}
	if len(p.Groups) > 0 {
		for _, g := range p.Groups {
			n, err := s.db.lookupGroup(g)
			if err != nil {
				return identity{}, err
			}
			id.groups = append(id.groups, n)
		}
		id.gid = int(id.groups[0])
		return id, nil
	}
	id.groups = s.db.groupsOf(id.name, u.gid)
	return id, nil
}
