package seccomp

import "sync"

// namedValues are the symbolic constants a policy may use as argument values
// and masks. Every value here is the same on x86_64 and aarch64 (both use the
// asm-generic ioctl, clone and socket numbering); TestNamedValuesMatchUnix
// checks them against golang.org/x/sys/unix on the build architecture.
var namedValues = sync.OnceValue(func() map[string]uint64 {
	return map[string]uint64{
		// Terminal ioctls (asm-generic/ioctls.h).
		"TCGETS":     0x5401,
		"TCSETS":     0x5402,
		"TIOCSCTTY":  0x540e,
		"TIOCGPGRP":  0x540f,
		"TIOCSPGRP":  0x5410,
		"TIOCSTI":    0x5412,
		"TIOCGWINSZ": 0x5413,
		"TIOCSWINSZ": 0x5414,
		"TIOCLINUX":  0x541c,
		"TIOCCONS":   0x541d,
		"TIOCSETD":   0x5423,
		"TIOCGETD":   0x5424,

		// clone(2)/unshare(2) flags (linux/sched.h).
		"CLONE_VM":        0x00000100,
		"CLONE_FS":        0x00000200,
		"CLONE_FILES":     0x00000400,
		"CLONE_SIGHAND":   0x00000800,
		"CLONE_PIDFD":     0x00001000,
		"CLONE_PTRACE":    0x00002000,
		"CLONE_VFORK":     0x00004000,
		"CLONE_PARENT":    0x00008000,
		"CLONE_THREAD":    0x00010000,
		"CLONE_NEWNS":     0x00020000,
		"CLONE_SYSVSEM":   0x00040000,
		"CLONE_SETTLS":    0x00080000,
		"CLONE_UNTRACED":  0x00800000,
		"CLONE_NEWCGROUP": 0x02000000,
		"CLONE_NEWUTS":    0x04000000,
		"CLONE_NEWIPC":    0x08000000,
		"CLONE_NEWUSER":   0x10000000,
		"CLONE_NEWPID":    0x20000000,
		"CLONE_NEWNET":    0x40000000,
		"CLONE_IO":        0x80000000,
		"CLONE_NEWTIME":   0x00000080,

		// personality(2) (linux/personality.h).
		"PER_LINUX":          0x0000,
		"PER_LINUX32":        0x0008,
		"ADDR_NO_RANDOMIZE":  0x0040000,
		"PER_QUERY":          0xffffffff, // personality(0xffffffff) reads the current value
		"UNAME26":            0x0020000,
		"READ_IMPLIES_EXEC":  0x0400000,
		"ADDR_LIMIT_32BIT":   0x0800000,
		"ADDR_COMPAT_LAYOUT": 0x0200000,

		// Socket types (linux/net.h) for socket(2) arg1.
		"SOCK_STREAM":    1,
		"SOCK_DGRAM":     2,
		"SOCK_RAW":       3,
		"SOCK_SEQPACKET": 5,
	}
})

// addressFamilies maps lower-case family names (without AF_) to their numbers
// (linux/socket.h). They are also accepted as values in the AF_ spelling.
var addressFamilies = sync.OnceValue(func() map[string]uint64 {
	return map[string]uint64{
		"unix":       1,
		"local":      1,
		"inet":       2,
		"ax25":       3,
		"ipx":        4,
		"appletalk":  5,
		"netrom":     6,
		"bridge":     7,
		"atmpvc":     8,
		"x25":        9,
		"inet6":      10,
		"rose":       11,
		"decnet":     12,
		"netbeui":    13,
		"security":   14,
		"key":        15,
		"netlink":    16,
		"packet":     17,
		"ash":        18,
		"econet":     19,
		"atmsvc":     20,
		"rds":        21,
		"sna":        22,
		"irda":       23,
		"pppox":      24,
		"wanpipe":    25,
		"llc":        26,
		"ib":         27,
		"mpls":       28,
		"can":        29,
		"tipc":       30,
		"bluetooth":  31,
		"iucv":       32,
		"rxrpc":      33,
		"isdn":       34,
		"phonet":     35,
		"ieee802154": 36,
		"caif":       37,
		"alg":        38,
		"nfc":        39,
		"vsock":      40,
		"kcm":        41,
		"qipcrtr":    42,
		"smc":        43,
		"xdp":        44,
		"mctp":       45,
	}
})
