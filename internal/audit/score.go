package audit

import (
	"fmt"

	"github.com/covebox/cove/internal/caps"
)

// facts are the inputs of the exposure score, gathered by Collect.
type facts struct {
	euid          int
	initialUserNS bool              // uid_map is the identity map of the initial user namespace
	ns            map[string]string // namespace type → "private", "shared", "unknown"
	netKnown      bool
	onlyLoopback  bool
	nnp           bool
	seccompMode   int
	perm, amb     caps.Set
	bnd           caps.Set
	dumpable      string
}

// capCheck is a group of capabilities scored together; weights follow
// systemd-analyze security (systemd 252) where it has the capability.
type capCheck struct {
	name   string
	weight int
	caps   []caps.Cap
	why    string
}

// capChecks is read-only.
var capChecks = []capCheck{
	{"CAP_SET(UID|GID|PCAP)", 1500, []caps.Cap{caps.SETUID, caps.SETGID, caps.SETPCAP}, "change identity or grant capabilities"},
	{"CAP_SYS_PTRACE", 1500, []caps.Cap{caps.SYS_PTRACE}, "trace and inject code into other processes"},
	{"CAP_SYS_ADMIN", 1500, []caps.Cap{caps.SYS_ADMIN}, "mount, namespaces, and most of the kernel's administrative interface"},
	{"CAP_SYS_TIME", 1000, []caps.Cap{caps.SYS_TIME}, "set the system clock"},
	{"CAP_(DAC_*|FOWNER|IPC_OWNER)", 1000, []caps.Cap{caps.DAC_OVERRIDE, caps.DAC_READ_SEARCH, caps.FOWNER, caps.IPC_OWNER}, "bypass file and IPC permissions"},
	{"CAP_SYS_MODULE", 1000, []caps.Cap{caps.SYS_MODULE}, "load kernel modules"},
	{"CAP_(CHOWN|FSETID|SETFCAP)", 1000, []caps.Cap{caps.CHOWN, caps.FSETID, caps.SETFCAP}, "change file ownership, setuid bits and file capabilities"},
	{"CAP_SYS_RAWIO", 1000, []caps.Cap{caps.SYS_RAWIO}, "raw device and I/O port access"},
	{"CAP_NET_ADMIN", 1000, []caps.Cap{caps.NET_ADMIN}, "reconfigure networking"},
	{"CAP_KILL", 500, []caps.Cap{caps.KILL}, "signal any process"},
	{"CAP_MKNOD", 500, []caps.Cap{caps.MKNOD}, "create device nodes"},
	{"CAP_SYS_(NICE|RESOURCE)", 500, []caps.Cap{caps.SYS_NICE, caps.SYS_RESOURCE}, "override scheduling and resource limits"},
	{"CAP_NET_(BIND_SERVICE|BROADCAST|RAW)", 500, []caps.Cap{caps.NET_BIND_SERVICE, caps.NET_BROADCAST, caps.NET_RAW}, "privileged ports, broadcast, raw sockets"},
	{"CAP_AUDIT_*", 500, []caps.Cap{caps.AUDIT_CONTROL, caps.AUDIT_READ, caps.AUDIT_WRITE}, "the audit subsystem"},
	{"CAP_SYSLOG", 500, []caps.Cap{caps.SYSLOG}, "the kernel log"},
	{"CAP_CHECKPOINT_RESTORE", 500, []caps.Cap{caps.CHECKPOINT_RESTORE}, "choose PIDs, read /proc/PID/map_files (cove's weight)"},
	{"CAP_SYS_BOOT", 100, []caps.Cap{caps.SYS_BOOT}, "reboot, kexec"},
	{"CAP_MAC_*", 100, []caps.Cap{caps.MAC_ADMIN, caps.MAC_OVERRIDE}, "configure or bypass LSM policy"},
	{"CAP_LINUX_IMMUTABLE", 75, []caps.Cap{caps.LINUX_IMMUTABLE}, "change immutable and append-only flags"},
	{"CAP_IPC_LOCK", 50, []caps.Cap{caps.IPC_LOCK}, "lock memory"},
	{"CAP_SYS_CHROOT", 50, []caps.Cap{caps.SYS_CHROOT}, "chroot"},
	{"CAP_(minor: PACCT, WAKE_ALARM, BPF, TTY_CONFIG, BLOCK_SUSPEND, LEASE, PERFMON)", 25, []caps.Cap{caps.SYS_PACCT, caps.WAKE_ALARM, caps.BPF, caps.SYS_TTY_CONFIG, caps.BLOCK_SUSPEND, caps.LEASE, caps.PERFMON}, "minor privileges"},
}

// nsChecks is read-only: namespace type, weight, what sharing exposes.
var nsChecks = []struct {
	typ    string
	name   string
	weight int
	why    string
}{
	{"net", "PrivateNetwork", 2500, "a private network namespace (or one with only loopback) keeps the host's network out of reach"},
	{"user", "PrivateUsers", 1000, "a private user namespace makes root and capabilities local to the sandbox"},
	{"mnt", "PrivateMounts", 1000, "a private mount namespace hides and protects the host's file system tree"},
	{"pid", "PrivatePIDs", 500, "a private PID namespace hides other processes"},
	{"ipc", "PrivateIPC", 500, "a private IPC namespace separates System V IPC and POSIX message queues"},
	{"cgroup", "PrivateCgroup", 500, "a private cgroup namespace hides the host's cgroup tree"},
	{"uts", "PrivateUTS", 100, "a private UTS namespace keeps hostname changes local"},
}

// assess computes the checks and the overall score, with systemd's
// arithmetic: each check adds ceil(badness*weight/range); the exposure is
// ceil(sum*100/total weight of applicable checks), shown divided by ten.
func assess(f facts) Exposure {
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	// User identity, range 10.
	user := Check{Name: "User", Weight: 2000, Range: 10, Applicable: true,
		Description: "the identity the process runs as"}
	switch {
	case f.euid == 0 && f.initialUserNS:
		user.Badness, user.Finding = 10, "root on the host"
	case f.euid == 0:
		user.Badness, user.Finding = 3, "root inside a user namespace"
	case f.euid == 65534:
		user.Badness, user.Finding = 2, "nobody"
	default:
		user.Finding = fmt.Sprintf("unprivileged uid %d", f.euid)
	}
	add(user)

	for _, n := range nsChecks {
		c := Check{Name: n.name, Weight: n.weight, Range: 1, Applicable: true, Description: n.why}
		state := f.ns[n.typ]
		switch {
		case state == "private":
			c.Finding = "private " + n.typ + " namespace"
		case n.typ == "net" && f.netKnown && f.onlyLoopback:
			c.Finding = "only loopback"
		case n.typ == "net" && f.netKnown && state == "unknown":
			c.Badness, c.Finding = 1, "has interfaces besides loopback"
		case n.typ == "user" && !f.initialUserNS:
			c.Finding = "in a non-initial user namespace"
		case n.typ == "user" && f.initialUserNS:
			c.Badness, c.Finding = 1, "the initial user namespace"
		case state == "shared":
			c.Badness, c.Finding = 1, "shared with the reference"
		default:
			c.Applicable, c.Finding = false, "cannot tell"
		}
		add(c)
	}

	nnp := Check{Name: "NoNewPrivileges", Weight: 1000, Range: 1, Applicable: true,
		Description: "no_new_privs stops setuid binaries and file capabilities from raising privileges"}
	if f.nnp {
		nnp.Finding = "set"
	} else {
		nnp.Badness, nnp.Finding = 1, "not set"
	}
	add(nnp)

	sc := Check{Name: "SystemCallFilter", Weight: 1500, Range: 1, Applicable: true,
		Description: "a seccomp filter narrows the kernel's attack surface (its contents cannot be seen from /proc)"}
	switch f.seccompMode {
	case 1:
		sc.Finding = "strict mode"
	case 2:
		sc.Finding = "filter installed"
	default:
		sc.Badness, sc.Finding = 1, "no seccomp"
	}
	add(sc)

	// Capabilities the process has or can gain: permitted and ambient, plus
	// the bounding set when execve can fill the permitted set from it
	// (running as root, or without no_new_privs through a setuid-root or
	// file-capability binary).
	reach := f.perm | f.amb
	if f.euid == 0 || !f.nnp {
		reach |= f.bnd
	}
	for _, cc := range capChecks {
		var group caps.Set
		group.Add(cc.caps...)
		c := Check{Name: cc.name, Weight: cc.weight, Range: 1, Applicable: true, Description: cc.why}
		if hit := reach & group; hit != 0 {
			c.Badness, c.Finding = 1, "reachable: "+hit.String()
		} else {
			c.Finding = "not reachable"
		}
		add(c)
	}

	amb := Check{Name: "AmbientCapabilities", Weight: 500, Range: 1, Applicable: true,
		Description: "ambient capabilities survive execve into any program"}
	if f.amb != 0 {
		amb.Badness, amb.Finding = 1, f.amb.String()
	} else {
		amb.Finding = "none"
	}
	add(amb)

	dump := Check{Name: "NonDumpable", Weight: 100, Range: 1, Applicable: f.dumpable != "unknown",
		Description: "a dumpable process's memory and /proc/PID/exe are reachable by same-uid processes (CVE-2019-5736)"}
	switch f.dumpable {
	case "yes":
		dump.Badness, dump.Finding = 1, "dumpable"
	case "no":
		dump.Finding = "not dumpable"
	default:
		dump.Finding = "cannot tell"
	}
	add(dump)

	var sum, total int
	for _, c := range checks {
		if !c.Applicable {
			continue
		}
		sum += ceilDiv(c.Badness*c.Weight, c.Range)
		total += c.Weight
	}
	exposure := 0
	if total > 0 {
		exposure = ceilDiv(sum*100, total)
	}
	return Exposure{Score: float64(exposure) / 10, Label: label(exposure), Checks: checks}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// label is systemd-analyze security's word for an exposure of 0..100.
func label(exposure int) string {
	switch {
	case exposure >= 100:
		return "DANGEROUS"
	case exposure >= 90:
		return "UNSAFE"
	case exposure >= 75:
		return "EXPOSED"
	case exposure >= 50:
		return "MEDIUM"
	case exposure >= 10:
		return "OK"
	case exposure >= 1:
		return "SAFE"
	}
	return "PERFECT"
}
