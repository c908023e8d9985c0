package server

import (
	"fmt"
	"strings"

	"github.com/covebox/cove/internal/caps"
)

// CapSets are the three capability sets of a process.
type CapSets struct {
	Effective, Permitted, Inheritable uint64
}

// ParseCapText reads libcap's cap_from_text syntax (dived -c), e.g.
// "cap_net_raw+ep", "= cap_chown,cap_kill+eip", "all=ep cap_sys_admin-e".
// Clauses are separated by spaces; each is an optional comma-separated list
// of names ("all" or empty meaning every capability up to last) followed by
// one or more operators '=', '+', '-', each with flags from "eip". The start
// state is empty.
func ParseCapText(text string, last caps.Cap) (CapSets, error) {
	var s CapSets
	all := uint64(caps.All(last))
	for _, clause := range strings.Fields(text) {
		i := strings.IndexAny(clause, "=+-")
		if i < 0 {
			return CapSets{}, fmt.Errorf("capability text %q: clause %q has no =, + or -", text, clause)
		}
		var set uint64
		if names := clause[:i]; names == "" || strings.EqualFold(names, "all") {
			set = all
		} else {
			l, err := caps.ParseList(names)
			if err != nil {
				return CapSets{}, fmt.Errorf("capability text %q: %w", text, err)
			}
			set = uint64(l) & all
		}
		ops := clause[i:]
		for len(ops) > 0 {
			op := ops[0]
			j := 1
			for j < len(ops) && strings.IndexByte("eipEIP", ops[j]) >= 0 {
				j++
			}
			flags := strings.ToLower(ops[1:j])
			ops = ops[j:]
			if op != '=' && op != '+' && op != '-' {
				return CapSets{}, fmt.Errorf("capability text %q: unexpected %q in clause %q", text, op, clause)
			}
			if op != '=' && flags == "" {
				return CapSets{}, fmt.Errorf("capability text %q: operator %q without flags in clause %q", text, op, clause)
			}
			if op == '=' {
				s.Effective &^= set
				s.Permitted &^= set
				s.Inheritable &^= set
			}
			for _, f := range flags {
				var dst *uint64
				switch f {
				case 'e':
					dst = &s.Effective
				case 'i':
					dst = &s.Inheritable
				default:
					dst = &s.Permitted
				}
				if op == '-' {
					*dst &^= set
				} else {
					*dst |= set
				}
			}
		}
	}
	return s, nil
}
