package seccomp

import (
	"slices"
	"testing"
)

// TestPrecompiledDefault proves default_gen.go is what the compiler makes of
// the default policy today; if it fails, run `go generate ./internal/seccomp`.
func TestPrecompiledDefault(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		for _, userns := range []bool{false, true} {
			want, err := CompileDefault(arch, userns)
			if err != nil {
				t.Fatal(err)
			}
			got := precompiled(Config{Mode: "default", Arch: arch, AllowUserns: userns})
			if !slices.Equal(got, want) {
				t.Errorf("%s userns=%v: default_gen.go is stale (%d instructions, compiler gives %d); run go generate ./internal/seccomp", arch, userns, len(got), len(want))
			}
		}
	}
}

func TestPrecompiledOnlyForPlainDefault(t *testing.T) {
	for _, c := range []Config{
		{Mode: "none"},
		{Mode: "default", Allow: []string{"ptrace"}},
		{Mode: "default", Deny: []string{"read"}},
		{Mode: "default", AddressFamilies: []string{"unix"}},
		{Mode: "file", File: "default allow\n"},
	} {
		if precompiled(c) != nil {
			t.Errorf("%+v: got the precompiled default, want compilation", c)
		}
	}
}
