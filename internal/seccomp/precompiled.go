package seccomp

import (
	"slices"

	"golang.org/x/sys/unix"
)

//go:generate go run gen_default.go

// CompileDefault compiles the default policy for arch with the compiler. It
// is what default_gen.go holds, precompiled; TestPrecompiledDefault checks
// that the two agree.
func CompileDefault(arch string, allowUserns bool) ([]unix.SockFilter, error) {
	p, err := Default(DefaultOptions{AllowUserns: allowUserns})
	if err != nil {
		return nil, err
	}
	return p.Compile(arch)
}

// PrecompiledName is the name of the generated table for arch and
// allowUserns (used by gen_default.go).
func PrecompiledName(arch string, allowUserns bool) string {
	n := "default_" + arch
	if allowUserns {
		n += "_userns"
	}
	return n
}

// precompiled returns a copy of the generated default program for the
// configuration, or nil when c is not a plain default policy.
func precompiled(c Config) []unix.SockFilter {
	if (c.Mode != "" && c.Mode != "default") || len(c.Allow)+len(c.Deny)+len(c.AddressFamilies) > 0 {
		return nil
	}
	// archName, not lookupArch: the syscall tables are not needed here.
	name, err := archName(c.Arch)
	if err != nil {
		return nil
	}
	switch {
	case name == "x86_64" && !c.AllowUserns:
		return slices.Clone(default_x86_64[:])
	case name == "x86_64":
		return slices.Clone(default_x86_64_userns[:])
	case name == "aarch64" && !c.AllowUserns:
		return slices.Clone(default_aarch64[:])
	case name == "aarch64":
		return slices.Clone(default_aarch64_userns[:])
	}
	return nil
}
