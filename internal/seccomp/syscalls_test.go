package seccomp

import (
	"testing"

	elastic "github.com/elastic/go-seccomp-bpf/arch"
)

// TestGeneratedTablesMatchSource proves syscalls_gen.go is what
// go-seccomp-bpf's tables say; if it fails, run go generate ./internal/seccomp.
func TestGeneratedTablesMatchSource(t *testing.T) {
	for _, c := range []struct {
		arch  string
		src   *elastic.Info
		table []sysEntry
	}{{"x86_64", elastic.X86_64, syscallsX86_64[:]}, {"aarch64", elastic.AARCH64, syscallsAARCH64[:]}} {
		if len(c.table) != len(c.src.SyscallNames) {
			t.Errorf("%s: %d generated entries, source has %d", c.arch, len(c.table), len(c.src.SyscallNames))
		}
		for _, e := range c.table {
			if nr, ok := c.src.SyscallNames[e.name]; !ok || nr != e.nr {
				t.Errorf("%s: %s = %d generated, source says %d (%v)", c.arch, e.name, e.nr, nr, ok)
			}
		}
	}
	for _, e := range []*elastic.Info{elastic.X86_64, elastic.AARCH64, elastic.I386, elastic.X32, elastic.ARM} {
		for name := range e.SyscallNames {
			if !knownSyscall(name) {
				t.Errorf("%s (%s) missing from allSyscallNames", name, e.Name)
			}
		}
	}
}
