package seccomp

import "sync"

// narrowArgs lists system call arguments the kernel declares as int or
// unsigned int (or truncates with lower_32_bits) on 64-bit architectures.
// The kernel ignores the upper 32 bits of these registers, so a filter that
// compared all 64 bits could be bypassed by setting them (CVE-2019-10063:
// ioctl(fd, (0x123<<32)|TIOCSTI) passed a 64-bit TIOCSTI comparison).
// Conditions on these arguments are compiled to compare only the low word,
// and values or masks wider than 32 bits are rejected.
//
// Key: syscall name; value: bit i set means argument i is 32 bits wide.
// Argument numbering is the same on x86_64 and aarch64 for every entry.
var narrowArgs = sync.OnceValue(func() map[string]uint8 {
	return map[string]uint8{
		"ioctl":       1<<0 | 1<<1, // unsigned int fd, unsigned int cmd
		"socket":      1<<0 | 1<<1 | 1<<2,
		"socketpair":  1<<0 | 1<<1 | 1<<2,
		"personality": 1 << 0, // unsigned int persona
		"clone":       1 << 0, // kernel_clone uses lower_32_bits(clone_flags)
		"setns":       1 << 1, // int nstype
		"prctl":       1 << 0, // int option
		"fcntl":       1<<0 | 1<<1,
		"kill":        1 << 1,
		"tkill":       1 << 1,
		"tgkill":      1 << 2,
		"open":        1 << 1, // int flags
		"openat":      1 << 2, // int flags
	}
})

// argIs32 reports whether argument arg of syscall name is compared on its
// low 32 bits only.
func argIs32(name string, arg int) bool {
	return narrowArgs()[name]&(1<<arg) != 0
}
