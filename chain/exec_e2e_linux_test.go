package chain

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runExec runs `cove exec ARGS...` in the fixture.
func (fx *fixture) runExec(t *testing.T, args []string, o runOpts) result {
	t.Helper()
	return fx.run(t, fx.bin+":", append([]string{filepath.Join(fx.bin, "cove"), "exec"}, args...), o)
}

type execCase struct {
	name       string
	args       []string
	opts       runOpts
	wantCode   int
	wantOut    []string // substrings of stdout
	wantErr    string   // substring of stderr
	needStatic bool     // runs the test binary inside the chroot
}

func TestExecEndToEnd(t *testing.T) {
	fx := getFixture(t)
	nobody := runOpts{as: "65534:65534"}
	cases := []execCase{
		{name: "user by name gets db groups", args: []string{"--user", "cltest", "--", "sh", "-c", idScript},
			wantOut: []string{"uid=2001(cltest) gid=2001(cltest) groups=2001(cltest),2345(clgrp2)", "Uid:\t2001\t2001\t2001\t2001", "Groups:\t2001 2345"}},
		{name: "numeric user:group with --groups none", args: []string{"--user", "3000:3001", "--groups", "none", "sh", "-c", idScript + ` | tr -d ' \t'`},
			wantOut: []string{"Uid:3000300030003000", "Gid:3001300130013001", "Groups:\n"}},
		{name: "--groups list", args: []string{"--user", "cltest", "--groups", "users,clgrp2", "sh", "-c", idScript}, wantOut: []string{"Groups:\t100 2345"}},
		{name: "unknown user is a setup failure", args: []string{"--user", "nosuchuser", "id"}, wantCode: 125, wantErr: "cove exec: resolve user nosuchuser: no such user in /etc/passwd"},
		{name: "missing program is 127", args: []string{"/nonexistent"}, wantCode: 127, wantErr: "cove exec: exec /nonexistent: no such file or directory"},
		{name: "missing program in PATH is 127", args: []string{"nonexistent-prog"}, wantCode: 127},
		{name: "not executable is 126", args: []string{"./noexec.sh"}, wantCode: 126, wantErr: "permission denied"},
		{name: "bad usage is 125", args: []string{"--bogus", "true"}, wantCode: 125, wantErr: "unknown option --bogus"},
		{name: "help", args: []string{"--help"}, wantOut: []string{"usage: cove exec", "Exit status"}},
		{name: "status passes through", args: []string{"sh", "-c", "exit 9"}, wantCode: 9},
		{name: "rlimits soft and hard", args: []string{"--rlimit", "nofile=64", "--rlimit", "core=0:0", "--rlimit", "cpu=unlimited", "sh", "-c", limitsScript},
			wantOut: []string{"Max open files            64", "Max core file size        0                    0"}},
		{name: "rlimit above hard fails", args: []string{"--rlimit", "nofile=99999999", "true"}, wantCode: 125, wantErr: "above hard limit"},
		{name: "umask", args: []string{"--umask", "027", "sh", "-c", "umask"}, wantOut: []string{"0027"}},
		{name: "nice", args: []string{"--nice", "7", "sh", "-c", "cut -d' ' -f19 /proc/self/stat"}, wantOut: []string{"7\n"}},
		{name: "envdir and env", args: []string{"--envdir", "envd", "--env", "FOO=over", "--env", "X=1", "sh", "-c", `echo "[$FOO] [${REMOVEME-unset}] [${A-none}] [$X]"`},
			opts: runOpts{env: []string{"REMOVEME=1"}}, wantOut: []string{"[over] [unset] [none] [1]"}},
		{name: "PATH from the new environment", args: []string{"--env", "PATH=/nonexistent", "id"}, wantCode: 127},
		{name: "chdir is checked as the new user", args: []string{"--user", "cltest", "--chdir", "/root", "true"}, wantCode: 125, wantErr: "cove exec: chdir /root: permission denied"},
		{name: "chdir", args: []string{"--chdir", "/usr", "pwd"}, wantOut: []string{"/usr\n"}},
		{name: "no_new_privs", args: []string{"--no-new-privs", "grep", "NoNewPrivs", "/proc/self/status"}, wantOut: []string{"NoNewPrivs:\t1"}},
		{name: "cap-drop all as root", args: []string{"--cap-drop", "all", "grep", "-E", "^Cap(Eff|Bnd|Prm)", "/proc/self/status"},
			wantOut: []string{"CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"}},
		{name: "cap-ambient keeps a capability for a non-root user", args: []string{"--user", "cltest", "--cap-ambient", "net_bind_service", "grep", "-E", "^Cap(Eff|Bnd|Amb)", "/proc/self/status"},
			wantOut: []string{"CapEff:\t0000000000000400", "CapBnd:\t0000000000000400", "CapAmb:\t0000000000000400"}},
		{name: "securebits noroot", args: []string{"--securebits", "noroot,noroot-locked", "--user", "cltest", "sh", "-c", "id -u"}, wantOut: []string{"2001"}},
		{name: "lock busy with --lock-nowait", args: []string{"--lock", "lkx", "--lock-nowait", "true"}, wantCode: 125, wantErr: "cove exec: lock lkx: held by another process"},
		{name: "lock held by the command", args: []string{"--lock", "lky", "sh", "-c", "ls -l /proc/self/fd | grep -c /lky$"}, wantOut: []string{"1"}},
		{name: "setns needs a namespace file", args: []string{"--setns", "/etc/passwd", "true"}, wantCode: 125, wantErr: "not a namespace file"},
		{name: "unprivileged: changing user fails naming the step", args: []string{"--user", "cltest", "id"}, opts: nobody, wantCode: 125, wantErr: "cove exec: setgroups 2001,2345: operation not permitted"},
		{name: "unprivileged: own identity is a no-op", args: []string{"--user", "nobody", "--groups", "none", "id", "-u"}, opts: nobody, wantOut: []string{"65534"}},
		{name: "unprivileged: rlimits and umask", args: []string{"--rlimit", "nofile=20", "--umask", "077", "sh", "-c", "ulimit -n; umask"}, opts: nobody, wantOut: []string{"20\n0077"}},
		{name: "unprivileged: cannot add capabilities", args: []string{"--cap-add", "net_admin", "true"}, opts: nobody, wantCode: 125, wantErr: "cove exec: bounding set"},
		{name: "unprivileged: no_new_privs works", args: []string{"--no-new-privs", "grep", "NoNewPrivs", "/proc/self/status"}, opts: nobody, wantOut: []string{"NoNewPrivs:\t1"}},
		{name: "chroot resolves the user outside the jail (R14 works)", args: []string{"--user", "cltest", "--chroot", "./root", "/bin/hello"}, wantOut: []string{"cwd=/ uid=2001 gid=2001"}, needStatic: true},
		{name: "chroot into a missing directory", args: []string{"--chroot", "/nonexistent", "true"}, wantCode: 125, wantErr: "cove exec: chroot /nonexistent: no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needStatic && !fx.static {
				t.Skip("test binary is dynamically linked; cannot run it inside the test chroot")
			}
			if strings.Contains(c.name, "lock busy") {
				defer (&heldLock{file: "lkx"}).acquire(t, fx)()
			}
			r := fx.runExec(t, c.args, c.opts)
			if r.code != c.wantCode {
				t.Errorf("status %d, want %d\nstdout %q\nstderr %q", r.code, c.wantCode, r.stdout, r.stderr)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout %q lacks %q", r.stdout, w)
				}
			}
			if c.wantErr != "" && !strings.Contains(r.stderr, c.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, c.wantErr)
			}
		})
	}
}

// TestExecMatchesS6Setuidgid: `cove exec --user NAME` gives the same identity as s6-setuidgid NAME
// (the group database applied), observed with id and /proc/self/status.
func TestExecMatchesS6Setuidgid(t *testing.T) {
	fx := getFixture(t)
	for _, user := range []string{"cltest", "cltest2", "root"} {
		real := fx.runReal(t, []string{"s6-setuidgid", user, "sh", "-c", idScript}, runOpts{})
		cove := fx.runExec(t, []string{"--user", user, "sh", "-c", idScript}, runOpts{})
		if real.code != 0 || cove.code != 0 || real.stdout != cove.stdout {
			t.Errorf("%s: s6-setuidgid %d %q, cove exec %d %q %q", user, real.code, real.stdout, cove.code, cove.stdout, cove.stderr)
		}
	}
}

// TestExecSetns joins the UTS and mount namespaces of a helper process, and refuses its user
// namespace with a pointer to cove inject.
func TestExecSetns(t *testing.T) {
	fx := getFixture(t)
	marker := filepath.Join(fx.dir, "nsmarker")
	if err := os.MkdirAll(marker, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "hostname cove-setns-test && mount -t tmpfs cove-setns-tmpfs " + marker + " && echo ready && read x; exit 0"
	pid := startNamespaced(t, syscall.CLONE_NEWUTS|syscall.CLONE_NEWNS, script)
	r := fx.runExec(t, []string{"--setns", fmt.Sprintf("/proc/%d/ns/uts", pid), "--setns", fmt.Sprintf("/proc/%d/ns/mnt", pid),
		"sh", "-c", "hostname; grep -c cove-setns-tmpfs /proc/self/mountinfo; pwd"}, runOpts{})
	if r.code != 0 || r.stdout != "cove-setns-test\n1\n/\n" {
		t.Errorf("setns uts+mnt: status %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	userPid := startNamespaced(t, syscall.CLONE_NEWUSER, "echo ready; read x; exit 0")
	r = fx.runExec(t, []string{"--setns", fmt.Sprintf("/proc/%d/ns/user", userPid), "true"}, runOpts{})
	if r.code != 125 || !strings.Contains(r.stderr, "use cove inject") {
		t.Errorf("setns user: status %d stderr %q, want 125 and a pointer to cove inject", r.code, r.stderr)
	}
}

// startNamespaced runs script with sh in new namespaces and returns its pid once it printed
// "ready"; it is stopped at the end of the test.
func startNamespaced(t *testing.T, flags uintptr, script string) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	if flags&syscall.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}}
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot create namespaces for the test: %v", err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() { s, _ := bufio.NewReader(stdout).ReadString('\n'); ready <- s }()
	select {
	case s := <-ready:
		if strings.TrimSpace(s) != "ready" {
			t.Fatalf("namespaced helper said %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("namespaced helper did not start")
	}
	return cmd.Process.Pid
}

// TestInstallLinks creates the personality links, keeps them on a second run, and refuses to
// replace a foreign file without --force.
func TestInstallLinks(t *testing.T) {
	fx := getFixture(t)
	dir, err := os.MkdirTemp(fx.dir, "links-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "envdir"), []byte("foreign"), 0o755); err != nil {
		t.Fatal(err)
	}
	cove := filepath.Join(fx.bin, "cove")
	r := fx.run(t, "", []string{cove, "install-links", dir}, runOpts{})
	if r.code != 1 || !strings.Contains(r.stderr, "envdir exists and is not cove") {
		t.Errorf("first run: %d %q", r.code, r.stderr)
	}
	r = fx.run(t, "", []string{cove, "install-links", "--force", dir}, runOpts{})
	if r.code != 0 {
		t.Errorf("--force run: %d %q", r.code, r.stderr)
	}
	for _, n := range Names() {
		target, err := os.Readlink(filepath.Join(dir, n))
		if err != nil || filepath.Base(target) != "chain.test" {
			t.Errorf("%s -> %q, %v", n, target, err)
		}
	}
	// The links work: one of them, run by name, behaves as its tool.
	r = fx.run(t, dir+":", []string{filepath.Join(dir, "setuidgid")}, runOpts{})
	if r.code != 100 || r.stderr != "setuidgid: usage: setuidgid account child\n" {
		t.Errorf("link run: %d %q", r.code, r.stderr)
	}
	if r = fx.run(t, "", []string{cove, "install-links"}, runOpts{}); r.code != 125 {
		t.Errorf("no DIR: %d", r.code)
	}
}
