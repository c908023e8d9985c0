// Package seccomp parses cove's seccomp policies and compiles them, in pure
// Go, into classic BPF programs for x86_64 and aarch64.
//
// # Policies
//
// A policy is text, one rule per line (docs/seccomp.md has the grammar):
//
//	default allow
//	unknown errno ENOSYS
//	deny @mount @keyring bpf
//	errno ENOSYS clone3
//	ioctl arg1 == TIOCSTI: deny
//	clone unshare arg0 & CLONE_NEWUSER != 0: deny
//
// Rules naming a call are tried from the last to the first; the first whose
// conditions hold decides, otherwise the default applies. Arguments the
// kernel reads as 32-bit integers (the ioctl request, socket family, clone
// flags, ...) are compared on their low 32 bits (CVE-2019-10063).
//
// # Building a filter
//
// [Build] turns the CLI's view ([Config]: --seccomp, --seccomp-allow,
// --seccomp-deny, --allow-userns, --restrict-address-families) into a
// program; [Parse], [Default] and [Policy.Compile] are the pieces it uses.
// Every program first kills the process for a foreign architecture and
// refuses x32 calls, then binary-searches the system call number.
//
//	filter, err := seccomp.Build(seccomp.Config{Mode: "default"})
//	// forked child: seccomp(SECCOMP_SET_MODE_FILTER, 0, seccomp.Prog(filter))
//	// or, in-process: seccomp.Install(filter)
//
// IMPORTANT: seccomp cannot read memory. Paths, clone3 arguments and
// io_uring submissions are invisible to it; the default policy therefore
// refuses clone3 (ENOSYS, so libc falls back to clone) and io_uring.
//
// The package has no mutable global state; its tables are read-only.
package seccomp
