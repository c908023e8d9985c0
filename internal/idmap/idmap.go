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

	"github.com/covebox/cove/internal/procfile"
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

// Parse reads an explicit map, arachsys contain's syntax:
// INSIDE:OUTSIDE:COUNT entries separated by "," or ";".
func Parse(s string) ([]Map, error) {
	var out []Map
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		f := strings.Split(e, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("%q: want INSIDE:OUTSIDE:COUNT", e)
		}
		var n [3]int64
		for i, x := range f {
			v, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil || v < 0 || v > maxID {
				return nil, fmt.Errorf("%q: %q is not an id or count", e, x)
			}
			n[i] = v
		}
		if n[2] == 0 || n[0]+n[2]-1 > maxID || n[1]+n[2]-1 > maxID {
			return nil, fmt.Errorf("%q: empty range, or beyond the last id", e)
		}
		out = append(out, Map{ContainerID: int(n[0]), HostID: int(n[1]), Size: int(n[2])})
	}
	if len(out) == 0 {
		return nil, errors.New("empty map")
	}
	for i, a := range out {
		for _, b := range out[i+1:] {
			if overlaps(int64(a.ContainerID), int64(a.Size), int64(b.ContainerID), int64(b.Size)) ||
				overlaps(int64(a.HostID), int64(a.Size), int64(b.HostID), int64(b.Size)) {
				return nil, fmt.Errorf("ranges %d:%d:%d and %d:%d:%d overlap", a.ContainerID, a.HostID, a.Size, b.ContainerID, b.HostID, b.Size)
			}
		}
	}
	return out, nil
}

func overlaps(a, an, b, bn int64) bool { return a < b+bn && b < a+an }

// ErrNotDelegated means an explicit map names host ids the caller does not
// own and that are not delegated to it.
var ErrNotDelegated = errors.New("cannot map onto ids that are not delegated to you")

// Check verifies that every outside id of m is the caller's own id or lies
// in one of the delegated ranges. A privileged caller may map anything but
// host root (unless hostRoot).
func Check(m []Map, own int, ranges []Range, privileged, hostRoot bool) error {
	for _, e := range m {
		lo, hi := int64(e.HostID), int64(e.HostID)+int64(e.Size)-1
		if privileged {
			if lo == 0 && !hostRoot {
				return fmt.Errorf("%d:%d:%d maps host root (0), which cove never does by default", e.ContainerID, e.HostID, e.Size)
			}
			continue
		}
		if lo == int64(own) && hi == lo {
			continue
		}
		ok := false
		for _, r := range ranges {
			if lo >= r.Start && hi <= r.Start+r.Count-1 {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("%d:%d:%d: %w (yours: %d and /etc/subuid, /etc/subgid)", e.ContainerID, e.HostID, e.Size, ErrNotDelegated, own)
		}
	}
	return nil
}

// ReadProc reads an id map file of /proc (uid_map or gid_map: "inside
// outside count" per line) as Maps: ContainerID the inside id, HostID the
// id as the reading process's user namespace sees it, Size the count.
// Lines that do not parse are skipped.
func ReadProc(file string) ([]Map, error) {
	b, err := procfile.Read(file)
	if err != nil {
		return nil, err
	}
	var m []Map
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		in, err1 := strconv.ParseUint(f[0], 10, 32)
		out, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil && err3 == nil {
			m = append(m, Map{ContainerID: int(in), HostID: int(out), Size: int(n)})
		}
	}
	return m, nil
}

// Inside tells whether id is an inside id of one of m's ranges.
func Inside(m []Map, id int) bool {
	for _, r := range m {
		if id >= r.ContainerID && id-r.ContainerID < r.Size {
			return true
		}
	}
	return false
}
