package seccomp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// ParseError reports a problem on one line of a policy.
type ParseError struct {
	Line int // 1-based; 0 when the problem is not tied to a line
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a policy in the text format described in docs/seccomp.md:
// one directive or rule per line, "#" starts a comment. It checks every
// syscall and group name, errno, argument, operator and value, and reports
// the first problem as a *ParseError naming the line and the offending token.
func Parse(text string) (*Policy, error) {
	p := &Policy{}
	defaultLine := 0
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		toks, err := lex(raw)
		if err != nil {
			return nil, &ParseError{line, err}
		}
		if len(toks) == 0 {
			continue
		}
		switch toks[0] {
		case "default", "unknown":
			a, rest, err := parseAction(toks[1:])
			if err == nil && len(rest) > 0 {
				err = fmt.Errorf("unexpected %q after the action", rest[0])
			}
			if err != nil {
				return nil, &ParseError{line, fmt.Errorf("%s: %w", toks[0], err)}
			}
			if toks[0] == "unknown" {
				if p.Unknown != nil {
					return nil, &ParseError{line, errors.New("second \"unknown\" line")}
				}
				p.Unknown = &a
				continue
			}
			if defaultLine != 0 {
				return nil, &ParseError{line, fmt.Errorf("second \"default\" line (the first is line %d)", defaultLine)}
			}
			p.Default, defaultLine = a, line
			continue
		}
		r, err := parseRule(toks)
		if err != nil {
			return nil, &ParseError{line, err}
		}
		r.Origin = fmt.Sprintf("line %d", line)
		p.Rules = append(p.Rules, r)
	}
	if defaultLine == 0 {
		return nil, &ParseError{0, errors.New(`no "default" line: start the policy with "default allow" (a deny list) or "default errno EPERM" (an allow list)`)}
	}
	return p, nil
}

// parseRule parses "ACTION NAME..." or "NAME... CONDITIONS: ACTION".
func parseRule(toks []string) (Rule, error) {
	colon := -1
	for i, t := range toks {
		if t == ":" {
			if colon >= 0 {
				return Rule{}, errors.New(`more than one ":" on the line`)
			}
			colon = i
		}
	}
	if colon < 0 {
		a, names, err := parseAction(toks)
		if err != nil {
			if _, ok := actionArity()[toks[0]]; !ok && knownSyscall(toks[0]) {
				return Rule{}, fmt.Errorf("unknown action %q: a rule starts with an action (\"deny %s\") or ends with one after conditions (\"%s arg0 == 1: deny\")", toks[0], toks[0], toks[0])
			}
			return Rule{}, err
		}
		if len(names) == 0 {
			return Rule{}, fmt.Errorf("%q names no system calls", strings.Join(toks, " "))
		}
		r := Rule{Names: names, Action: a}
		return r, checkNames(r)
	}
	a, rest, err := parseAction(toks[colon+1:])
	if err != nil {
		return Rule{}, err
	}
	if len(rest) > 0 {
		return Rule{}, fmt.Errorf("unexpected %q after the action", rest[0])
	}
	left := toks[:colon]
	n := 0
	for n < len(left) && !strings.HasPrefix(left[n], "arg") {
		n++
	}
	if n == 0 {
		if len(left) == 0 {
			return Rule{}, errors.New(`nothing before ":": want "NAME... argN OP VALUE: ACTION"`)
		}
		return Rule{}, fmt.Errorf("%q: a conditional rule starts with syscall names", left[0])
	}
	if n == len(left) {
		return Rule{}, errors.New(`no condition before ":": write "ACTION NAME..." for an unconditional rule`)
	}
	conds, err := parseConds(left[n:])
	if err != nil {
		return Rule{}, err
	}
	r := Rule{Names: left[:n], Conds: conds, Action: a}
	return r, checkNames(r)
}

// checkNames expands every name and checks each condition against the
// calls it applies to.
func checkNames(r Rule) error {
	for _, name := range r.Names {
		calls, err := expandName(name)
		if err != nil {
			return err
		}
		for _, c := range r.Conds {
			if err := c.check(calls); err != nil {
				return err
			}
		}
	}
	return nil
}

// actionArity maps action keywords to the number of operand tokens they take.
var actionArity = sync.OnceValue(func() map[string]int {
	return map[string]int{
		"allow": 0, "deny": 0, "errno": 1, "kill-process": 0, "kill-thread": 0, "trap": 0, "log": 0,
	}
})

// parseAction parses an action at the start of toks and returns the rest.
func parseAction(toks []string) (Action, []string, error) {
	if len(toks) == 0 {
		return Action{}, nil, errors.New("missing action: want allow, deny, errno N|ENAME, kill-process, kill-thread, trap or log")
	}
	arity, ok := actionArity()[toks[0]]
	if !ok {
		return Action{}, nil, fmt.Errorf("unknown action %q: want allow, deny, errno N|ENAME, kill-process, kill-thread, trap or log", toks[0])
	}
	if len(toks) <= arity {
		return Action{}, nil, fmt.Errorf("%q needs an errno name or number", toks[0])
	}
	var a Action
	switch toks[0] {
	case "allow":
		a = Allow
	case "deny":
		a = Deny
	case "errno":
		n, err := parseErrno(toks[1])
		if err != nil {
			return Action{}, nil, err
		}
		a = Action{Kind: ActErrno, Errno: n}
	case "kill-process":
		a = Action{Kind: ActKillProcess}
	case "kill-thread":
		a = Action{Kind: ActKillThread}
	case "trap":
		a = Action{Kind: ActTrap}
	case "log":
		a = Action{Kind: ActLog}
	}
	return a, toks[1+arity:], nil
}

// parseConds parses "COND [&& COND]..." where COND is "argN OP VALUE" or
// "argN & MASK OP VALUE".
func parseConds(toks []string) ([]Cond, error) {
	var conds []Cond
	for {
		c, rest, err := parseCond(toks)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		if len(rest) == 0 {
			return conds, nil
		}
		if rest[0] != "&&" {
			return nil, fmt.Errorf("unexpected %q after a condition: join conditions with &&", rest[0])
		}
		toks = rest[1:]
	}
}

var ops = sync.OnceValue(func() map[string]Op {
	return map[string]Op{"==": OpEq, "!=": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}
})

func parseCond(toks []string) (Cond, []string, error) {
	var c Cond
	if len(toks) == 0 {
		return c, nil, errors.New(`missing condition after "&&"`)
	}
	a := toks[0]
	n, err := strconv.Atoi(strings.TrimPrefix(a, "arg"))
	if !strings.HasPrefix(a, "arg") || err != nil || n < 0 || n >= maxArgs || strconv.Itoa(n) != a[3:] {
		return c, nil, fmt.Errorf("bad argument %q: want arg0..arg%d", a, maxArgs-1)
	}
	c.Arg = n
	toks = toks[1:]
	if len(toks) > 0 && toks[0] == "&" {
		if len(toks) < 2 {
			return c, nil, fmt.Errorf("missing mask after %q", a+" &")
		}
		m, err := parseValue(toks[1])
		if err != nil {
			return c, nil, err
		}
		c.Masked, c.Mask = true, m
		toks = toks[2:]
	}
	if len(toks) == 0 {
		return c, nil, fmt.Errorf("missing operator after %q", a)
	}
	op, ok := ops()[toks[0]]
	if !ok {
		return c, nil, fmt.Errorf("bad operator %q: want ==, !=, <, <=, > or >=", toks[0])
	}
	c.Op = op
	if len(toks) < 2 {
		return c, nil, fmt.Errorf("missing value after %q", toks[0])
	}
	v, err := parseValue(toks[1])
	if err != nil {
		return c, nil, err
	}
	c.Value = v
	if c.Masked && op != OpEq && op != OpNe {
		return c, nil, fmt.Errorf("bad operator %q after a mask: want == or !=", toks[0])
	}
	return c, toks[2:], nil
}

// parseValue reads a number (decimal, 0x hex, 0o/0 octal, 0b binary), a
// named constant (TIOCSTI, CLONE_NEWUSER, AF_INET, ...), or several of them
// joined by "|".
func parseValue(tok string) (uint64, error) {
	var v uint64
	for part := range strings.SplitSeq(tok, "|") {
		n, err := strconv.ParseUint(part, 0, 64)
		if err != nil {
			var ok bool
			n, ok = namedValue(part)
			if !ok {
				return 0, fmt.Errorf("bad value %q: not a number or a known constant", part)
			}
		}
		v |= n
	}
	return v, nil
}

func namedValue(name string) (uint64, bool) {
	if v, ok := namedValues()[name]; ok {
		return v, true
	}
	if fam, ok := strings.CutPrefix(name, "AF_"); ok {
		v, ok := addressFamilies()[strings.ToLower(fam)]
		return v, ok
	}
	return 0, false
}

// lex splits a line into tokens: words (names, numbers, constants joined
// by "|", action keywords) and the operators == != <= >= < > && & and ":".
// Everything from "#" on is a comment.
func lex(line string) ([]string, error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	var toks []string
	for i := 0; i < len(line); {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r':
			i++
		case strings.IndexByte("=!<>&:", ch) >= 0:
			two := ""
			if i+1 < len(line) {
				two = line[i : i+2]
			}
			switch {
			case two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "&&":
				toks = append(toks, two)
				i += 2
			case ch == '<' || ch == '>' || ch == '&' || ch == ':':
				toks = append(toks, string(ch))
				i++
			default:
				return nil, fmt.Errorf("bad operator %q: want ==, !=, <, <=, > or >=", string(ch))
			}
		default:
			j := i
			for j < len(line) && strings.IndexByte(" \t\r=!<>&:", line[j]) < 0 {
				j++
			}
			toks = append(toks, line[i:j])
			i = j
		}
	}
	return toks, nil
}
