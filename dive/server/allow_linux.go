package server

import "slices"

// Allowlist is who may use a socket that has no file permissions (an
// abstract socket): a peer is admitted when its uid or its gid, or any of
// the groups of its user in the host database (Peer.Groups), is listed. The
// zero value admits nobody; Any admits everyone.
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
	for _, g := range p.Groups {
		if slices.Contains(a.GIDs, g) {
			return true
		}
	}
	return false
}
