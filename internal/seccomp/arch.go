package seccomp

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

//go:generate go run gen_syscalls.go

// sysEntry is one row of a generated system call table.
type sysEntry struct {
	name string
	nr   int
}

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

// archs returns the supported architectures, built on first use from the
// generated tables (syscalls_gen.go, from github.com/elastic/go-seccomp-bpf):
// a cove start with the precompiled default policy never builds them. The
// result is read-only.
var archs = sync.OnceValue(func() map[string]*archInfo {
	return map[string]*archInfo{
		"x86_64":  newArchInfo("x86_64", unix.AUDIT_ARCH_X86_64, syscallsX86_64[:], true),
		"aarch64": newArchInfo("aarch64", unix.AUDIT_ARCH_AARCH64, syscallsAARCH64[:], false),
	}
})

// archAliases maps GOARCH spellings to Linux architecture names.
var archAliases = map[string]string{
	"amd64": "x86_64",
	"arm64": "aarch64",
}

func newArchInfo(name string, audit uint32, table []sysEntry, x32 bool) *archInfo {
	a := &archInfo{name: name, audit: audit, nrs: make(map[string]int, len(table)), names: make(map[int]string, len(table)), x32: x32}
	for _, e := range table {
		a.nrs[e.name] = e.nr
		a.names[e.nr] = e.name
		a.maxNr = max(a.maxNr, e.nr)
	}
	return a
}

// lookupArch returns the architecture named name ("x86_64", "aarch64", or
// their GOARCH spellings); "" means the architecture this binary runs on.
func lookupArch(name string) (*archInfo, error) {
	n, err := archName(name)
	if err != nil {
		return nil, err
	}
	return archs()[n], nil
}

// archName returns the Linux name of a supported architecture given as
// lookupArch takes it, without building the syscall tables.
func archName(name string) (string, error) {
	if name == "" {
		name = runtime.GOARCH
	}
	if alias, ok := archAliases[name]; ok {
		name = alias
	}
	if name != "x86_64" && name != "aarch64" {
		return "", fmt.Errorf("unsupported architecture %q (supported: x86_64, aarch64)", name)
	}
	return name, nil
}

// knownSyscall reports whether name is a Linux system call on any
// architecture in the tables (including i386, x32 and arm, so that groups
// and policies may name calls such as vm86 that exist only there). Calls
// that do not exist on the target architecture are skipped by the compiler.
func knownSyscall(name string) bool {
	i := sort.SearchStrings(allSyscallNames[:], name)
	return i < len(allSyscallNames) && allSyscallNames[i] == name
}
