package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/caps"
)

// nsTypes are the namespaces reported, in /proc/PID/ns's names.
var nsTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "user", "uts"}

// limitNames maps /proc/PID/limits row titles to rlimit short names;
// read-only.
var limitNames = map[string]string{
	"Max cpu time": "cpu", "Max file size": "fsize", "Max data size": "data",
	"Max stack size": "stack", "Max core file size": "core", "Max resident set": "rss",
	"Max processes": "nproc", "Max open files": "nofile", "Max locked memory": "memlock",
	"Max address space": "as", "Max file locks": "locks", "Max pending signals": "sigpending",
	"Max msgqueue size": "msgqueue", "Max nice priority": "nice", "Max realtime priority": "rtprio",
	"Max realtime timeout": "rttime",
}

// Collect audits pid, or cove itself when pid is 0 or its own PID.
// Namespaces are compared with the caller's; when the target is the caller
// itself they are compared with PID 1's (the init of the visible PID
// namespace), and the report says so.
func Collect(pid int) (*Report, error) {
	self := pid == 0 || pid == os.Getpid()
	if pid == 0 {
		pid = os.Getpid()
	}
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("PID %d: %w: no such process", pid, ErrNoProcess)
		}
		return nil, fmt.Errorf("PID %d: %w: %v", pid, ErrNoProcess, err)
	}
	st := parseStatus(status)
	r := &Report{PID: pid, Self: self, Comm: st["Name"]}
	r.UID = ints(st["Uid"])
	r.GID = ints(st["Gid"])
	r.Groups = ints(st["Groups"])

	ref := "/proc/self"
	r.Reference = fmt.Sprintf("the caller (PID %d)", os.Getpid())
	if self {
		ref = "/proc/1"
		r.Reference = "PID 1 (cove audited itself)"
	}
	f := facts{ns: map[string]string{}}
	for _, t := range nsTypes {
		n := Namespace{Type: t, Inode: nsInode(dir + "/ns/" + t), Reference: nsInode(ref + "/ns/" + t)}
		switch {
		case n.Inode == 0 || n.Reference == 0:
			n.State = "unknown"
		case n.Inode == n.Reference:
			n.State = "shared"
		default:
			n.State = "private"
		}
		f.ns[t] = n.State
		r.Namespace = append(r.Namespace, n)
	}
	if f.ns["net"] == "unknown" || f.ns["user"] == "unknown" {
		r.Notes = append(r.Notes, "some namespaces are unreadable (reading /proc/PID/ns needs ptrace access to the target)")
	}

	r.UIDMap = lines(dir + "/uid_map")
	r.GIDMap = lines(dir + "/gid_map")
	if s := lines(dir + "/setgroups"); len(s) > 0 {
		r.Setgroups = s[0]
	}
	f.initialUserNS = len(r.UIDMap) == 1 && strings.Join(strings.Fields(r.UIDMap[0]), " ") == "0 0 4294967295"

	sets := map[string]caps.Set{}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		s, err := caps.ParseMask(st[k])
		if err != nil {
			return nil, fmt.Errorf("PID %d: status %s: %w", pid, k, err)
		}
		sets[k] = s
	}
	r.Caps = CapSets{
		Inheritable: sets["CapInh"].Names(), Permitted: sets["CapPrm"].Names(),
		Effective: sets["CapEff"].Names(), Bounding: sets["CapBnd"].Names(), Ambient: sets["CapAmb"].Names(),
	}
	f.perm, f.amb, f.bnd = sets["CapPrm"], sets["CapAmb"], sets["CapBnd"]

	r.NoNewPrivs = st["NoNewPrivs"] == "1"
	r.Seccomp.Mode, _ = strconv.Atoi(st["Seccomp"])
	r.Seccomp.Filters, _ = strconv.Atoi(st["Seccomp_filters"])
	r.Seccomp.ModeName = map[int]string{0: "disabled", 1: "strict", 2: "filter"}[r.Seccomp.Mode]

	if len(r.UID) > 1 {
		f.euid = r.UID[1]
	}
	if self {
		// Securebits and dumpable are per thread; this is the calling
		// thread's view, which for cove's own threads is the process's.
		if v, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0); err == nil {
			sb := caps.Securebits(v)
			r.Securebits = &Securebits{Value: uint32(v), Names: sb.Names()}
		}
		r.Dumpable = "unknown"
		if v, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err == nil {
			r.Dumpable = map[bool]string{true: "yes", false: "no"}[v == 1]
		}
	} else {
		r.Dumpable = dumpableFromOwner(dir, f.euid, f.initialUserNS)
	}

	r.Rlimits = limits(dir + "/limits")
	r.Cgroup = lines(dir + "/cgroup")
	r.NetInterfaces, f.netKnown = interfaces(dir + "/net/dev")
	f.onlyLoopback = f.netKnown && len(r.NetInterfaces) == 1 && r.NetInterfaces[0] == "lo"
	f.nnp, f.seccompMode, f.dumpable = r.NoNewPrivs, r.Seccomp.Mode, r.Dumpable
	r.Exposure = assess(f)
	return r, nil
}

// parseStatus reads "Key:\tvalue" lines.
func parseStatus(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func ints(s string) []int {
	out := []int{}
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// nsInode is the inode of a /proc/PID/ns link's target, 0 if unreadable.
func nsInode(path string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0
	}
	return st.Ino
}

// lines returns the non-empty lines of a file with runs of blanks squeezed,
// nil if unreadable.
func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}

// dumpableFromOwner infers dumpability of another process: the kernel
// gives a non-dumpable process's /proc/PID directory to root (of its user
// namespace's owner, or the host), so an owner other than the process's
// euid means "no". A matching owner proves "yes" only in the initial user
// namespace; elsewhere root of the namespace may be that very uid.
func dumpableFromOwner(dir string, euid int, initialUserNS bool) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "unknown"
	}
	switch {
	case int(st.Uid) != euid:
		return "no"
	case initialUserNS && euid != 0:
		return "yes"
	}
	return "unknown"
}

// limits parses /proc/PID/limits, whose first column is 26 characters wide.
func limits(path string) []Rlimit {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []Rlimit
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) < 26 {
			continue
		}
		name, ok := limitNames[strings.TrimSpace(l[:26])]
		f := strings.Fields(l[26:])
		if !ok || len(f) < 2 {
			continue
		}
		out = append(out, Rlimit{Name: name, Soft: f[0], Hard: f[1]})
	}
	return out
}

// interfaces lists the interface names in /proc/PID/net/dev.
func interfaces(path string) ([]string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var out []string
	for i, l := range strings.Split(string(b), "\n") {
		if i < 2 {
			continue // two header lines
		}
		if name, _, ok := strings.Cut(l, ":"); ok {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out, true
}
