package caps

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Set is a set of capabilities, bit N standing for capability N, in the
// layout /proc/PID/status prints (CapEff: 000001ffffffffff).
type Set uint64

// Full is the set "ALL" parses to: every capability, including ones newer
// than this kernel. [NewPlan] clamps it to the kernel's last capability.
const Full = ^Set(0)

// All returns capabilities 0 through last.
func All(last Cap) Set {
	if last >= MaxCap {
		return Full
	}
	return Set(1)<<(last+1) - 1
}

// Add puts c into s. Capabilities above [MaxCap] are ignored.
func (s *Set) Add(c ...Cap) {
	for _, x := range c {
		if x <= MaxCap {
			*s |= 1 << x
		}
	}
}

// Remove takes c out of s.
func (s *Set) Remove(c ...Cap) {
	for _, x := range c {
		if x <= MaxCap {
			*s &^= 1 << x
		}
	}
}

// Has reports whether c is in s.
func (s Set) Has(c Cap) bool { return c <= MaxCap && s&(1<<c) != 0 }

// Len is the number of capabilities in s.
func (s Set) Len() int { return bits.OnesCount64(uint64(s)) }

// Caps lists the members of s in ascending order.
func (s Set) Caps() []Cap {
	out := make([]Cap, 0, s.Len())
	for c := Cap(0); c <= MaxCap; c++ {
		if s.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// Names lists the members' names ("CAP_CHOWN", ...) in ascending order.
func (s Set) Names() []string {
	out := make([]string, 0, s.Len())
	for _, c := range s.Caps() {
		out = append(out, c.String())
	}
	return out
}

// String lists the names separated by commas; "ALL" for [Full] and "none"
// for the empty set.
func (s Set) String() string {
	switch s {
	case Full:
		return "ALL"
	case 0:
		return "none"
	}
	return strings.Join(s.Names(), ",")
}

// ParseList reads a comma-separated list of names as [Parse] accepts them,
// plus "ALL" (any case), which yields [Full]. The empty string is the empty
// set; an empty element ("net_admin,,kill") is an error.
func ParseList(list string) (Set, error) {
	var s Set
	if strings.TrimSpace(list) == "" {
		return 0, nil
	}
	for _, name := range strings.Split(list, ",") {
		if u := strings.ToUpper(strings.TrimSpace(name)); u == "ALL" || u == "CAP_ALL" {
			s = Full
			continue
		}
		if strings.TrimSpace(name) == "" {
			return 0, fmt.Errorf("capability list %q: empty element", list)
		}
		c, err := Parse(name)
		if err != nil {
			return 0, err
		}
		s.Add(c)
	}
	return s, nil
}

// ParseMask reads the hexadecimal form /proc/PID/status uses for CapInh,
// CapPrm, CapEff, CapBnd and CapAmb.
func ParseMask(hex string) (Set, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("capability mask %q: %w", hex, err)
	}
	return Set(v), nil
}
