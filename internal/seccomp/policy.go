package seccomp

import (
	"fmt"
	"strings"
)

// Policy is a parsed seccomp policy: what to do with each system call.
//
// Evaluation: for a call, the rules naming it are tried from the last to the
// first; the first whose conditions all hold decides. A call no rule decides
// gets Default. Later rules therefore override earlier ones, which is how
// Config.Allow and Config.Deny extend a base policy.
type Policy struct {
	// Default applies to calls no rule decides.
	Default Action
	// Unknown, when set, applies to system call numbers that cove's tables
	// do not name on the target architecture (such as calls added to Linux
	// after cove was built). Nil means Default.
	Unknown *Action
	// Rules in source order.
	Rules []Rule
}

// Rule applies Action to the calls in Names when every condition in Conds
// holds (an empty Conds always holds).
type Rule struct {
	Names  []string // syscall names and @groups as written; expanded at compile time
	Conds  []Cond
	Action Action
	// Origin says where the rule came from for error messages: "line 7",
	// "--seccomp-deny", "default policy line 3".
	Origin string
}

// Op is a comparison operator in a Cond. All comparisons are unsigned.
type Op uint8

// Comparison operators.
const (
	OpEq Op = iota // ==
	OpNe           // !=
	OpLt           // <
	OpLe           // <=
	OpGt           // >
	OpGe           // >=
)

var opSpelling = [...]string{OpEq: "==", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">="}

func (o Op) String() string {
	if int(o) < len(opSpelling) {
		return opSpelling[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// maxArgs is the number of arguments in seccomp_data.
const maxArgs = 6

// Cond compares one system call argument: "argArg Op Value", or, when Masked,
// "(argArg & Mask) Op Value" (only OpEq and OpNe are allowed with a mask).
// Arguments listed in narrowArgs are compared on their low 32 bits, as the
// kernel reads them.
type Cond struct {
	Arg    int // 0..5
	Masked bool
	Mask   uint64
	Op     Op
	Value  uint64
}

func (c Cond) String() string {
	if c.Masked {
		return fmt.Sprintf("arg%d & %#x %s %#x", c.Arg, c.Mask, c.Op, c.Value)
	}
	return fmt.Sprintf("arg%d %s %#x", c.Arg, c.Op, c.Value)
}

// check validates c for every call in names (already expanded).
func (c Cond) check(names []string) error {
	if c.Arg < 0 || c.Arg >= maxArgs {
		return fmt.Errorf("bad argument \"arg%d\": want arg0..arg%d", c.Arg, maxArgs-1)
	}
	if c.Masked && c.Op != OpEq && c.Op != OpNe {
		return fmt.Errorf("bad operator %q after a mask: want == or !=", c.Op.String())
	}
	if c.Masked && c.Value&^c.Mask != 0 {
		return fmt.Errorf("value %#x has bits outside the mask %#x, so the condition can never hold", c.Value, c.Mask)
	}
	for _, n := range names {
		if argIs32(n, c.Arg) && (c.Value > 0xffffffff || c.Mask > 0xffffffff) {
			return fmt.Errorf("arg%d of %s is 32 bits wide in the kernel; value %#x or mask %#x does not fit", c.Arg, n, c.Value, c.Mask)
		}
	}
	return nil
}

// String renders the policy in the text format; Parse(p.String()) yields an
// equivalent policy.
func (p *Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "default %s\n", p.Default)
	if p.Unknown != nil {
		fmt.Fprintf(&b, "unknown %s\n", *p.Unknown)
	}
	for _, r := range p.Rules {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String renders the rule as one line of the text format.
func (r Rule) String() string {
	if len(r.Conds) == 0 {
		return r.Action.String() + " " + strings.Join(r.Names, " ")
	}
	conds := make([]string, len(r.Conds))
	for i, c := range r.Conds {
		conds[i] = c.String()
	}
	return strings.Join(r.Names, " ") + " " + strings.Join(conds, " && ") + ": " + r.Action.String()
}
