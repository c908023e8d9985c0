package caps

import "golang.org/x/sys/unix"

// Header is the capget/capset header for the calling thread (Pid 0) in the
// 64-bit layout that [Plan.UserData] fills.
func Header() unix.CapUserHeader {
	return unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
}

// UserData is the capset(2) payload for p: element 0 holds capabilities
// 0..31, element 1 holds 32..63. The launcher passes &Header() and
// &UserData()[0] to SYS_CAPSET; both must be built in the parent and live
// until the child has run.
func (p Plan) UserData() [2]unix.CapUserData {
	return [2]unix.CapUserData{
		{
			Effective:   uint32(p.Effective),
			Permitted:   uint32(p.Permitted),
			Inheritable: uint32(p.Inheritable),
		},
		{
			Effective:   uint32(p.Effective >> 32),
			Permitted:   uint32(p.Permitted >> 32),
			Inheritable: uint32(p.Inheritable >> 32),
		},
	}
}
