package seccomp

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Config selects and adjusts a policy; it mirrors the CLI options
// --seccomp, --seccomp-allow, --seccomp-deny, --allow-userns and
// --restrict-address-families.
type Config struct {
	Mode            string   // "default" (also ""), "none", or "file"
	File            string   // policy text when Mode == "file" (the caller reads the file)
	Allow, Deny     []string // syscall names or @groups, applied after the base policy
	AllowUserns     bool     // do not block CLONE_NEWUSER in the default policy
	AddressFamilies []string // allow only these socket families (unix, inet, AF_INET6, ...); empty = all
	Arch            string   // "", "x86_64" or "aarch64" ("" = the running architecture)
}

// Policy returns the policy Build compiles: the base policy for Mode, then
// one "allow" rule per Allow entry, then the address family rule, then one
// "deny" rule per Deny entry. Since later rules win, Deny beats Allow and
// both beat the base policy. It returns nil, nil for Mode "none" with no
// Allow, Deny or AddressFamilies.
func (c Config) Policy() (*Policy, error) {
	var p *Policy
	var err error
	switch c.Mode {
	case "", "default":
		p, err = Default(DefaultOptions{AllowUserns: c.AllowUserns})
	case "none":
		if len(c.Allow) == 0 && len(c.Deny) == 0 && len(c.AddressFamilies) == 0 {
			return nil, nil
		}
		p = &Policy{Default: Allow}
	case "file":
		p, err = Parse(c.File)
		if err != nil {
			err = fmt.Errorf("seccomp policy: %w", err)
		}
	default:
		err = fmt.Errorf("unknown seccomp mode %q: want default, none or a policy file", c.Mode)
	}
	if err != nil {
		return nil, err
	}
	for _, name := range c.Allow {
		if err := addNameRule(p, name, Allow, "--seccomp-allow"); err != nil {
			return nil, err
		}
	}
	if len(c.AddressFamilies) > 0 {
		r, err := familyRule(c.AddressFamilies)
		if err != nil {
			return nil, err
		}
		p.Rules = append(p.Rules, r)
	}
	for _, name := range c.Deny {
		if err := addNameRule(p, name, Deny, "--seccomp-deny"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Build returns the compiled filter for c, or nil, nil when c asks for no
// filter (Mode "none" and nothing else).
func Build(c Config) ([]unix.SockFilter, error) {
	if f := precompiled(c); f != nil {
		return f, nil
	}
	p, err := c.Policy()
	if err != nil || p == nil {
		return nil, err
	}
	f, err := p.Compile(c.Arch)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return f, nil
}

func addNameRule(p *Policy, name string, a Action, flag string) error {
	name = strings.TrimSpace(name)
	if _, err := expandName(name); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	p.Rules = append(p.Rules, Rule{Names: []string{name}, Action: a, Origin: flag})
	return nil
}

// familyRule builds "socket socketpair arg0 != F1 && ...: errno EAFNOSUPPORT".
func familyRule(fams []string) (Rule, error) {
	r := Rule{
		Names:  []string{"socket", "socketpair"},
		Action: Errno(unix.EAFNOSUPPORT),
		Origin: "--restrict-address-families",
	}
	seen := map[uint64]bool{}
	for _, f := range fams {
		for name := range strings.SplitSeq(f, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			name = strings.TrimPrefix(name, "af_")
			v, ok := addressFamilies()[name]
			if !ok {
				if name == "" {
					return Rule{}, errors.New("--restrict-address-families: empty family name")
				}
				return Rule{}, fmt.Errorf("--restrict-address-families: unknown address family %q (known: unix, inet, inet6, netlink, packet, ...; see docs/seccomp.md)", name)
			}
			if !seen[v] {
				seen[v] = true
				r.Conds = append(r.Conds, Cond{Arg: 0, Op: OpNe, Value: v})
			}
		}
	}
	return r, nil
}
