package seccomp

import (
	"fmt"
	"runtime"

	elastic "github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// x32SyscallBit is set in seccomp_data.nr for x32 ABI system calls made by an
// x86_64 process. The x32 ABI shares AUDIT_ARCH_X86_64, so a filter that only
// checks the architecture would let x32 numbers (which alias different calls)
// through; the compiler rejects every nr with this bit.
const x32SyscallBit = 0x40000000

// archInfo describes one architecture the compiler can target.
type archInfo struct {
	name  string         // Linux name: "x86_64" or "aarch64"
	audit uint32         // AUDIT_ARCH_* value in seccomp_data.arch
	nrs   map[string]int // syscall name -> number (read-only)
	names map[int]string // number -> name (read-only)
	x32   bool           // nr >= x32SyscallBit must be refused
	maxNr int            // highest number in the table
}

// archs lists the supported architectures. The syscall tables come from
// github.com/elastic/go-seccomp-bpf/arch and are only read, never written.
var archs = map[string]*archInfo{
	"x86_64":  newArchInfo("x86_64", unix.AUDIT_ARCH_X86_64, elastic.X86_64, true),
	"aarch64": newArchInfo("aarch64", unix.AUDIT_ARCH_AARCH64, elastic.AARCH64, false),
}

// archAliases maps GOARCH spellings to Linux architecture names.
var archAliases = map[string]string{
	"amd64": "x86_64",
	"arm64": "aarch64",
}

func newArchInfo(name string, audit uint32, e *elastic.Info, x32 bool) *archInfo {
	a := &archInfo{name: name, audit: audit, nrs: e.SyscallNames, names: e.SyscallNumbers, x32: x32}
	for nr := range a.names {
		a.maxNr = max(a.maxNr, nr)
	}
	return a
}

// lookupArch returns the architecture named name ("x86_64", "aarch64", or
// their GOARCH spellings); "" means the architecture this binary runs on.
func lookupArch(name string) (*archInfo, error) {
	if name == "" {
		name = runtime.GOARCH
	}
	if alias, ok := archAliases[name]; ok {
		name = alias
	}
	a, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("unsupported architecture %q (supported: x86_64, aarch64)", name)
	}
	return a, nil
}

// knownSyscall reports whether name is a Linux system call on any
// architecture in the tables (including i386, x32 and arm, so that groups
// and policies may name calls such as vm86 that exist only there). Calls
// that do not exist on the target architecture are skipped by the compiler.
func knownSyscall(name string) bool {
	for _, e := range []*elastic.Info{elastic.X86_64, elastic.AARCH64, elastic.I386, elastic.X32, elastic.ARM} {
		if _, ok := e.SyscallNames[name]; ok {
			return true
		}
	}
	return false
}
