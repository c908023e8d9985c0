package escape

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/covebox/cove"
	"github.com/covebox/cove/spec"
)

// ---- #1-#3: terminal ioctls ----

// ptyRun runs the probe with a fresh pty (in raw mode) as stdin and as the
// controlling terminal of cove, as a shell would, and returns the probe's
// result and how many bytes are queued in the pty's input afterwards: any
// injected keystroke would be there, waiting for the "parent shell".
func ptyRun(t *testing.T, u runAs, coveArgs []string, probeArgs ...string) (*result, int) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	if !u.self {
		os.Chown(slave.Name(), u.uid, u.gid)
	}
	c := coveCmd(context.Background(), u, coveArgs, probeArgs...)
	var so, se bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = slave, &so, &se
	c.SysProcAttr.Setsid, c.SysProcAttr.Setctty, c.SysProcAttr.Ctty = true, true, 0
	done := make(chan error, 1)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- c.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		c.Process.Kill()
		t.Fatalf("cove under a pty did not finish; stderr %s", se.String())
	}
	r := &result{stdout: so.String(), stderr: se.String(), kv: parseKV(so.String())}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	n, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	return r, n
}

// hostTIOCSTIWorks checks the test's own detection: the probe, run directly
// on the host with the pty as its controlling terminal, can inject.
func hostTIOCSTIWorks(t *testing.T, name string) bool {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	term.MakeRaw(int(slave.Fd()))
	c := exec.Command(probe, "try-syscall", name)
	c.Stdin = slave
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	out, _ := c.Output()
	n, _ := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
	t.Logf("control on the host (no cove): %s queued=%d", strings.TrimSpace(string(out)), n)
	return n > 0
}

func tiocsti(t *testing.T, num int, name string) {
	if !hostTIOCSTIWorks(t, name) {
		note(num, "host refuses TIOCSTI itself (dev.tty.legacy_tiocsti=0?): injection not reproducible here")
	}
	forUsers(t, func(t *testing.T, u runAs) {
		// --tty never: the sandbox holds the caller's terminal itself, the
		// CVE-2017-5226 setting. Default (--tty auto): cove relays through
		// its own pty.
		for _, mode := range []string{"never", "auto"} {
			r, queued := ptyRun(t, u, []string{"--tty", mode}, "try-syscall", name)
			r.want(t, name, "EPERM")
			if queued != 0 {
				t.Errorf("--tty %s: %d bytes injected into the caller's terminal", mode, queued)
			}
		}
	})
}

func TestEscape01TIOCSTI(t *testing.T) {
	attack(t, 1, "TIOCSTI on the caller's pty")
	tiocsti(t, 1, "ioctl-tiocsti")
}

func TestEscape02TIOCSTIHighBits(t *testing.T) {
	attack(t, 2, "TIOCSTI with (0x123<<32)|TIOCSTI")
	tiocsti(t, 2, "ioctl-tiocsti-high")
}

func TestEscape03TIOCLINUX(t *testing.T) {
	attack(t, 3, "TIOCLINUX, TIOCSETD")
	var got []string
	forUsers(t, func(t *testing.T, u runAs) {
		for _, name := range []string{"ioctl-tioclinux", "ioctl-tiocsetd"} {
			r, _ := ptyRun(t, u, []string{"--tty", "never"}, "try-syscall", name)
			r.want(t, name, "EPERM")
			got = append(got, u.name+":"+name+"="+r.kv[name])
		}
	})
	if _, err := os.Stat("/dev/tty0"); err != nil {
		skip(t, 3, "needs a virtual console (/dev/tty0: %v); on a pty the filter answers %s (the kernel alone: ENOTTY)",
			err, strings.Join(got, " "))
	}
}

// ---- #4, #5: fds and cwd ----

func TestEscape04LeakedFds(t *testing.T) {
	attack(t, 4, "enumerate fds, openat(fd, \"..\")")
	hostDir, err := os.Open("/etc") // not close-on-exec in the child: ExtraFiles
	if err != nil {
		t.Fatal(err)
	}
	defer hostDir.Close()
	forUsers(t, func(t *testing.T, u runAs) {
		r := run(t, u, nil, "fds")
		r.want(t, "fds", "0,1,2", "outside", "0")
		// cove itself inherits a host directory fd 3 (as bwrap's callers
		// leaked one): it must not reach the program.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c := coveCmd(ctx, u, nil, "fds")
		c.ExtraFiles = []*os.File{hostDir}
		out, err := c.Output()
		if err != nil {
			t.Fatalf("cove with an inherited fd 3: %v (output %q)", err, out)
		}
		rr := &result{stdout: string(out), kv: parseKV(string(out))}
		rr.want(t, "fds", "0,1,2", "outside", "0")
		// Declared with --pass-fd it arrives, as fd 3 (the caller's choice).
		c = coveCmd(ctx, u, []string{"--pass-fd", "3"}, "fds")
		c.ExtraFiles = []*os.File{hostDir}
		out, err = c.Output()
		if err != nil {
			t.Fatalf("cove --pass-fd 3: %v", err)
		}
		rr = &result{stdout: string(out), kv: parseKV(string(out))}
		rr.want(t, "fds", "0,1,2,3")
	})
}

func TestEscape05Cwd(t *testing.T) {
	attack(t, 5, "getcwd, /proc/self/cwd, --chdir /proc/self/fd/3/..")
	forUsers(t, func(t *testing.T, u runAs) {
		r := run(t, u, nil, "cwd")
		r.want(t, "getcwd", u.home, "proc_cwd", u.home, "cwd_inside", "true")
		for _, dir := range []string{"/proc/self/fd/3/..", "/proc/self/cwd/../..", "../../.."} {
			r = run(t, u, []string{"--chdir", dir}, "cwd")
			if r.code == 0 && r.kv["cwd_inside"] != "true" {
				t.Errorf("--chdir %s: cwd outside the root: %s", dir, r.stdout)
			}
			if r.code != 125 {
				t.Errorf("--chdir %s: exit %d, want 125 (refused)", dir, r.code)
			}
		}
	})
}

// ---- #6-#8: processes ----

// hostSleeper starts `sleep 60` on the host as uid, the same host uid as
// the sandboxed program.
func hostSleeper(t *testing.T, uid int) *exec.Cmd {
	t.Helper()
	c := exec.Command("sleep", "60")
	if os.Getuid() == 0 {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c
}

func alive(c *exec.Cmd) bool {
	if c.ProcessState != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(st, ')')
	return i > 0 && st[i+2] != 'Z'
}

func TestEscape06KillAll(t *testing.T) {
	attack(t, 6, "kill(-1, SIGKILL)")
	forUsers(t, func(t *testing.T, u runAs) {
		s := hostSleeper(t, u.sandboxUID())
		r := run(t, u, nil, "kill-all")
		// Only cove's init and the probe live in the PID namespace; init is
		// exempt, so nothing is signalled.
		r.want(t, "kill_all", "ESRCH")
		time.Sleep(100 * time.Millisecond)
		if !alive(s) {
			t.Errorf("host process %d (uid %d) died", s.Process.Pid, u.sandboxUID())
		}
	})
}

func TestEscape07HostProc(t *testing.T) {
	attack(t, 7, "/proc/<host pid>/root, /fd")
	forUsers(t, func(t *testing.T, u runAs) {
		s := hostSleeper(t, u.sandboxUID())
		sp, me := strconv.Itoa(s.Process.Pid), strconv.Itoa(os.Getpid())
		// The sandbox's /proc shows its own PID namespace only.
		r := run(t, u, nil, "proc-peek", sp, me)
		for _, p := range []string{sp, me} {
			r.want(t, "pid"+p, "ENOENT", "pid"+p+"_root", "ENOENT", "pid"+p+"_fd_ls", "ENOENT")
		}
		// With the host's /proc bound in on purpose, host processes are
		// listed but their root, fds and environment stay closed, even for a
		// same-uid process: it is not in (or below) the sandbox's user
		// namespace, and the program has no capabilities.
		r = run(t, u, []string{"--ro-bind", "/proc", "/hostproc"}, "proc-peek", "/hostproc", sp, me)
		for _, p := range []string{sp, me} {
			r.want(t, "pid"+p, "OK", "pid"+p+"_root", "EACCES", "pid"+p+"_root_ls", "EACCES",
				"pid"+p+"_environ", "EACCES")
		}
		// Listing the fd numbers of a same-uid process is plain file
		// permission (mode 0500, owner = its uid); another uid's is refused.
		// Reading the links needs ptrace access and fails (pidN_root above).
		if strconv.Itoa(os.Getuid()) != strconv.Itoa(u.sandboxUID()) {
			r.want(t, "pid"+me+"_fd_ls", "EACCES")
		}
	})
}

func TestEscape08ProcExeOverwrite(t *testing.T) {
	attack(t, 8, "open /proc/PID/exe O_WRONLY (CVE-2019-5736)")
	before := hashFile(t, coveBin)
	probeBefore := hashFile(t, probe)
	forUsers(t, func(t *testing.T, u runAs) {
		variants := [][]string{nil, {"--map-root"}}
		if u.uid == 0 {
			variants = append(variants, []string{"--map-host-root"}, []string{"--map-host-root", "--seccomp", "none"})
		}
		for _, v := range variants {
			r := run(t, u, v, "proc-exe-write")
			r.want(t, "opened", "0")
			// pid 1 is cove's init: non-dumpable, its exe link unreadable.
			if got := r.get(t, "exe1"); !strings.HasPrefix(got, "EACCES:") {
				t.Errorf("%v: /proc/1/exe: %s, want EACCES", v, got)
			}
		}
	})
	if after := hashFile(t, coveBin); after != before {
		t.Errorf("cove binary changed: %s -> %s", before, after)
	}
	if after := hashFile(t, probe); after != probeBefore {
		t.Errorf("probe binary changed")
	}
}

// ---- #23: chroot ----

func TestEscape23Chroot(t *testing.T) {
	attack(t, 23, "chroot escape in a nested userns")
	if marker == "" {
		skip(t, 23, "needs root to plant a host-only marker at /")
	}
	forUsers(t, func(t *testing.T, u runAs) {
		run(t, u, nil, "chroot-escape", marker).want(t, "marker_before", "ENOENT", "chroot", "EPERM")
		run(t, u, nil, "userns", "--ns", "mnt", "chroot-escape", marker).want(t, "userns", "EPERM")
		r := run(t, u, []string{"--allow-userns"}, "userns", "--ns", "mnt", "chroot-escape", marker)
		r.want(t, "userns", "OK", "chroot", "EPERM")
		// With chroot allowed the classic escape works as far as the
		// sandbox's own root: the host root was detached after pivot_root.
		r = run(t, u, []string{"--allow-userns", "--seccomp-allow", "chroot"}, "userns", "--ns", "mnt", "chroot-escape", marker)
		r.want(t, "userns", "OK", "chroot", "OK", "chroot_dot", "OK", "marker_after", "ENOENT", "same_root", "true")
	})
}

// ---- #24: sockets ----

func TestEscape24Sockets(t *testing.T) {
	attack(t, 24, "host abstract socket, session bus, X11")
	name := fmt.Sprintf("cove-escape-%d", os.Getpid())
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	hostSock := filepath.Join(os.TempDir(), name+".sock")
	pl, err := net.Listen("unix", hostSock)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	os.Chmod(hostSock, 0o777)
	forUsers(t, func(t *testing.T, u runAs) {
		run(t, u, nil, "connect-abstract", name).want(t, "connect_abstract", "ECONNREFUSED")
		bus := fmt.Sprintf("/run/user/%d/bus", u.uid)
		r := run(t, u, nil, "connect-unix", bus, "/tmp/.X11-unix/X0", hostSock)
		r.want(t, "connect:"+bus, "ENOENT", "connect:/tmp/.X11-unix/X0", "ENOENT", "connect:"+hostSock, "ENOENT")
		// Shared on request: --net host shares the abstract namespace.
		run(t, u, []string{"--net", "host"}, "connect-abstract", name).want(t, "connect_abstract", "OK")
	})
}

// ---- #25, #26: mount propagation ----

// Policy: cove makes the sandbox's whole tree a slave (MS_REC|MS_SLAVE) and
// binds host directories with open_tree(OPEN_TREE_CLONE), which keeps that
// slave relation. So a mount the host makes under a *shared* host mount
// appears inside the sandbox (host -> sandbox), a mount under a private one
// does not, and nothing the sandbox mounts ever reaches the host
// (sandbox -> host never).

// sharedDir makes a host directory that is a shared mount point.
func sharedDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.Chmod(d, 0o777)
	os.Chmod(filepath.Dir(d), 0o755)
	if err := unix.Mount(d, d, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", d, err)
	}
	t.Cleanup(func() { unix.Unmount(d, unix.MNT_DETACH) })
	if err := unix.Mount("", d, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s shared: %v", d, err)
	}
	return d
}

func TestEscape25PropagationToHost(t *testing.T) {
	attack(t, 25, "sandbox mount under a bound host dir, seen from the host?")
	if os.Getuid() != 0 {
		skip(t, 25, "needs root to make a shared host mount")
	}
	forUsers(t, func(t *testing.T, u runAs) {
		for _, shared := range []bool{true, false} {
			var d string
			if shared {
				d = sharedDir(t)
			} else {
				d = t.TempDir()
				os.Chmod(d, 0o777)
			}
			os.Chmod(filepath.Dir(d), 0o755)
			before := mountsUnder(d)
			s := start(t, u, []string{"--bind", d, "/x", "--tmpfs", "/x/sub"}, "write-and-wait", "/x/sub/file", "/x/sub")
			if s.kv["write"] != "OK" || s.kv["mounted"] != "/x/sub" {
				t.Fatalf("shared=%v: sandbox side: %v", shared, s.kv)
			}
			after := mountsUnder(d)
			if len(after) != len(before) {
				t.Errorf("shared=%v: host mounts under %s changed: %v -> %v", shared, d, before, after)
			}
			if _, err := os.Stat(filepath.Join(d, "sub", "file")); err == nil {
				t.Errorf("shared=%v: the sandbox's tmpfs file is visible on the host", shared)
			}
			s.finish(t)
		}
	})
}

func TestEscape26PropagationFromHost(t *testing.T) {
	attack(t, 26, "host mount under a bound dir after start")
	if os.Getuid() != 0 {
		skip(t, 26, "needs root to mount on the host")
	}
	forUsers(t, func(t *testing.T, u runAs) {
		for _, shared := range []bool{true, false} {
			var d string
			if shared {
				d = sharedDir(t)
			} else {
				d = t.TempDir()
				os.Chmod(d, 0o777)
			}
			os.Chmod(filepath.Dir(d), 0o755)
			sub := filepath.Join(d, "sub")
			os.Mkdir(sub, 0o777)
			s := start(t, u, []string{"--bind", d, "/x"}, "wait-and-check", "/x/sub/marker")
			if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "mode=0777"); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(sub, "marker"), []byte("host"), 0o644)
			r := s.finish(t)
			unix.Unmount(sub, unix.MNT_DETACH)
			want := "ENOENT" // private: the sandbox keeps its snapshot
			if shared {
				want = "OK" // shared: the sandbox is a slave and receives it
			}
			if got := r.get(t, "check0"); got != want {
				t.Errorf("shared=%v: host mount seen in the sandbox: %s, want %s", shared, got, want)
			}
		}
	})
}

// ---- #27, #28: procfs ----

func TestEscape27Procfs(t *testing.T) {
	attack(t, 27, "/proc/sys, sysrq-trigger, /sys, kcore, kallsyms")
	forUsers(t, func(t *testing.T, u runAs) {
		r := run(t, u, nil, "procfs")
		for k, v := range r.kv {
			if v == "OPENED" || v == "READ" {
				t.Errorf("%s: %s", k, v)
			}
		}
		r.want(t, "w_core_pattern", "EACCES", "w_hostname_sysctl", "EACCES", "w_sysrq_trigger", "ENOENT",
			"r_kcore", "ENOENT", "sys", "ENOENT", "sys_firmware", "ENOENT", "kallsyms_nonzero", "0")
	})
}

func TestEscape28MountProc(t *testing.T) {
	attack(t, 28, "mount a fresh proc in a nested userns+pidns")
	forUsers(t, func(t *testing.T, u runAs) {
		me := strconv.Itoa(os.Getpid())
		args := []string{"userns", "--ns", "mnt,pid", "mount-proc", "/tmp/p", me}
		run(t, u, nil, args...).want(t, "userns", "EPERM")
		run(t, u, []string{"--allow-userns"}, args...).want(t, "userns", "OK", "mount_proc", "EPERM")
		// Mounts allowed: cove's /proc is a whole, unmasked procfs of its own
		// PID namespace, so the kernel lets a nested one be mounted; it
		// shows the nested namespace only.
		r := run(t, u, []string{"--allow-userns", "--seccomp-allow", "@mount"}, args...)
		r.want(t, "userns", "OK", "mount_proc", "OK", "pids", "1", "pid"+me, "ENOENT")
	})
}

// ---- #29: resources ----

func TestEscape29Resources(t *testing.T) {
	attack(t, 29, "fork bomb, 10 GiB allocation, full tmpfs, 10 GiB file")
	forUsers(t, func(t *testing.T, u runAs) {
		t.Run("nproc", func(t *testing.T) {
			r := run(t, u, []string{"--rlimit", "nproc=64"}, "forkbomb", "100000")
			r.want(t, "fork_error", "EAGAIN")
			if n, _ := strconv.Atoi(r.get(t, "forked")); n >= 64 {
				t.Errorf("forked %d processes under nproc=64", n)
			}
		})
		t.Run("as", func(t *testing.T) {
			run(t, u, []string{"--rlimit", "as=1073741824"}, "alloc", "10G").want(t, "mmap", "ENOMEM")
		})
		t.Run("fsize", func(t *testing.T) {
			r := run(t, u, []string{"--rlimit", "fsize=1048576"}, "write-big", "/tmp/big", "10G")
			r.want(t, "write_error", "EFBIG", "written", "1048576")
		})
		t.Run("tmpfs-size", func(t *testing.T) {
			fs := spec.Default().Filesystem
			for i := range fs {
				if fs[i].Dst == "/tmp" {
					fs[i].Size = 16 << 20
				}
			}
			b, _ := json.Marshal(map[string]any{"filesystem": fs})
			prof := filepath.Join(t.TempDir(), "small-tmp.json")
			os.WriteFile(prof, b, 0o644)
			os.Chmod(filepath.Dir(prof), 0o755)
			if r := run(t, u, []string{"--profile", prof}, "statfs", "/tmp"); r.kv["size0"] != strconv.Itoa(16<<20) {
				reason := fmt.Sprintf("cove did not apply the profile's tmpfs size=16777216 to /tmp (statfs size %q, exit %d, %s): filling it would take half the host's RAM",
					r.kv["size0"], r.code, strings.TrimSpace(r.stderr))
				if u.uid == 0 || u.self {
					note(29, "tmpfs-size part skipped: %s", reason)
				}
				t.Skip(reason)
			}
			r := run(t, u, []string{"--profile", prof}, "fill-dir", "/tmp", "10G")
			r.want(t, "fill_error", "ENOSPC")
			if n, _ := strconv.ParseInt(r.get(t, "written"), 10, 64); n > 16<<20 {
				t.Errorf("wrote %d bytes into a 16 MiB tmpfs", n)
			}
		})
		t.Run("tmpfs-default", func(t *testing.T) {
			// Informational: the default /tmp and $HOME have no size= and get
			// the kernel's default, half of the host's RAM each.
			r := run(t, u, nil, "statfs", "/tmp", u.home, "/dev/shm")
			t.Logf("default tmpfs sizes: /tmp %s, %s %s, /dev/shm %s", r.kv["size0"], u.home, r.kv["size1"], r.kv["size2"])
			if u.uid == 0 {
				note(29, "default /tmp, $HOME, /dev/shm tmpfs unbounded (%s bytes each: half of RAM)", r.kv["size0"])
			}
		})
		t.Run("cgroup", func(t *testing.T) {
			help, _ := exec.Command(coveBin, "run", "--help").CombinedOutput()
			_, v2err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
			if v2err != nil || !bytes.Contains(help, []byte("--memory")) {
				reason := "cgroup parts (pids, memory controllers) not testable: "
				if v2err != nil {
					reason += "no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup.controllers absent); "
				}
				if !bytes.Contains(help, []byte("--memory")) {
					reason += "cove run has no cgroup limit options yet"
				}
				if u.uid == 0 || u.self {
					note(29, "%s", reason)
				}
				t.Skip(reason)
			}
		})
	})
	// The host can still fork.
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("host fork after the sandboxes: %v", err)
	}
}

// ---- #30, #31: lifetime ----

func TestEscape30Timeout(t *testing.T) {
	attack(t, 30, "sleep 1000 with --timeout 1s")
	forUsers(t, func(t *testing.T, u runAs) {
		t0 := time.Now()
		r := run(t, u, []string{"--timeout", "1s"}, "sleep", "1000s")
		el := time.Since(t0)
		if r.code != 137 {
			t.Errorf("exit %d, want 137; stderr %s", r.code, r.stderr)
		}
		if el > 5*time.Second || el < time.Second {
			t.Errorf("took %v", el)
		}
		if _, ok := r.kv["slept"]; ok {
			t.Errorf("the program finished its sleep")
		}
	})
}

// ---- #32: the library from a goroutine ----

func TestEscape32GoroutineExit(t *testing.T) {
	attack(t, 32, "library Start from a goroutine that exits")
	newCmd := func() (*cove.Cmd, *bytes.Buffer) {
		s := spec.Default()
		s.Filesystem = append(s.Filesystem, spec.Mount{Type: spec.ROBind, Src: binDir, Dst: binDir})
		c := cove.Command(s, probe, "sleep", "1500ms")
		var out bytes.Buffer
		c.Stdout = &out
		return c, &out
	}
	// An ordinary goroutine: it ends, its thread lives on in the runtime's
	// pool; the sandbox must run to completion.
	c, out := newCmd()
	errc := make(chan error, 1)
	go func() { errc <- c.Start() }()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := c.Wait(); err != nil || !strings.Contains(out.String(), "slept=1.5s") {
		t.Errorf("unlocked goroutine: Wait %v, output %q", err, out.String())
	}
	// A goroutine locked to its thread that returns without unlocking: Go
	// ends that thread. PR_SET_PDEATHSIG is per thread, so a launcher that
	// relies on it kills the sandbox here.
	c, out = newCmd()
	go func() {
		runtime.LockOSThread()
		errc <- c.Start()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	err := c.Wait()
	if err != nil || !strings.Contains(out.String(), "slept=1.5s") {
		t.Errorf("locked goroutine that exited: sandbox killed: Wait %v, output %q", err, out.String())
	}
}

// ---- #33: symlinks in the mount plan ----

// treeState records what #33 must leave untouched on the host.
func treeState(paths ...string) string {
	var b strings.Builder
	for _, root := range paths {
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				fmt.Fprintf(&b, "%s err\n", p)
				return nil
			}
			l, _ := os.Readlink(p)
			fmt.Fprintf(&b, "%s %v %d %s\n", p, fi.Mode(), fi.Size(), l)
			if fi.IsDir() && p != root && strings.HasPrefix(root, "/etc") {
				return filepath.SkipDir
			}
			return nil
		})
	}
	return b.String()
}

func TestEscape33SymlinkTargets(t *testing.T) {
	attack(t, 33, "symlinks in mount targets (/proc -> /, data -> /etc, a/../../../etc, dangling)")
	d := t.TempDir()
	os.Chmod(d, 0o755)
	os.Chmod(filepath.Dir(d), 0o755)
	dangling := fmt.Sprintf("/cove-escape-dangling-%d", os.Getpid())
	os.Mkdir(filepath.Join(d, "a"), 0o755)
	for name, target := range map[string]string{
		"proc": "/", "data": "/etc", "esc": "a/../../../etc", "dangling": dangling + "/zzz",
		"devnull": "/proc/self/attr/current", "escdir": "a/../../..",
	} {
		if err := os.Symlink(target, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	evil := "cove-escape-evil"
	state := func() string {
		return treeState(d, "/etc") + strings.Join(mountsUnder("/etc"), ",") + strings.Join(mountsUnder(d), ",")
	}
	before := state()
	checkHost := func(t *testing.T, what string) {
		t.Helper()
		if after := state(); after != before {
			t.Errorf("%s: host tree changed", what)
		}
		for _, p := range []string{dangling, "/etc/" + evil, "/" + evil, "/etc/sub"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s: %s was created on the host", what, p)
				os.RemoveAll(p)
			}
		}
	}
	const tmpfsMagic = "0x1021994"
	forUsers(t, func(t *testing.T, u runAs) {
		variants := [][]string{nil}
		if u.uid == 0 {
			// The riskiest setup: host root mapped in, so a path resolved on the
			// host would be writable by the setup code.
			variants = append(variants, []string{"--map-host-root"})
		}
		for _, v := range variants {
			cases := []struct {
				args  []string
				check []string // paths to statfs inside
				want  []string // wanted fs magic of each ("" = don't care)
			}{
				// data -> /etc: the tmpfs lands on the sandbox's /etc.
				{[]string{"--tmpfs", "/x/data"}, []string{"/x/data", "/etc"}, []string{tmpfsMagic, tmpfsMagic}},
				{[]string{"--tmpfs", "/x/esc"}, []string{"/etc"}, []string{tmpfsMagic}},
				{[]string{"--tmpfs", "/x/data/sub"}, []string{"/etc/sub"}, []string{tmpfsMagic}},
				{[]string{"--tmpfs", "/x/proc/tmp2"}, []string{"/tmp2"}, []string{tmpfsMagic}},
				{[]string{"--tmpfs", "/x/escdir/tmp3"}, []string{"/tmp3"}, []string{tmpfsMagic}},
				// dangling -> /cove-escape-dangling-N/zzz: created inside.
				{[]string{"--tmpfs", "/x/dangling"}, []string{dangling + "/zzz"}, []string{tmpfsMagic}},
				{[]string{"--dir", "/x/dangling/sub"}, []string{dangling + "/zzz/sub"}, []string{""}},
				{[]string{"--ro-bind", "/dev/null", "/x/devnull"}, nil, nil},
				{[]string{"--symlink", "x", "/x/data/" + evil}, nil, nil},
				{[]string{"--symlink", "x", "/x/proc/" + evil}, []string{"/" + evil}, []string{""}},
				{[]string{"--dir", "/x/esc/" + evil}, nil, nil},
			}
			for _, c := range cases {
				args := append(append(append([]string{}, v...), "--bind", d, "/x"), c.args...)
				r := run(t, u, args, append([]string{"statfs"}, c.check...)...)
				what := fmt.Sprintf("%v", args)
				t.Logf("%s: exit %d %s %s", what, r.code, strings.ReplaceAll(strings.TrimSpace(r.stdout), "\n", " "), strings.TrimSpace(r.stderr))
				if r.code != 0 && r.code != 125 {
					t.Errorf("%s: exit %d", what, r.code)
				}
				if r.code == 0 {
					for i, w := range c.want {
						if w != "" && r.kv[fmt.Sprintf("fs%d", i)] != w {
							t.Errorf("%s: %s inside has fs %s, want %s (the mount went elsewhere)", what, c.check[i], r.kv[fmt.Sprintf("fs%d", i)], w)
						}
					}
				}
				checkHost(t, what)
			}
		}
	})
}
