package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// miniRootfs builds, once per test run, a small root filesystem from the
// host's own binaries and their libraries (no network needed), owned by the
// mode's user so that an unprivileged container root can write to it.
var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
)

func miniRootfs(t *testing.T, md *mode) string {
	t.Helper()
	rootfsOnce.Do(func() {
		dir, err := worldTempDir("cove-e2e-rootfs-")
		if err != nil {
			rootfsErr = err
			return
		}
		rootfsDir = dir
		for _, d := range []string{"bin", "etc", "proc", "dev", "sys", "tmp", "root"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				rootfsErr = err
				return
			}
		}
		for _, b := range []string{"dash", "ls", "id", "cat", "hostname", "sleep", "wc", "env", "stat", "readlink"} {
			p, err := exec.LookPath(b)
			if err != nil {
				rootfsErr = err
				return
			}
			if err := copyWithLibs(p, dir); err != nil {
				rootfsErr = err
				return
			}
		}
		os.Symlink("dash", filepath.Join(dir, "bin", "sh"))
		os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "etc", "group"), []byte("root:x:0:\n"), 0o644)
	})
	if rootfsErr != nil {
		t.Fatalf("build the test rootfs: %v", rootfsErr)
	}
	// A per-mode copy owned by the mode's user.
	own := filepath.Join(filepath.Dir(rootfsDir), filepath.Base(rootfsDir)+"-"+md.name)
	if _, err := os.Stat(own); err != nil {
		if out, err := exec.Command("cp", "-a", rootfsDir, own).CombinedOutput(); err != nil {
			t.Fatalf("copy rootfs: %v %s", err, out)
		}
		if md.root || os.Geteuid() == 0 {
			if out, err := exec.Command("chown", "-R", strings.Join([]string{strconv.Itoa(md.uid), strconv.Itoa(md.gid)}, ":"), own).CombinedOutput(); err != nil {
				t.Fatalf("chown rootfs: %v %s", err, out)
			}
		}
	}
	return own
}

// noSurvivor fails the test if, shortly after a container ended, a process
// with the command line cmd (a background process it started) still runs.
func noSurvivor(t *testing.T, cmd string) {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	if procs := findProcs(func(pid int) bool { return cmdline(pid) == cmd }); len(procs) > 0 {
		t.Fatalf("background process survived the container: %s", describeProcs(procs))
	}
}

// rootAndUser returns the root and the unprivileged mode, for tests of one
// user's access to another's containers; it skips unless both run.
func rootAndUser(t *testing.T) (rootMode, userMode *mode) {
	t.Helper()
	for _, md := range modes {
		switch {
		case md.skip != "":
		case md.name == "root":
			rootMode = md
		case md.name == "user":
			userMode = md
		}
	}
	if rootMode == nil || userMode == nil {
		t.Skip("needs both the root and the unprivileged mode")
	}
	return rootMode, userMode
}

// removeRootfs removes the test rootfs and its per-mode copies (TestMain).
func removeRootfs() {
	if rootfsDir == "" {
		return
	}
	copies, _ := filepath.Glob(rootfsDir + "-*")
	for _, d := range append(copies, rootfsDir) {
		os.RemoveAll(d)
	}
}

// copyWithLibs copies an executable and the shared libraries ldd lists into
// root, at the same paths.
func copyWithLibs(bin, root string) error {
	files := []string{bin}
	out, _ := exec.Command("ldd", bin).Output()
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files = append(files, f)
		}
	}
	for i, f := range files {
		dst := filepath.Join(root, f)
		if i == 0 {
			dst = filepath.Join(root, "bin", filepath.Base(f))
		}
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("cp", "-L", f, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("cp %s: %v: %s", f, err, out)
		}
	}
	return nil
}

func TestContain(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		rfs := miniRootfs(t, md)
		script := `id -u; id -g; cat /proc/self/uid_map; cat /proc/self/setgroups; hostname; env; ls /dev | wc -l; cat /proc/1/comm; sleep 300 & exit 7`
		r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--hostname", "box", rfs, "/bin/sh", "-c", script)
		if r.code != 7 {
			t.Fatalf("exit: %v", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if lines[0] != "0" || lines[1] != "0" {
			t.Fatalf("want root inside: %v", r)
		}
		for _, l := range lines {
			if f := strings.Fields(l); len(f) == 3 && f[0] != "" && f[1] == "0" {
				t.Fatalf("host root mapped: %q", l)
			}
		}
		out := r.stdout
		for _, want := range []string{"\nbox\n", "container=cove\n", "\ncove-init\n"} {
			if !strings.Contains(out, want) {
				t.Fatalf("missing %q in\n%s", want, out)
			}
		}
		if strings.Contains(out, "HOME=") || strings.Contains(out, "PATH=") {
			t.Fatalf("environment not reset to container=cove:\n%s", out)
		}
		noSurvivor(t, "sleep 300")
	})
}

func TestContainStatusAndErrors(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		rfs := miniRootfs(t, md)
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, rfs, "/bin/sh", "-c", "kill -9 $$"); r.code != 137 {
			t.Fatalf("killed: %v", r)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, rfs, "no-such-cmd"); r.code != 127 || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("missing command: %v", r)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, "/no/such/rootfs"); r.code != 125 || !strings.Contains(r.stderr, "/no/such/rootfs") {
			t.Fatalf("missing rootfs: %v", r)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--bogus", rfs); r.code != 125 {
			t.Fatalf("unknown option: %v", r)
		}
		// --net host shares the host's interfaces (and has no /sys).
		r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--net", "host", rfs, "/bin/sh", "-c", "cat /proc/net/dev | wc -l; ls /sys | wc -l")
		host, _ := os.ReadFile("/proc/net/dev")
		if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 2 || f[0] != strconv.Itoa(strings.Count(string(host), "\n")) || f[1] != "0" {
			t.Fatalf("--net host: %v (host /proc/net/dev has %d lines)", r, strings.Count(string(host), "\n"))
		}
	})
}

// TestContainConsole: with a terminal, the container's init gets a console
// pty relayed by cove (/dev/console, a controlling terminal); with
// --no-console it gets cove's stdio as it is.
func TestContainConsole(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		rfs := miniRootfs(t, md)
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		defer ptmx.Close()
		defer tty.Close()
		if md.cred != nil {
			os.Chown(tty.Name(), md.uid, md.gid)
		}
		r := startCove(t, md, runOpts{sub: "contain", tty: tty, env: []string{"TERM=xterm-test"}}, false, rfs, "/bin/sh", "-c", "stat -L -c 'console=%t' /dev/console; stat -L -c 'stdin=%t' /proc/self/fd/0; echo TERM=$TERM")
		tty.Close()
		var buf strings.Builder
		done := make(chan struct{})
		go func() {
			b := make([]byte, 4096)
			for {
				n, err := ptmx.Read(b)
				buf.Write(b[:n])
				if err != nil {
					close(done)
					return
				}
			}
		}()
		res := r.wait()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		// /dev/console and the program's stdin are pty slaves (major
		// 136..143, hex 88..8f), and TERM was kept for the console.
		out := strings.ReplaceAll(buf.String(), "\r", "")
		if res.code != 0 || !strings.Contains(out, "console=8") || !strings.Contains(out, "stdin=8") || !strings.Contains(out, "TERM=xterm-test") {
			t.Fatalf("console run: %v\noutput: %q", res, out)
		}
		// Without a console, stdout is the pipe cove was given.
		r2 := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", rfs, "/bin/sh", "-c", "stat -L -c %F /proc/self/fd/1")
		if r2.code != 0 || strings.TrimSpace(r2.stdout) != "fifo" {
			t.Fatalf("--no-console: %v", r2)
		}
	})
}

// startContainer starts `cove contain ROOTFS /bin/sh -c 'sleep N'` for md and
// returns the host pid of the container's program, and a stop function.
func startContainer(t *testing.T, md *mode, rfs string, extra ...string) (int, func()) {
	t.Helper()
	mark := strconv.Itoa(300 + int(time.Now().UnixNano()%600))
	args := append(append([]string{"--no-console"}, extra...), rfs, "/bin/sleep", mark)
	r := startCove(t, md, runOpts{sub: "contain"}, false, args...)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if p := findProcs(func(pid int) bool { return cmdline(pid) == "/bin/sleep "+mark }); len(p) == 1 {
			return p[0], func() {
				r.cmd.Process.Signal(syscall.SIGTERM)
				r.wait()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.cmd.Process.Kill()
	r.wait()
	t.Fatalf("the container's program did not start")
	return 0, nil
}

func TestInject(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		rfs := miniRootfs(t, md)
		pid, stop := startContainer(t, md, rfs, "--hostname", "inner")
		defer stop()
		ns := func(p int, name string) string {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", p, name))
			return l
		}
		r := runCoveOpts(t, md, runOpts{sub: "inject"}, strconv.Itoa(pid), "/bin/sh", "-c",
			`hostname; id -u; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; ls /; exit 4`)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 4 || len(lines) < 5 || lines[0] != "inner" || lines[1] != "0" {
			t.Fatalf("inject: %v", r)
		}
		if lines[2] != ns(pid, "pid") || lines[3] != ns(pid, "mnt") {
			t.Fatalf("inject is in %s and %s, the container in %s and %s", lines[2], lines[3], ns(pid, "pid"), ns(pid, "mnt"))
		}
		if !strings.Contains(r.stdout, "\nbin\n") || strings.Contains(r.stdout, "\nhome\n") {
			t.Fatalf("inject does not see the container's root: %v", r)
		}

		// The cove inject process runs from a sealed memfd, which cannot be
		// opened for writing.
		run := startCove(t, md, runOpts{sub: "inject"}, false, strconv.Itoa(pid), "/bin/sleep", "2")
		time.Sleep(300 * time.Millisecond)
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", run.cmd.Process.Pid))
		if err != nil || !strings.HasPrefix(exe, "/memfd:") {
			t.Errorf("cove inject's /proc/PID/exe = %q (%v), want a memfd", exe, err)
		}
		if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", run.cmd.Process.Pid), os.O_WRONLY, 0); err == nil {
			f.Close()
			t.Errorf("cove inject's sealed binary opened for writing")
		}
		if res := run.wait(); res.code != 0 {
			t.Fatalf("inject sleep: %v", res)
		}

		if r := runCoveOpts(t, md, runOpts{sub: "inject"}, "999999999"); r.code != 125 {
			t.Fatalf("missing process: %v", r)
		}
	})
}

// TestInjectRefusesOtherUsers: the unprivileged user cannot inject into
// root's container.
func TestInjectRefusesOtherUsers(t *testing.T) {
	rootMode, userMode := rootAndUser(t)
	rfs := miniRootfs(t, rootMode)
	pid, stop := startContainer(t, rootMode, rfs)
	defer stop()
	r := runCoveOpts(t, userMode, runOpts{sub: "inject"}, strconv.Itoa(pid), "/bin/true")
	if r.code != 125 || !strings.Contains(r.stderr, "does not belong to you") {
		t.Fatalf("inject into another user's container: %v", r)
	}
}

func TestContainHooks(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		rfs := miniRootfs(t, md)
		data, err := worldTempDir("cove-e2e-hookdata-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(data)
		os.WriteFile(filepath.Join(data, "f"), []byte("from the host\n"), 0o644)
		os.MkdirAll(filepath.Join(rfs, "data"), 0o755)
		pidFile := filepath.Join(data, "pid")
		if md.cred != nil {
			os.Chown(data, md.uid, md.gid)
		}
		r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console",
			"--hook-inside", "mount --bind "+data+" ./data",
			"--hook-outside", "echo $COVE_PID > "+pidFile,
			rfs, "/bin/sh", "-c", "cat /data/f; cat /proc/1/comm")
		if r.code != 0 || r.stdout != "from the host\ncove-init\n" {
			t.Fatalf("hooks: %v", r)
		}
		if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) == "" {
			t.Fatalf("outside hook did not see COVE_PID: %q %v", b, err)
		}
		for _, bad := range [][]string{{"--hook-inside", "exit 3"}, {"--hook-outside", "false"}} {
			r := runCoveOpts(t, md, runOpts{sub: "contain"}, append(append([]string{"--no-console"}, bad...), rfs, "/bin/true")...)
			if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "hook") {
				t.Fatalf("failing %s: %v", bad[0], r)
			}
		}
	})
}

func TestContainExplicitMaps(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		rfs := miniRootfs(t, md)
		if md.root {
			r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--uid-map", "0:0:1", "--gid-map", "0:0:1", rfs, "/bin/true")
			if r.code != 125 || !strings.Contains(r.stderr, "--uid-map") || !strings.Contains(r.stderr, "host root") {
				t.Fatalf("mapping host root: %v", r)
			}
			r = runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--uid-map", "0:200000:10", "--gid-map", "0:200000:10", rfs, "/bin/cat", "/proc/self/uid_map")
			if f := strings.Fields(r.stdout); r.code != 0 || strings.Join(f, " ") != "0 200000 10" {
				t.Fatalf("root's explicit map: %v", r)
			}
			return
		}
		own := strconv.Itoa(md.uid)
		r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--uid-map", "0:"+own+":1,1:7:1", "--gid-map", "0:"+strconv.Itoa(md.gid)+":1", rfs, "/bin/true")
		if r.code != 125 || !strings.Contains(r.stderr, "not delegated to you") {
			t.Fatalf("undelegated map: %v", r)
		}
		r = runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--uid-map", "0:"+own+":1", "--gid-map", "0:"+strconv.Itoa(md.gid)+":1", rfs, "/bin/cat", "/proc/self/uid_map")
		if f := strings.Fields(r.stdout); r.code != 0 || strings.Join(f, " ") != "0 "+own+" 1" {
			t.Fatalf("own-id map: %v", r)
		}
	})
}
