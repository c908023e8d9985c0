package cove

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/covebox/cove/internal/caps"
	"github.com/covebox/cove/internal/seccomp"
	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

// applySecurity fills the payload's capability, securebits and seccomp
// settings from the Spec. Names are checked here, in stage 0, so that a typo
// fails before any namespace exists.
func applySecurity(s *spec.Spec, pl *stage.Payload) error {
	sec := s.Security
	parse := func(field string, names []string) (caps.Set, error) {
		var set caps.Set
		for i, n := range names {
			if strings.EqualFold(n, "all") {
				set |= caps.All(caps.Cap(pl.LastCap))
				continue
			}
			c, err := caps.Parse(n)
			if err != nil {
				return 0, &SetupError{Step: "capabilities", Field: fmt.Sprintf("%s[%d]", field, i), Code: 125, Err: err}
			}
			set |= 1 << c
		}
		return set, nil
	}
	add, err := parse("security.cap_add", sec.CapAdd)
	if err != nil {
		return err
	}
	drop, err := parse("security.cap_drop", sec.CapDrop)
	if err != nil {
		return err
	}
	amb, err := parse("security.cap_ambient", sec.CapAmbient)
	if err != nil {
		return err
	}
	var bits caps.Securebits
	if len(sec.Securebits) > 0 {
		if bits, err = caps.ParseSecurebits(strings.Join(sec.Securebits, ",")); err != nil {
			return &SetupError{Step: "securebits", Field: "security.securebits", Code: 125, Err: err}
		}
	}
	if sec.LockSecurebits {
		bits = bits.LockAll()
	}
	if len(sec.Securebits) > 0 || sec.LockSecurebits {
		pl.SetSecurebits, pl.Securebits = true, uint32(bits)
	}
	req := caps.Request{Add: add, Drop: drop, Ambient: amb, UID: pl.UID, Last: caps.Cap(pl.LastCap), Securebits: bits}
	plan, err := caps.NewPlan(req)
	if err != nil {
		return &SetupError{Step: "capabilities", Field: "security", Code: 125, Err: err}
	}
	// A program that does not run as uid 0 inside loses every permitted
	// capability at execve unless it is ambient: kept capabilities would be
	// useless. Raise them all (which puts them, and only them, in the
	// inheritable set too), unless securebits forbid ambient raising.
	if pl.UID != 0 && plan.Permitted != 0 && !bits.Has(caps.NoCapAmbientRaise) {
		req.Ambient = plan.Permitted
		if plan, err = caps.NewPlan(req); err != nil {
			return &SetupError{Step: "capabilities", Field: "security", Code: 125, Err: err}
		}
	}
	pl.KeepBounding = uint64(plan.Bounding)
	pl.Permitted, pl.Effective, pl.Inheritable = uint64(plan.Permitted), uint64(plan.Effective), uint64(plan.Inheritable)
	pl.Ambient = nil
	for _, c := range plan.AmbientRaises() {
		pl.Ambient = append(pl.Ambient, int(c))
	}

	cfg := seccomp.Config{
		Allow: sec.Seccomp.Allow, Deny: sec.Seccomp.Deny,
		AllowUserns: sec.Seccomp.AllowUserns, AddressFamilies: sec.Seccomp.AddressFamilies,
	}
	switch p := sec.Seccomp.Policy; p {
	case "", "default":
		cfg.Mode = "default"
	case "none":
		cfg.Mode = "none"
	default:
		b, err := os.ReadFile(p)
		if err != nil {
			return &SetupError{Step: "seccomp", Field: "security.seccomp.policy", Code: 125, Err: err}
		}
		cfg.Mode, cfg.File = "file", string(b)
	}
	filter, err := seccomp.Build(cfg)
	if err != nil {
		var pe *seccomp.ParseError
		field := "security.seccomp"
		if errors.As(err, &pe) && cfg.Mode == "file" {
			err = fmt.Errorf("%s: %w", sec.Seccomp.Policy, err)
		}
		return &SetupError{Step: "seccomp", Field: field, Code: 125, Err: err}
	}
	pl.Seccomp = filter
	return nil
}
