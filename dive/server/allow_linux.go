package server

import (
	"os/user"
	"slices"
	"strconv"
)

// Allowlist is who may use a socket that has no file permissions (an
// abstract socket): a peer is admitted when its uid or its gid, or any of
// the groups of its user in the host database, is listed. The zero value
// admits nobody; Any admits everyone.
type Allowlist struct {
	Any  bool
	UIDs []uint32
	GIDs []uint32
}

// Permits reports whether peer may connect.
func (a *Allowlist) Permits(p Peer) bool {
	if a.Any || slices.Contains(a.UIDs, p.UID) || slices.Contains(a.GIDs, p.GID) {
		return true
	}
	if len(a.GIDs) == 0 {
		return false
	}
	for _, g := range groupsOf(p.User, p.GID) {
		if slices.Contains(a.GIDs, g) {
			return true
		}
	}
	return false
}

func userName(uid uint32) (string, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return "", err
	}
	return u.Username, nil
}
