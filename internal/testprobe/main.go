// Command testprobe is a static helper for cove's escape suite (e2e/escape).
// The tests build it with CGO_ENABLED=0 and run it inside `cove run`; each
// subcommand tries one attack from reference/peers.md §3.2 and prints its
// outcome as `key=value` lines, so that the tests can assert exact results.
//
//	try-syscall NAME [ARG...]   exits with the errno of the call (0 on success)
//	                            and prints NAME=ERRNO (OK for success)
//	fds                         the open fds at startup, their types and, for
//	                            directories, whether ".." leads outside the root
//	cwd, kill-all, proc-peek PID..., proc-exe-write, mounts, caps, whoami,
//	nnp-clear, chroot-escape MARKER, mount-proc PATH, cgroup-v1, overlay-suid,
//	connect-abstract NAME, connect-unix PATH, write-and-wait, wait-and-check,
//	procfs, forkbomb, alloc, write-big, fill-dir, sleep, linger, userns
//
// It is not part of cove and is never installed.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// startFds is the fd table as the program found it, read before the Go
// runtime or this program opens anything else that could be confused with
// an inherited descriptor.
var startFds = listFds()

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testprobe SUBCOMMAND [ARG...]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	f, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(os.Stderr, "testprobe: unknown subcommand %q\n", cmd)
		os.Exit(2)
	}
	os.Exit(f(args))
}

var commands map[string]func([]string) int

func init() {
	commands = map[string]func([]string) int{
		"try-syscall":      trySyscall,
		"fds":              cmdFds,
		"cwd":              cmdCwd,
		"kill-all":         cmdKillAll,
		"proc-peek":        cmdProcPeek,
		"proc-exe-write":   cmdProcExeWrite,
		"mounts":           cmdMounts,
		"caps":             cmdCaps,
		"whoami":           cmdWhoami,
		"nnp-clear":        cmdNNPClear,
		"chroot-escape":    cmdChrootEscape,
		"mount-proc":       cmdMountProc,
		"cgroup-v1":        cmdCgroupV1,
		"overlay-suid":     cmdOverlaySuid,
		"connect-abstract": cmdConnectAbstract,
		"connect-unix":     cmdConnectUnix,
		"write-and-wait":   cmdWriteAndWait,
		"wait-and-check":   cmdWaitAndCheck,
		"procfs":           cmdProcfs,
		"forkbomb":         cmdForkbomb,
		"alloc":            cmdAlloc,
		"write-big":        cmdWriteBig,
		"fill-dir":         cmdFillDir,
		"sleep":            cmdSleep,
		"linger":           cmdLinger,
		"userns":           cmdUserns,
		"statfs":           cmdStatfs,
	}
}

func out(k string, v any) { fmt.Printf("%s=%v\n", k, v) }

// ename names an errno; nil is OK.
func ename(err error) string {
	if err == nil {
		return "OK"
	}
	if e, ok := err.(syscall.Errno); ok {
		if e == 0 {
			return "OK"
		}
		if n := unix.ErrnoName(e); n != "" {
			return strings.ToUpper(n)
		}
		return "E" + strconv.Itoa(int(e))
	}
	if pe, ok := err.(*os.PathError); ok {
		return ename(pe.Err)
	}
	if se, ok := err.(*os.SyscallError); ok {
		return ename(se.Err)
	}
	if le, ok := err.(*os.LinkError); ok {
		return ename(le.Err)
	}
	return "ERR(" + strings.ReplaceAll(err.Error(), " ", "_") + ")"
}

func errnoOf(err error) int {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	switch x := err.(type) {
	case syscall.Errno:
		e = x
	case *os.PathError:
		return errnoOf(x.Err)
	case *os.SyscallError:
		return errnoOf(x.Err)
	default:
		return 255
	}
	if e > 254 {
		return 254
	}
	return int(e)
}

func errOf(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// atFDCWD is a variable so that its conversion to uintptr happens at run time.
var atFDCWD = unix.AT_FDCWD

func ptr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

func cstr(s string) *byte { b, _ := unix.BytePtrFromString(s); return b }

// ---- try-syscall ----

func raw(nr uintptr, a ...uintptr) error {
	var x [6]uintptr
	copy(x[:], a)
	_, _, e := unix.Syscall6(nr, x[0], x[1], x[2], x[3], x[4], x[5])
	return errOf(e)
}

// rawFd is raw for calls that return a new fd, which is closed.
func rawFd(nr uintptr, a ...uintptr) error {
	var x [6]uintptr
	copy(x[:], a)
	r, _, e := unix.Syscall6(nr, x[0], x[1], x[2], x[3], x[4], x[5])
	if e == 0 && int(r) >= 0 {
		unix.Close(int(r))
	}
	return errOf(e)
}

func argInt(args []string, i, def int) int {
	if i < len(args) {
		if n, err := strconv.Atoi(args[i]); err == nil {
			return n
		}
	}
	return def
}

var syscalls = map[string]func(args []string) error{
	"mount": func(a []string) error {
		return unix.Mount("none", "/tmp", "tmpfs", 0, "")
	},
	"umount2": func(a []string) error {
		p := "/proc"
		if len(a) > 0 {
			p = a[0]
		}
		return unix.Unmount(p, unix.MNT_DETACH)
	},
	"unshare": func(a []string) error {
		fl := unix.CLONE_NEWUSER
		if len(a) > 0 {
			fl = nsFlags(a[0])
		}
		return unix.Unshare(fl)
	},
	"setns": func(a []string) error {
		fd, err := unix.Open("/proc/self/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Setns(fd, unix.CLONE_NEWUSER)
	},
	"fsopen": func(a []string) error {
		t := "proc"
		if len(a) > 0 {
			t = a[0]
		}
		return rawFd(unix.SYS_FSOPEN, uintptr(unsafe.Pointer(cstr(t))), unix.FSOPEN_CLOEXEC)
	},
	"fsconfig": func(a []string) error { return raw(unix.SYS_FSCONFIG, ^uintptr(0), 0, 0, 0, 0) },
	"fsmount":  func(a []string) error { return rawFd(unix.SYS_FSMOUNT, ^uintptr(0), 0, 0) },
	"fspick": func(a []string) error {
		return rawFd(unix.SYS_FSPICK, uintptr(atFDCWD), uintptr(unsafe.Pointer(cstr("/"))), unix.FSPICK_CLOEXEC)
	},
	"open_tree": func(a []string) error {
		return rawFd(unix.SYS_OPEN_TREE, uintptr(atFDCWD), uintptr(unsafe.Pointer(cstr("/"))), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	},
	"move_mount": func(a []string) error {
		return raw(unix.SYS_MOVE_MOUNT, ^uintptr(0), uintptr(unsafe.Pointer(cstr(""))), ^uintptr(0), uintptr(unsafe.Pointer(cstr(""))), 0)
	},
	"mount_setattr": func(a []string) error {
		var attr unix.MountAttr
		return raw(unix.SYS_MOUNT_SETATTR, ^uintptr(0), uintptr(unsafe.Pointer(cstr(""))), 0, ptr(&attr), unsafe.Sizeof(attr))
	},
	// clone3 with a NULL argument: EINVAL from the kernel, never a fork.
	"clone3": func(a []string) error { return raw(unix.SYS_CLONE3, 0, 0) },
	// NULL params: EFAULT from the kernel if it gets that far.
	"io_uring_setup": func(a []string) error { return rawFd(unix.SYS_IO_URING_SETUP, 1, 0) },
	"userfaultfd":    func(a []string) error { return rawFd(unix.SYS_USERFAULTFD, unix.O_CLOEXEC) },
	"dev-userfaultfd": func(a []string) error {
		fd, err := unix.Open("/dev/userfaultfd", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	"perf_event_open": func(a []string) error { return rawFd(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0) },
	"bpf":             func(a []string) error { return rawFd(unix.SYS_BPF, unix.BPF_PROG_LOAD, 0, 0) },
	"kexec_load":      func(a []string) error { return raw(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0) },
	"kexec_file_load": func(a []string) error { return raw(unix.SYS_KEXEC_FILE_LOAD, ^uintptr(0), ^uintptr(0), 0, 0, 0) },
	"init_module": func(a []string) error {
		return raw(unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(cstr(""))))
	},
	"finit_module": func(a []string) error {
		return raw(unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(cstr(""))), 0)
	},
	"delete_module": func(a []string) error {
		return raw(unix.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(cstr("cove_escape_nonexistent"))), unix.O_NONBLOCK)
	},
	"iopl":   func(a []string) error { return raw(sysIopl, 3) },
	"ioperm": func(a []string) error { return raw(sysIoperm, 0x80, 1, 1) },
	"swapon": func(a []string) error {
		return raw(unix.SYS_SWAPON, uintptr(unsafe.Pointer(cstr("/nonexistent-cove-swap"))), 0)
	},
	"swapoff": func(a []string) error {
		return raw(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(cstr("/nonexistent-cove-swap"))))
	},
	// Bad magic numbers: the capability check comes first, then EINVAL.
	"reboot": func(a []string) error { return raw(unix.SYS_REBOOT, 1, 2, unix.LINUX_REBOOT_CMD_CAD_OFF, 0) },
	"acct":   func(a []string) error { return raw(unix.SYS_ACCT, 0) },
	// NULL time and zone: nothing would change, but the capability is
	// checked first.
	"settimeofday":  func(a []string) error { return raw(unix.SYS_SETTIMEOFDAY, 0, 0) },
	"clock_settime": func(a []string) error { return raw(unix.SYS_CLOCK_SETTIME, unix.CLOCK_REALTIME, 0) },
	"adjtimex": func(a []string) error {
		var t unix.Timex // modes 0: a read; the filter still decides
		return raw(unix.SYS_ADJTIMEX, ptr(&t))
	},
	// Q_SYNC of every file system: harmless and needs no privilege, so only a
	// filter refuses it.
	"quotactl": func(a []string) error { return raw(unix.SYS_QUOTACTL, 0x800001, 0, 0, 0) },
	"keyctl": func(a []string) error {
		// KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING, create=0)
		r, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0)
		if e == 0 {
			out("keyring", r)
		}
		return errOf(e)
	},
	"add_key": func(a []string) error {
		data := []byte("x")
		return raw(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(cstr("user"))), uintptr(unsafe.Pointer(cstr("cove-escape"))),
			uintptr(unsafe.Pointer(&data[0])), 1, uintptr(0xfffffffe))
	},
	"request_key": func(a []string) error {
		return raw(unix.SYS_REQUEST_KEY, uintptr(unsafe.Pointer(cstr("user"))), uintptr(unsafe.Pointer(cstr("cove-escape"))), 0, 0)
	},
	"open_by_handle_at": func(a []string) error {
		mfd, err := unix.Open("/etc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(mfd)
		// Shocker's handle: FILEID_INO32_GEN for inode 2, the root of an ext4.
		var h struct {
			bytes uint32
			typ   int32
			f     [8]byte
		}
		h.bytes, h.typ, h.f[0] = 8, 1, 2
		return rawFd(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(mfd), ptr(&h), unix.O_RDONLY)
	},
	"name_to_handle_at": func(a []string) error {
		var h struct {
			bytes uint32
			typ   int32
			f     [128]byte
		}
		h.bytes = 128
		var mnt int32
		return raw(unix.SYS_NAME_TO_HANDLE_AT, uintptr(atFDCWD), uintptr(unsafe.Pointer(cstr("/"))), ptr(&h), ptr(&mnt), 0)
	},
	"ptrace": func(a []string) error {
		pid := argInt(a, 0, 1)
		err := raw(unix.SYS_PTRACE, unix.PTRACE_ATTACH, uintptr(pid), 0, 0)
		if err == nil {
			raw(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0, 0)
		}
		return err
	},
	"process_vm_readv": func(a []string) error {
		pid := argInt(a, 0, 1)
		buf := make([]byte, 8)
		local := unix.Iovec{Base: &buf[0], Len: 8}
		// Some address: the access check comes before the copy.
		remote := unix.RemoteIovec{Base: 0x400000, Len: 8}
		_, err := unix.ProcessVMReadv(pid, []unix.Iovec{local}, []unix.RemoteIovec{remote}, 0)
		return err
	},
	"personality": func(a []string) error {
		// READ_IMPLIES_EXEC: a weaker persona.
		r, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0)
		if e == 0 {
			unix.Syscall(unix.SYS_PERSONALITY, r, 0, 0)
		}
		return errOf(e)
	},
	"personality-query": func(a []string) error { return raw(unix.SYS_PERSONALITY, 0xffffffff) },
	"ioctl-tiocsti": func(a []string) error {
		c := byte('x')
		return raw(unix.SYS_IOCTL, uintptr(argInt(a, 0, 0)), unix.TIOCSTI, ptr(&c))
	},
	"ioctl-tiocsti-high": func(a []string) error {
		c := byte('x')
		return raw(unix.SYS_IOCTL, uintptr(argInt(a, 0, 0)), (0x123<<32)|unix.TIOCSTI, ptr(&c))
	},
	"ioctl-tioclinux": func(a []string) error {
		sub := byte(6) // TIOCL_GETSHIFTSTATE
		return raw(unix.SYS_IOCTL, uintptr(argInt(a, 0, 0)), unix.TIOCLINUX, ptr(&sub))
	},
	"ioctl-tiocsetd": func(a []string) error {
		ld := int32(0) // N_TTY
		return raw(unix.SYS_IOCTL, uintptr(argInt(a, 0, 0)), unix.TIOCSETD, ptr(&ld))
	},
	"chroot":     func(a []string) error { return unix.Chroot("/tmp") },
	"pivot_root": func(a []string) error { return unix.PivotRoot("/tmp", "/tmp") },
	"modify_ldt": func(a []string) error {
		buf := make([]byte, 16)
		return raw(sysModifyLDT, 0, uintptr(unsafe.Pointer(&buf[0])), 16)
	},
	"sethostname": func(a []string) error { return unix.Sethostname([]byte("cove-escape")) },
	"uselib":      func(a []string) error { return raw(sysUselib, uintptr(unsafe.Pointer(cstr("/nonexistent")))) },
}

func nsFlags(s string) int {
	fl := 0
	for _, n := range strings.Split(s, ",") {
		switch n {
		case "user":
			fl |= unix.CLONE_NEWUSER
		case "mnt":
			fl |= unix.CLONE_NEWNS
		case "pid":
			fl |= unix.CLONE_NEWPID
		case "net":
			fl |= unix.CLONE_NEWNET
		case "uts":
			fl |= unix.CLONE_NEWUTS
		case "ipc":
			fl |= unix.CLONE_NEWIPC
		case "cgroup":
			fl |= unix.CLONE_NEWCGROUP
		}
	}
	return fl
}

func trySyscall(args []string) int {
	if len(args) == 0 {
		names := make([]string, 0, len(syscalls))
		for n := range syscalls {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, " "))
		return 2
	}
	f, ok := syscalls[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "testprobe: unknown syscall %q\n", args[0])
		return 255
	}
	// The calls act on the calling thread (unshare, setns, personality).
	runtime.LockOSThread()
	err := f(args[1:])
	out(args[0], ename(err))
	return errnoOf(err)
}

// ---- fds ----

func listFds() []int {
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var fds []int
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if k, err := strconv.Atoi(name); err == nil && k != fd {
				fds = append(fds, k)
			}
		}
	}
	sort.Ints(fds)
	return fds
}

func ftype(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFREG:
		return "reg"
	case unix.S_IFCHR:
		return "chr"
	case unix.S_IFBLK:
		return "blk"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "sock"
	case unix.S_IFLNK:
		return "lnk"
	}
	return "other"
}

// topOf climbs ".." from dir fd until it stops moving and returns the
// (dev, ino) reached: the root of whatever tree the fd belongs to.
func topOf(fd int) (uint64, uint64, error) {
	cur, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i < 256; i++ {
		var a, b unix.Stat_t
		if err := unix.Fstat(cur, &a); err != nil {
			unix.Close(cur)
			return 0, 0, err
		}
		up, err := unix.Openat(cur, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(cur)
			return 0, 0, err
		}
		unix.Fstat(up, &b)
		unix.Close(cur)
		cur = up
		if a.Dev == b.Dev && a.Ino == b.Ino {
			break
		}
	}
	var st unix.Stat_t
	unix.Fstat(cur, &st)
	unix.Close(cur)
	return st.Dev, st.Ino, nil
}

func cmdFds(args []string) int {
	var names []string
	for _, fd := range startFds {
		names = append(names, strconv.Itoa(fd))
	}
	out("fds", strings.Join(names, ","))
	var root unix.Stat_t
	unix.Stat("/", &root)
	outside := 0
	for _, fd := range startFds {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			out(fmt.Sprintf("fd%d", fd), "fstat:"+ename(err))
			continue
		}
		link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		desc := ftype(st.Mode) + ":" + strings.ReplaceAll(link, " ", "_")
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			dev, ino, err := topOf(fd)
			switch {
			case err != nil:
				desc += ":dotdot=" + ename(err)
			case dev != root.Dev || ino != root.Ino:
				desc += ":outside"
				outside++
				// Prove it: can we read the host's /etc through it?
				if h, err := unix.Openat(fd, "../../../../../../../../etc/hostname", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
					desc += ":host-etc-readable"
					unix.Close(h)
				}
			default:
				desc += ":inside"
			}
		}
		out(fmt.Sprintf("fd%d", fd), desc)
	}
	out("outside", outside)
	return 0
}

// ---- cwd ----

func cmdCwd(args []string) int {
	wd, err := unix.Getwd()
	if err != nil {
		out("getcwd", ename(err))
	} else {
		out("getcwd", wd)
	}
	l, err := os.Readlink("/proc/self/cwd")
	if err != nil {
		out("proc_cwd", ename(err))
	} else {
		out("proc_cwd", l)
	}
	var root, cwd unix.Stat_t
	unix.Stat("/", &root)
	unix.Stat(".", &cwd)
	d, i, err := topOf(unix.AT_FDCWD)
	_ = cwd
	out("cwd_inside", err == nil && d == root.Dev && i == root.Ino)
	return 0
}

// ---- kill-all ----

func cmdKillAll(args []string) int {
	err := unix.Kill(-1, unix.SIGKILL)
	out("kill_all", ename(err))
	return 0
}

// ---- proc-peek ----

func cmdProcPeek(args []string) int {
	base := "/proc"
	if len(args) > 0 && strings.HasPrefix(args[0], "/") {
		base, args = args[0], args[1:]
	}
	for _, p := range args {
		_, err := os.Stat(filepath.Join(base, p))
		out("pid"+p, ename(err))
		_, err = os.Readlink(filepath.Join(base, p, "root"))
		out("pid"+p+"_root", ename(err))
		_, err = os.ReadDir(filepath.Join(base, p, "root"))
		out("pid"+p+"_root_ls", ename(err))
		_, err = os.ReadDir(filepath.Join(base, p, "fd"))
		out("pid"+p+"_fd_ls", ename(err))
		_, err = os.ReadFile(filepath.Join(base, p, "environ"))
		out("pid"+p+"_environ", ename(err))
	}
	return 0
}

// ---- proc-exe-write ----

func cmdProcExeWrite(args []string) int {
	ents, _ := os.ReadDir("/proc")
	opened := 0
	var pids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		pids = append(pids, e.Name())
		p := "/proc/" + e.Name() + "/exe"
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		res := ename(err)
		if err == nil {
			opened++
			_, werr := unix.Write(fd, []byte("cove-escape"))
			res = "OPENED:write=" + ename(werr)
			unix.Close(fd)
		}
		// The runc exploit opens O_PATH first and reopens through the fd.
		pfd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err == nil {
			wfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				opened++
				_, werr := unix.Write(wfd, []byte("cove-escape"))
				res += ":reopen=OPENED:write=" + ename(werr)
				unix.Close(wfd)
			} else {
				res += ":reopen=" + ename(err)
			}
			unix.Close(pfd)
		} else {
			res += ":opath=" + ename(err)
		}
		link, lerr := os.Readlink(p)
		if lerr == nil {
			res += ":link=" + strings.ReplaceAll(link, " ", "_")
		} else {
			res += ":link=" + ename(lerr)
		}
		out("exe"+e.Name(), res)
	}
	out("pids", strings.Join(pids, ","))
	out("opened", opened)
	return 0
}

// ---- mounts (#10) ----

func cmdMounts(args []string) int {
	runtime.LockOSThread()
	out("remount_rw_usr", ename(unix.Mount("", "/usr", "", unix.MS_REMOUNT|unix.MS_BIND, "")))
	out("remount_rw_root", ename(unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND, "")))
	out("umount_usr", ename(unix.Unmount("/usr", 0)))
	out("umount_proc", ename(unix.Unmount("/proc", unix.MNT_DETACH)))
	os.MkdirAll("/tmp/cove-x", 0o755)
	out("bind_root", ename(unix.Mount("/", "/tmp/cove-x", "", unix.MS_BIND, "")))
	out("rbind_root", ename(unix.Mount("/", "/tmp/cove-x", "", unix.MS_BIND|unix.MS_REC, "")))
	// Would a writable copy of /usr be reachable through the rbind?
	err := os.WriteFile("/tmp/cove-x/usr/cove-escape", []byte("x"), 0o644)
	out("write_usr_via_bind", ename(err))
	err = os.WriteFile("/usr/cove-escape", []byte("x"), 0o644)
	out("write_usr", ename(err))
	return 0
}

// ---- caps, whoami ----

func statusFields(keys ...string) map[string]string {
	m := map[string]string{}
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				m[k] = strings.Join(strings.Fields(v), ",")
			}
		}
	}
	return m
}

var capKeys = []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters", "Uid", "Gid"}

func cmdCaps(args []string) int {
	m := statusFields(capKeys...)
	for _, k := range capKeys {
		out(k, m[k])
	}
	return 0
}

func cmdWhoami(args []string) int {
	out("uid", unix.Getuid())
	if m, err := os.ReadFile("/proc/self/uid_map"); err == nil {
		out("uid_map", strings.Join(strings.Fields(string(m)), ","))
	}
	out("euid", unix.Geteuid())
	out("gid", unix.Getgid())
	out("egid", unix.Getegid())
	m := statusFields("CapEff", "CapPrm", "NoNewPrivs")
	out("CapEff", m["CapEff"])
	out("CapPrm", m["CapPrm"])
	out("NoNewPrivs", m["NoNewPrivs"])
	return 0
}

// ---- nnp-clear (#22) ----

func cmdNNPClear(args []string) int {
	runtime.LockOSThread()
	out("nnp_clear", ename(unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0)))
	v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	out("nnp", fmt.Sprintf("%d:%s", v, ename(err)))
	// Stack an allow-everything filter with TSYNC, then retry blocked calls.
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	fp := unix.SockFprog{Len: 1, Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, ptr(&fp))
	out("seccomp_allow_all", ename(errOf(e)))
	out("after_keyctl", ename(syscalls["keyctl"](nil)))
	out("after_mount", ename(syscalls["mount"](nil)))
	out("after_bpf", ename(syscalls["bpf"](nil)))
	// Disabling seccomp is not possible: SECCOMP_MODE_DISABLED does not exist
	// as a "set" operation; prctl(PR_SET_SECCOMP, 0) is EINVAL.
	out("seccomp_disable", ename(unix.Prctl(unix.PR_SET_SECCOMP, 0, 0, 0, 0)))
	m := statusFields("Seccomp", "Seccomp_filters", "NoNewPrivs")
	out("Seccomp", m["Seccomp"])
	out("Seccomp_filters", m["Seccomp_filters"])
	out("NoNewPrivs", m["NoNewPrivs"])
	out("pdeathsig_clear", ename(unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)))
	return 0
}

// ---- chroot-escape (#23) ----

func cmdChrootEscape(args []string) int {
	runtime.LockOSThread()
	marker := "/.cove-escape-marker"
	if len(args) > 0 {
		marker = args[0]
	}
	_, err := os.Stat(marker)
	out("marker_before", ename(err))
	var before unix.Stat_t
	unix.Stat("/", &before)
	dir := "/tmp/cove-chroot"
	os.MkdirAll(dir, 0o755)
	if err := unix.Chdir("/tmp"); err != nil {
		out("chdir", ename(err))
	}
	err = unix.Chroot(dir)
	out("chroot", ename(err))
	if err != nil {
		return errnoOf(err)
	}
	for i := 0; i < 64; i++ {
		unix.Chdir("..")
	}
	err = unix.Chroot(".")
	out("chroot_dot", ename(err))
	_, err = os.Stat(marker)
	out("marker_after", ename(err))
	var after unix.Stat_t
	unix.Stat("/", &after)
	out("same_root", before.Dev == after.Dev && before.Ino == after.Ino)
	ents, _ := os.ReadDir("/")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	out("root_entries", strings.Join(names, ","))
	return 0
}

// ---- mount-proc (#28) ----

func cmdMountProc(args []string) int {
	runtime.LockOSThread()
	p := "/tmp/p"
	if len(args) > 0 {
		p = args[0]
	}
	os.MkdirAll(p, 0o755)
	err := unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	out("mount_proc", ename(err))
	if err != nil {
		return errnoOf(err)
	}
	ents, _ := os.ReadDir(p)
	var pids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, e.Name())
		}
	}
	out("pids", strings.Join(pids, ","))
	out("self_pid", os.Getpid())
	for _, q := range args[1:] {
		_, err := os.Stat(filepath.Join(p, q))
		out("pid"+q, ename(err))
	}
	return 0
}

// ---- cgroup-v1 (#12) ----

func cmdCgroupV1(args []string) int {
	runtime.LockOSThread()
	ok := false
	for _, c := range []string{"rdma", "memory", "pids", "cpu"} {
		d := "/tmp/cg-" + c
		os.MkdirAll(d, 0o755)
		err := unix.Mount("cgroup", d, "cgroup", 0, c)
		out("mount_"+c, ename(err))
		if err == nil {
			ok = true
			err = os.WriteFile(d+"/release_agent", []byte("/tmp/cove-escape-agent"), 0o644)
			out("release_agent_"+c, ename(err))
			err = os.WriteFile(d+"/notify_on_release", []byte("1"), 0o644)
			out("notify_on_release_"+c, ename(err))
		}
	}
	out("any_mounted", ok)
	return 0
}

// ---- overlay-suid (#13) ----

func cmdOverlaySuid(args []string) int {
	runtime.LockOSThread()
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: overlay-suid LOWERDIR FILE")
		return 2
	}
	lower, file := args[0], args[1]
	for _, d := range []string{"/tmp/ovl/u", "/tmp/ovl/w", "/tmp/ovl/m"} {
		os.MkdirAll(d, 0o755)
	}
	err := unix.Mount("overlay", "/tmp/ovl/m", "overlay", 0, "lowerdir="+lower+",upperdir=/tmp/ovl/u,workdir=/tmp/ovl/w")
	out("mount_overlay", ename(err))
	if err != nil {
		return errnoOf(err)
	}
	// Force a copy-up where possible (metadata change keeps the suid bit only
	// for a privileged owner; the attempt is what matters).
	out("chmod_copyup", ename(os.Chmod("/tmp/ovl/m/"+file, 0o4755)))
	p := "/tmp/ovl/m/" + file
	pid, err := syscall.ForkExec(p, []string{p, "whoami"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}, Env: os.Environ()})
	out("exec_suid", ename(err))
	if err == nil {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
	return 0
}

// ---- sockets (#24) ----

func cmdConnectAbstract(args []string) int {
	fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	err := unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + args[0]})
	out("connect_abstract", ename(err))
	return 0
}

func cmdConnectUnix(args []string) int {
	for _, p := range args {
		fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		err := unix.Connect(fd, &unix.SockaddrUnix{Name: p})
		out("connect:"+p, ename(err))
		unix.Close(fd)
	}
	return 0
}

// ---- propagation (#25, #26) ----

// write-and-wait FILE: write FILE, print ready, wait for stdin to close.
func cmdWriteAndWait(args []string) int {
	err := os.WriteFile(args[0], []byte("from-sandbox"), 0o644)
	out("write", ename(err))
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && len(args) > 1 && f[4] == args[1] {
			out("mounted", f[4])
		}
	}
	out("ready", 1)
	bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// wait-and-check PATH...: print ready, wait for a line on stdin, then tell
// whether each PATH exists.
func cmdWaitAndCheck(args []string) int {
	out("ready", 1)
	bufio.NewReader(os.Stdin).ReadString('\n')
	for i, p := range args {
		_, err := os.Stat(p)
		out(fmt.Sprintf("check%d", i), ename(err))
	}
	return 0
}

// ---- procfs (#27) ----

func cmdProcfs(args []string) int {
	w := func(k, p string) {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			out(k, "OPENED")
			return
		}
		out(k, ename(err))
	}
	w("w_core_pattern", "/proc/sys/kernel/core_pattern")
	w("w_hostname_sysctl", "/proc/sys/kernel/hostname")
	w("w_sysrq_trigger", "/proc/sysrq-trigger")
	w("w_sysrq", "/proc/sys/kernel/sysrq")
	w("w_modprobe", "/proc/sys/kernel/modprobe")
	w("w_sys_kernel_uevent_helper", "/sys/kernel/uevent_helper")
	w("w_sys_kernel_profiling", "/sys/kernel/profiling")
	r := func(k, p string) {
		f, err := os.Open(p)
		if err == nil {
			buf := make([]byte, 16)
			_, err = f.Read(buf)
			f.Close()
			if err == nil {
				out(k, "READ")
				return
			}
		}
		out(k, ename(err))
	}
	r("r_kcore", "/proc/kcore")
	r("r_kmem", "/dev/kmem")
	r("r_mem", "/dev/mem")
	_, err := os.Stat("/sys/firmware")
	out("sys_firmware", ename(err))
	_, err = os.Stat("/sys")
	out("sys", ename(err))
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		out("kallsyms", ename(err))
	} else {
		nonzero, total := 0, 0
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 {
				continue
			}
			total++
			if strings.Trim(f[0], "0") != "" {
				nonzero++
			}
		}
		out("kallsyms_total", total)
		out("kallsyms_nonzero", nonzero)
	}
	return 0
}

// ---- resources (#29) ----

// forkbomb MAX: fork children that pause until MAX or an error; report the
// count and the error, then kill them all.
func cmdForkbomb(args []string) int {
	max := argInt(args, 0, 10000)
	n := 0
	var ferr error
	var pids []int
	for n < max {
		pid, err := forkPause()
		if err != nil {
			ferr = err
			break
		}
		pids = append(pids, pid)
		n++
	}
	out("forked", n)
	out("fork_error", ename(ferr))
	for _, p := range pids {
		unix.Kill(p, unix.SIGKILL)
	}
	for range pids {
		var ws unix.WaitStatus
		unix.Wait4(-1, &ws, 0, nil)
	}
	return 0
}

// forkPause forks a child that only ever calls pause(2). The child is a raw
// copy of this process with one thread, so it must not run Go code that
// could allocate or reschedule: it loops on a raw system call.
//
//go:nosplit
//go:norace
func forkPause() (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r == 0 {
		for {
			// ppoll with no fds and no timeout: pause(2) on every architecture.
			syscall.RawSyscall6(unix.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
		}
	}
	return int(r), nil
}

func parseSize(s string) int64 {
	mul := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mul, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mul, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mul, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n * mul
}

// alloc SIZE: map SIZE bytes and touch them all.
func cmdAlloc(args []string) int {
	size := parseSize(args[0])
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	out("mmap", ename(err))
	if err != nil {
		return errnoOf(err)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	out("touched", len(b))
	return 0
}

// write-big PATH SIZE: write SIZE bytes to PATH, report how far it got.
func cmdWriteBig(args []string) int {
	signal.Ignore(unix.SIGXFSZ)
	size := parseSize(args[1])
	fd, err := unix.Open(args[0], unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		out("open", ename(err))
		return errnoOf(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 1<<20)
	var n int64
	for n < size {
		k, err := unix.Write(fd, buf)
		if k > 0 {
			n += int64(k)
		}
		if err != nil {
			out("write_error", ename(err))
			break
		}
	}
	out("written", n)
	unix.Ftruncate(fd, 0)
	return 0
}

// fill-dir DIR SIZE: write 1 MiB files into DIR until SIZE or an error.
func cmdFillDir(args []string) int {
	size := parseSize(args[1])
	buf := make([]byte, 1<<20)
	var n int64
	var ferr error
	for i := 0; n < size; i++ {
		fd, err := unix.Open(fmt.Sprintf("%s/fill-%d", args[0], i), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err != nil {
			ferr = err
			break
		}
		k, err := unix.Write(fd, buf)
		unix.Close(fd)
		if k > 0 {
			n += int64(k)
		}
		if err != nil {
			ferr = err
			break
		}
	}
	out("written", n)
	out("fill_error", ename(ferr))
	ents, _ := os.ReadDir(args[0])
	for _, e := range ents {
		os.Remove(filepath.Join(args[0], e.Name()))
	}
	return 0
}

// ---- lifetime (#30, #31, #22) ----

func cmdSleep(args []string) int {
	d, err := time.ParseDuration(args[0])
	if err != nil {
		d = time.Duration(argInt(args, 0, 1000)) * time.Second
	}
	if len(args) > 1 && args[1] == "ready" {
		out("ready", 1)
	}
	time.Sleep(d)
	out("slept", d)
	return 0
}

// linger TOKEN: clear our parent-death signal, start three children that
// detach (new session, ignore SIGHUP/SIGTERM, no parent-death signal) and
// carry TOKEN on their command line, print ready and sleep.
func cmdLinger(args []string) int {
	tok := args[0]
	if len(args) > 1 && args[1] == "child" {
		unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
		signal.Ignore(unix.SIGHUP, unix.SIGTERM, unix.SIGINT)
		time.Sleep(time.Hour)
		return 0
	}
	unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
	signal.Ignore(unix.SIGHUP, unix.SIGTERM, unix.SIGINT)
	self, _ := os.Executable()
	var pids []string
	for i := 0; i < 3; i++ {
		pid, err := syscall.ForkExec(self, []string{self, "linger", tok, "child"}, &syscall.ProcAttr{
			Sys: &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			out("fork", ename(err))
			continue
		}
		pids = append(pids, strconv.Itoa(pid))
	}
	out("children", strings.Join(pids, ","))
	out("ready", 1)
	time.Sleep(time.Hour)
	return 0
}

// ---- userns: run a subcommand in a nested user namespace ----

// userns [--ns mnt,pid,...] [--no-map] SUBCOMMAND ARG...: start this program
// in a new user namespace (plus the listed namespaces) as uid/gid 0 mapped
// to our ids, run SUBCOMMAND there and exit with its status. It uses clone(2)
// through syscall.ForkExec, which the filter can inspect.
func cmdUserns(args []string) int {
	flags := unix.CLONE_NEWUSER
	mapIDs := true
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		switch args[0] {
		case "--ns":
			flags |= nsFlags(args[1])
			args = args[2:]
		case "--no-map":
			mapIDs = false
			args = args[1:]
		default:
			args = args[1:]
		}
	}
	self, _ := os.Executable()
	sys := &syscall.SysProcAttr{Cloneflags: uintptr(flags)}
	if mapIDs {
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		sys.GidMappingsEnableSetgroups = false
	}
	pid, err := syscall.ForkExec(self, append([]string{self}, args...), &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2}, Env: os.Environ(), Sys: sys,
	})
	out("userns", ename(err))
	if err != nil {
		return errnoOf(err)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// statfs PATH...: the file system magic and size of each path (fsN=MAGIC
// or the errno, sizeN=BYTES) and whether it is a symlink (lnkN).
func cmdStatfs(args []string) int {
	for i, p := range args {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil {
			out(fmt.Sprintf("fs%d", i), ename(err))
		} else {
			out(fmt.Sprintf("fs%d", i), fmt.Sprintf("0x%x", st.Type))
			out(fmt.Sprintf("size%d", i), uint64(st.Blocks)*uint64(st.Bsize))
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			out(fmt.Sprintf("lnk%d", i), l)
		}
	}
	return 0
}
