package seccomp

import "fmt"

// defaultPolicyText is cove's default policy. It is a deny list: the
// sandboxed program keeps the ordinary system call surface, and loses the
// kernel interfaces that sandbox escapes and kernel exploits use.
const defaultPolicyText = `# cove default seccomp policy (docs/seccomp.md)
default allow

# System calls newer than cove's tables fail as if the kernel lacked them, so
# a future mount-like API is not open by default (lesson of CVE-2021-41133).
unknown errno ENOSYS

# Mounts (old and new API), modules, kexec, reboot, swap, clock, keyrings,
# BPF, perf, ptrace, io_uring, userfaultfd, file handles, quotas, acct,
# raw I/O, CPU emulation and obsolete calls.
deny @default-deny

# clone3 takes its flags in memory the filter cannot read; ENOSYS makes libc
# fall back to clone, whose flags the filter can check.
errno ENOSYS clone3

# Only the Linux persona and the query (LockPersonality=).
personality arg0 != PER_LINUX && arg0 != PER_QUERY: deny

# Injecting terminal input (CVE-2017-5226), console ioctls and loading line
# disciplines (snapd CVE-2023-1523). The request is compared on its low 32
# bits, as the kernel reads it (CVE-2019-10063).
ioctl arg1 == TIOCSTI: deny
ioctl arg1 == TIOCLINUX: deny
ioctl arg1 == TIOCSETD: deny
`

// defaultUsernsText blocks nested user namespaces; Default appends it unless
// AllowUserns is set.
const defaultUsernsText = `
# Nested user namespaces give the program "root" over new mount, net and
# cgroup code paths in the kernel.
clone unshare arg0 & CLONE_NEWUSER != 0: deny
`

// DefaultOptions adjust the default policy.
type DefaultOptions struct {
	// AllowUserns keeps clone and unshare with CLONE_NEWUSER allowed.
	AllowUserns bool
}

// Default returns a fresh copy of cove's default policy. See
// docs/seccomp.md for what it blocks and why.
func Default(o DefaultOptions) (*Policy, error) {
	text := defaultPolicyText
	if !o.AllowUserns {
		text += defaultUsernsText
	}
	p, err := Parse(text)
	if err != nil {
		return nil, fmt.Errorf("internal error: default seccomp policy: %w", err)
	}
	for i := range p.Rules {
		p.Rules[i].Origin = "default policy " + p.Rules[i].Origin
	}
	return p, nil
}

// DefaultText returns the default policy in the text format, for display
// and as a starting point for a policy file.
func DefaultText(o DefaultOptions) string {
	if o.AllowUserns {
		return defaultPolicyText
	}
	return defaultPolicyText + defaultUsernsText
}
