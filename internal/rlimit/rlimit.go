// Package rlimit parses resource-limit requests ("nofile=1024:4096") and
// checks, before anything starts, that the launcher will be able to apply
// them.
//
// # Syntax
//
// NAME=VALUE sets the soft and the hard limit to VALUE, as prlimit(1) does
// for a single value; NAME=SOFT:HARD sets both; NAME=SOFT: and NAME=:HARD
// set one and keep the other at its current value (also prlimit(1)'s rule).
// A value is a decimal number or "unlimited", "infinity" or "inf". NAME is
// the short name (nofile), optionally with the RLIMIT_ prefix, in any case.
// Values are in the kernel's units: bytes, seconds (cpu), microseconds
// (rttime), a count, or for nice the 20-based ceiling of setrlimit(2).
package rlimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/covebox/cove/internal/suggest"
)

// Infinity is RLIM_INFINITY, what "unlimited" parses to.
const Infinity = ^uint64(0)

// Sentinel errors, wrapped with the limit's name and values.
var (
	ErrUnknown       = errors.New("unknown rlimit")
	ErrSyntax        = errors.New("bad rlimit")
	ErrSoftAboveHard = errors.New("soft limit above hard limit")
	ErrRaiseHard     = errors.New("raising a hard limit needs CAP_SYS_RESOURCE")
	ErrUnsupported   = errors.New("rlimits are only supported on Linux")
)

// Limit is one parsed request.
type Limit struct {
	// Name is the short name, "nofile".
	Name string
	// Resource is the RLIMIT_* number for setrlimit/prlimit.
	Resource int
	// Soft and Hard are the values; Infinity means unlimited.
	Soft, Hard uint64
	// KeepSoft and KeepHard mark a half that was left empty ("1024:" or
	// ":4096"): it stays at the current value, filled in by [Resolve].
	KeepSoft, KeepHard bool
}

// names lists every resource by its short name, sorted; resources (per OS)
// holds the numbers in the same order. Both are read-only.
var names = [...]string{
	"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
	"nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

// Names lists the short names cove accepts, sorted.
func Names() []string { return append([]string(nil), names[:]...) }

// Lookup returns the RLIMIT_* number for a short name ("nofile",
// "RLIMIT_NOFILE", any case).
func Lookup(name string) (int, error) {
	n := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "rlimit_")
	for i, x := range names {
		if x == n {
			if resources[i] < 0 {
				return 0, fmt.Errorf("rlimit %s: %w", x, ErrUnsupported)
			}
			return resources[i], nil
		}
	}
	if best := suggest.Closest(n, names[:]); best != "" {
		return 0, fmt.Errorf("%w %q (did you mean %s?)", ErrUnknown, name, best)
	}
	return 0, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(names[:], ", "))
}

// Parse reads NAME=SOFT[:HARD] as described in the package doc.
func Parse(s string) (Limit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return Limit{}, fmt.Errorf("%w %q: want NAME=SOFT[:HARD], e.g. nofile=1024:4096", ErrSyntax, s)
	}
	res, err := Lookup(name)
	if err != nil {
		return Limit{}, err
	}
	l := Limit{Name: strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "rlimit_"), Resource: res}
	soft, hard, pair := strings.Cut(val, ":")
	if !pair {
		if l.Soft, err = parseValue(soft); err != nil {
			return Limit{}, fmt.Errorf("%w %q: %v", ErrSyntax, s, err)
		}
		l.Hard = l.Soft
		return l, nil
	}
	if strings.TrimSpace(soft) == "" && strings.TrimSpace(hard) == "" {
		return Limit{}, fmt.Errorf("%w %q: both halves empty", ErrSyntax, s)
	}
	if strings.TrimSpace(soft) == "" {
		l.KeepSoft = true
	} else if l.Soft, err = parseValue(soft); err != nil {
		return Limit{}, fmt.Errorf("%w %q: soft limit: %v", ErrSyntax, s, err)
	}
	if strings.TrimSpace(hard) == "" {
		l.KeepHard = true
	} else if l.Hard, err = parseValue(hard); err != nil {
		return Limit{}, fmt.Errorf("%w %q: hard limit: %v", ErrSyntax, s, err)
	}
	if !l.KeepSoft && !l.KeepHard && l.Soft > l.Hard {
		return Limit{}, fmt.Errorf("rlimit %s: %w: soft %s > hard %s", l.Name, ErrSoftAboveHard, FormatValue(l.Soft), FormatValue(l.Hard))
	}
	return l, nil
}

func parseValue(v string) (uint64, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "unlimited", "infinity", "inf":
		return Infinity, nil
	case "":
		return 0, errors.New("empty value")
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or \"unlimited\"", v)
	}
	return n, nil
}

// FormatValue prints a limit value, "unlimited" for [Infinity].
func FormatValue(v uint64) string {
	if v == Infinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// String is the request in the syntax Parse reads.
func (l Limit) String() string {
	soft, hard := FormatValue(l.Soft), FormatValue(l.Hard)
	if l.KeepSoft {
		soft = ""
	}
	if l.KeepHard {
		hard = ""
	}
	return l.Name + "=" + soft + ":" + hard
}
