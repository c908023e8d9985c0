// Package idmap computes user-namespace id maps: the caller's own id, and the
// subordinate ranges /etc/subuid and /etc/subgid delegate to it, which only
// the setuid helpers newuidmap and newgidmap may write.
package idmap

import (
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	musr "github.com/moby/sys/user"
)

// Map is one line of a uid_map or gid_map.
type Map = syscall.SysProcIDMap

// Range is a delegated subordinate range: host ids Start..Start+Count-1.
type Range struct {
	Start, Count int64
}

// ErrNoRanges means /etc/subuid (or subgid) delegates nothing to the user.
var ErrNoRanges = errors.New("no subordinate ids delegated")

// Delegated returns the ranges file (/etc/subuid or /etc/subgid) delegates
// to the user with this uid, matched by name or by number, as newuidmap does.
func Delegated(file string, uid int) ([]Range, error) {
	name := ""
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	}
	ids, err := musr.ParseSubIDFileFilter(file, func(s musr.SubID) bool {
		return s.Name == strconv.Itoa(uid) || (name != "" && s.Name == name)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var out []Range
	for _, s := range ids {
		if s.Count > 0 {
			out = append(out, Range{Start: s.SubID, Count: s.Count})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w for uid %d", file, ErrNoRanges, uid)
	}
	return out, nil
}

// RootWithRanges maps inside id 0 to the caller's own id and inside ids
// 1, 2, ... onto the delegated ranges in order: arachsys contain's and
// podman's layout.
func RootWithRanges(own int, ranges []Range) []Map {
	m := []Map{{ContainerID: 0, HostID: own, Size: 1}}
	next := 1
	for _, r := range ranges {
		m = append(m, Map{ContainerID: next, HostID: int(r.Start), Size: int(r.Count)})
		next += int(r.Count)
	}
	return m
}

// maxID is the highest id a map may use: 2^32-2 (2^32-1 is the invalid id).
const maxID = 1<<32 - 2

// RootAllButHostRoot is the map of a privileged caller that asks for full
// ranges without mapping host root: inside 0 is the highest host id
// (4294967294) and every other id maps to itself, host 0 and the top id
// excepted — arachsys contain's default as root.
func RootAllButHostRoot() []Map {
	return []Map{
		{ContainerID: 0, HostID: maxID, Size: 1},
		{ContainerID: 1, HostID: 1, Size: maxID - 1},
	}
}

// Helpers returns a map writer (for launch.CloneNS.WriteMaps and the like)
// that runs the setuid helpers newuidmap and newgidmap, which check the maps
// against /etc/subuid and /etc/subgid and may write ranges an unprivileged
// caller does not own.
func Helpers(uidMap, gidMap []Map) func(pid int) error {
	return func(pid int) error {
		for _, h := range []struct {
			tool string
			m    []Map
		}{{"newuidmap", uidMap}, {"newgidmap", gidMap}} {
			args := []string{strconv.Itoa(pid)}
			for _, e := range h.m {
				args = append(args, strconv.Itoa(e.ContainerID), strconv.Itoa(e.HostID), strconv.Itoa(e.Size))
			}
			out, err := exec.Command(h.tool, args...).CombinedOutput()
			if err != nil {
				msg := strings.TrimSpace(string(out))
				if errors.Is(err, exec.ErrNotFound) {
					msg = "not installed (Debian: apt-get install uidmap)"
				}
				return fmt.Errorf("%s: %v: %s", h.tool, err, msg)
			}
		}
		return nil
	}
}
