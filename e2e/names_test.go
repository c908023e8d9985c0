package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covebox/cove/e2e/rootfs"
)

// Named containers: cove contain --name and cove run --name register a
// running sandbox, cove ps lists it, cove inject NAME enters it, and the
// name is gone when the sandbox ends. Root uses its default registry
// (/run/cove); the unprivileged users get an XDG_RUNTIME_DIR of their own.

// registryEnv is where md's registry lives for a test, and the environment that
// makes cove use it.
type registryEnv struct {
	dir string   // the registry directory (BASE/cove)
	env []string // extra environment for cove
}

// registryFor returns the registry for md: root's default /run/cove, or a
// fresh private XDG_RUNTIME_DIR for other users.
func registryFor(t *testing.T, md *mode) registryEnv {
	t.Helper()
	if md.root {
		return registryEnv{dir: "/run/cove"}
	}
	d := privateRuntimeDir(t, md)
	return registryEnv{dir: filepath.Join(d, "cove"), env: []string{"XDG_RUNTIME_DIR=" + d}}
}

// privateRuntimeDir returns a new directory of md's with mode 0700.
func privateRuntimeDir(t *testing.T, md *mode) string {
	t.Helper()
	top, err := worldTempDir("cove-e2e-xdg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	d := filepath.Join(top, "run")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if md.cred != nil {
		if err := os.Chown(d, md.uid, md.gid); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// psEntry is one element of cove ps --json.
type psEntry struct {
	Name          string `json:"name"`
	PID           int    `json:"pid"`
	InitPID       int    `json:"init_pid"`
	SupervisorPID int    `json:"supervisor_pid"`
	Rootfs        string `json:"rootfs"`
	Profile       string `json:"profile"`
	UID           int    `json:"uid"`
	User          string `json:"user"`
	UptimeSeconds int64  `json:"uptime_seconds"`
}

func psJSON(t *testing.T, md *mode, reg registryEnv) []psEntry {
	t.Helper()
	r := runCoveOpts(t, md, runOpts{sub: "ps", env: reg.env}, "--json")
	var list []psEntry
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || list == nil {
		t.Fatalf("cove ps --json: want a JSON array: %v", r)
	}
	return list
}

func psFind(list []psEntry, name string) *psEntry {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// startNamed is startCove for a test that may fail while the sandbox
// runs: the sandbox is killed (with its cove) when the test ends, unless
// the test waited for it.
func startNamed(t *testing.T, md *mode, o runOpts, pipeStdout bool, args ...string) *running {
	t.Helper()
	r := startCove(t, md, o, pipeStdout, args...)
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
			r.cancel()
		}
	})
	return r
}

// waitListed polls cove ps --json until name is listed.
func waitListed(t *testing.T, md *mode, reg registryEnv, name string) psEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if e := psFind(psJSON(t, md, reg), name); e != nil {
			return *e
		}
		if time.Now().After(deadline) {
			t.Fatalf("cove ps never listed %s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// programPid waits for the one process whose command line is cmd.
func waitProgram(t *testing.T, cmd string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := findProcs(func(pid int) bool { return cmdline(pid) == cmd }); len(p) == 1 {
			return p[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single process %q", cmd)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until pid no longer exists (reaped by whoever adopted it).
func waitProcGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for procState(pid) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists: %s", pid, describeProcs([]int{pid}))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func userNameOf(t *testing.T, uid int) string {
	t.Helper()
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func newContainerName() string { return "n" + randHex()[:10] }

// sleepMark is a sleep duration that tells one test's program apart.
func sleepMark() string { return strconv.Itoa(10000 + rand.IntN(80000)) }

func onDisk(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

var uptimeRE = regexp.MustCompile(`^[0-9]+(s|m[0-9]{2}s|h[0-9]{2}m|d[0-9]{2}h)$`)

// TestNames: a named container is listed by cove ps (table and JSON) with
// its program's pid, its rootfs and its user; its hostname defaults to the
// name; cove inject NAME enters its UTS, PID and mount namespaces and
// returns the command's status; the name cannot be taken twice; the entry
// vanishes when the container ends. Root, a user with subordinate ids and
// one without.
func TestNames(t *testing.T) {
	tree := rootfs.Debian(t)
	containModes(t, func(t *testing.T, md *mode) {
		reg := registryFor(t, md)
		name, m := newContainerName(), sleepMark()
		run := startNamed(t, md, runOpts{sub: "contain", env: reg.env}, false, "--no-console", "--name", name, tree, "/bin/sleep", m)
		pid := waitProgram(t, "/bin/sleep "+m)
		e := waitListed(t, md, reg, name)
		who := userNameOf(t, md.uid)
		if e.PID != pid || e.SupervisorPID != run.cmd.Process.Pid || e.Rootfs != tree || e.UID != md.uid || e.User != who || e.UptimeSeconds < 0 || e.UptimeSeconds > 60 {
			t.Fatalf("cove ps --json: %+v; want pid %d, supervisor %d, rootfs %s, user %s (%d)", e, pid, run.cmd.Process.Pid, tree, who, md.uid)
		}
		file := filepath.Join(reg.dir, name+".json")
		var st syscall.Stat_t
		if err := syscall.Lstat(file, &st); err != nil || st.Mode&0o777 != 0o600 || int(st.Uid) != md.uid {
			t.Fatalf("record %s: mode %o uid %d (%v); want 0600 and uid %d", file, st.Mode&0o777, st.Uid, err, md.uid)
		}

		// The table.
		r := runCoveOpts(t, md, runOpts{sub: "ps", env: reg.env})
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || !slices.Equal(strings.Fields(lines[0]), []string{"NAME", "PID", "ROOTFS", "USER", "UPTIME"}) {
			t.Fatalf("cove ps: %v", r)
		}
		row := -1
		for i, l := range lines[1:] {
			if f := strings.Fields(l); len(f) == 5 && f[0] == name {
				row = i
				if f[1] != strconv.Itoa(pid) || f[2] != tree || f[3] != who || !uptimeRE.MatchString(f[4]) {
					t.Fatalf("cove ps row %q; want %s %d %s %s UPTIME", l, name, pid, tree, who)
				}
			}
		}
		if row < 0 {
			t.Fatalf("cove ps does not list %s:\n%s", name, r.stdout)
		}

		// inject by name: the hostname is the name.
		r = runCoveOpts(t, md, runOpts{sub: "inject", env: reg.env}, name, "cat", "/proc/sys/kernel/hostname")
		if r.code != 0 || r.stdout != name+"\n" {
			t.Fatalf("cove inject %s cat /proc/sys/kernel/hostname: %v", name, r)
		}
		// ... its namespaces, its mounts and its status.
		r = runCoveOpts(t, md, runOpts{sub: "inject", env: reg.env}, name, "/bin/sh", "-c",
			"for ns in pid mnt uts; do readlink /proc/self/ns/$ns; done; cat /proc/1/comm; ls -A /; exit 6")
		out := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 6 || len(out) < 5 {
			t.Fatalf("inject: want status 6 and output: %v", r)
		}
		for i, ns := range []string{"pid", "mnt", "uts"} {
			want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if out[i] != want {
				t.Errorf("inject's %s namespace is %s, the container's %s", ns, out[i], want)
			}
		}
		if out[3] != "cove-init" {
			t.Errorf("inject sees pid 1 = %q, want the container's init", out[3])
		}
		ents, _ := os.ReadDir(tree)
		var top []string
		for _, e := range ents {
			top = append(top, e.Name())
		}
		got := out[4:]
		slices.Sort(got)
		if !slices.Equal(got, top) {
			t.Errorf("inject sees / = %v, the rootfs holds %v", got, top)
		}

		// The name is taken: a second container fails before it starts.
		r = runCoveOpts(t, md, runOpts{sub: "contain", env: reg.env}, "--no-console", "--name", name, tree, "/bin/sh", "-c", "echo started")
		if r.code != 125 || oneLine(t, r.stderr) != fmt.Sprintf("cove contain: name %s is in use by pid %d", name, pid) || r.stdout != "" {
			t.Fatalf("second container named %s: %v", name, r)
		}
		if e2 := psFind(psJSON(t, md, reg), name); e2 == nil || e2.PID != pid {
			t.Fatalf("after the refused second container, ps lists %+v", e2)
		}

		// SIGTERM to cove ends the container; cove itself removes the entry.
		run.cmd.Process.Signal(syscall.SIGTERM)
		if res := run.wait(); res.code != 143 {
			t.Fatalf("SIGTERM: %v", res)
		}
		if onDisk(file) {
			t.Fatalf("%s left after the container ended", file)
		}
		if e := psFind(psJSON(t, md, reg), name); e != nil {
			t.Fatalf("cove ps still lists %+v", e)
		}
		r = runCoveOpts(t, md, runOpts{sub: "inject", env: reg.env}, name, "/bin/true")
		if r.code != 125 || oneLine(t, r.stderr) != "cove inject: no container named "+name+" (cove ps lists them)" {
			t.Fatalf("inject into an ended container: %v", r)
		}

		// A program that exits by itself: the name goes with it.
		pr, pw := io.Pipe()
		run = startNamed(t, md, runOpts{sub: "contain", env: reg.env, stdin: pr}, false, "--no-console", "--name", name, tree, "/bin/sh", "-c", "read x; exit 3")
		waitListed(t, md, reg, name)
		pw.Write([]byte("go\n"))
		pw.Close()
		if res := run.wait(); res.code != 3 {
			t.Fatalf("program's own exit: %v", res)
		}
		if onDisk(file) {
			t.Fatalf("%s left after the program exited", file)
		}
	})
}

// TestNamesSupervisorKilled: a supervisor killed with SIGKILL cannot remove
// its entry; the container dies with it, and the entry is not a container:
// the name can be taken again, cove ps drops it.
func TestNamesSupervisorKilled(t *testing.T) {
	tree := rootfs.Debian(t)
	forEachMode(t, func(t *testing.T, md *mode) {
		reg := registryFor(t, md)
		name := newContainerName()
		file := filepath.Join(reg.dir, name+".json")
		killed := func() int {
			m := sleepMark()
			run := startNamed(t, md, runOpts{sub: "contain", env: reg.env}, false, "--no-console", "--name", name, tree, "/bin/sleep", m)
			pid := waitProgram(t, "/bin/sleep "+m)
			if e := waitListed(t, md, reg, name); e.PID != pid {
				t.Fatalf("ps lists %+v, want pid %d", e, pid)
			}
			run.cmd.Process.Kill()
			waitProcGone(t, pid)
			if res := run.wait(); res.code != 137 {
				t.Fatalf("SIGKILLed cove: %v", res)
			}
			if !onDisk(file) {
				t.Fatalf("%s vanished although its supervisor was killed (test premise)", file)
			}
			return pid
		}
		first := killed()
		// The stale record does not hold the name.
		second := killed()
		if second == first {
			t.Fatalf("same pid %d twice", first)
		}
		if list := psJSON(t, md, reg); psFind(list, name) != nil {
			t.Fatalf("cove ps lists a dead container: %+v", list)
		}
		if onDisk(file) {
			t.Fatalf("cove ps did not remove the stale %s", file)
		}
	})
}

// TestNamesOtherUsers: names are per user, and a record naming another
// user's container — even one copied into the caller's own registry — is
// refused, as firejail's --join should have refused a fake sandbox
// (CVE-2022-31214).
func TestNamesOtherUsers(t *testing.T) {
	tree := rootfs.Debian(t)
	rootMode, userMode := rootAndUser(t)
	rootReg, userReg := registryFor(t, rootMode), registryFor(t, userMode)
	name, m := newContainerName(), sleepMark()
	run := startNamed(t, rootMode, runOpts{sub: "contain", env: rootReg.env}, false, "--no-console", "--name", name, tree, "/bin/sleep", m)
	defer func() {
		run.cmd.Process.Signal(syscall.SIGTERM)
		run.wait()
	}()
	pid := waitProgram(t, "/bin/sleep "+m)
	waitListed(t, rootMode, rootReg, name)

	// Not in the user's registry.
	if list := psJSON(t, userMode, userReg); psFind(list, name) != nil {
		t.Fatalf("the user's cove ps lists root's container: %+v", list)
	}
	r := runCoveOpts(t, userMode, runOpts{sub: "inject", env: userReg.env}, name, "/bin/true")
	if r.code != 125 || !strings.Contains(r.stderr, "no container named "+name) {
		t.Fatalf("user injecting into root's container by name: %v", r)
	}

	// A copy of root's record in the user's own registry.
	b, err := os.ReadFile(filepath.Join(rootReg.dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec["uid"] = userMode.uid // as if the user had registered it
	forged, _ := json.Marshal(rec)
	copyFile := filepath.Join(userReg.dir, name+".json")
	if err := os.WriteFile(copyFile, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chown(copyFile, userMode.uid, userMode.gid)
	r = runCoveOpts(t, userMode, runOpts{sub: "inject", env: userReg.env}, name, "/bin/sh", "-c", "echo joined")
	if r.code != 125 || r.stdout != "" || !strings.Contains(oneLine(t, r.stderr), "does not belong to you") {
		t.Fatalf("user injecting through a copied record: %v", r)
	}
	os.WriteFile(copyFile, forged, 0o600)
	os.Chown(copyFile, userMode.uid, userMode.gid)
	if list := psJSON(t, userMode, userReg); len(list) != 0 {
		t.Fatalf("the user's cove ps lists root's container through a copied record: %+v", list)
	}
	// By pid, as before.
	r = runCoveOpts(t, userMode, runOpts{sub: "inject", env: userReg.env}, strconv.Itoa(pid), "/bin/true")
	if r.code != 125 || !strings.Contains(r.stderr, "does not belong to you") {
		t.Fatalf("user injecting into root's container by pid: %v", r)
	}
	// Root's container is untouched.
	if e := psFind(psJSON(t, rootMode, rootReg), name); e == nil || e.PID != pid {
		t.Fatalf("root's ps: %+v", e)
	}
}

// TestRunName: cove run --name registers the sandbox with no rootfs; the
// name is the hostname unless --hostname is given.
func TestRunName(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		reg := registryFor(t, md)
		name := newContainerName()
		r := runCoveOpts(t, md, runOpts{env: reg.env}, "--name", name, "--", "hostname")
		if r.code != 0 || r.stdout != name+"\n" {
			t.Fatalf("cove run --name %s -- hostname: %v", name, r)
		}
		r = runCoveOpts(t, md, runOpts{env: reg.env}, "--name", name, "--hostname", "explicit", "--", "hostname")
		if r.code != 0 || r.stdout != "explicit\n" {
			t.Fatalf("--hostname wins over --name: %v", r)
		}

		m := sleepMark()
		run := startNamed(t, md, runOpts{env: reg.env}, false, "--map-root", "--name", name, "--", "sleep", m)
		pid := waitProgram(t, "sleep "+m)
		e := waitListed(t, md, reg, name)
		if e.PID != pid || e.Rootfs != "" {
			t.Fatalf("ps: %+v, want pid %d and no rootfs", e, pid)
		}
		r = runCoveOpts(t, md, runOpts{sub: "ps", env: reg.env})
		if !regexp.MustCompile(`(?m)^` + name + ` +` + strconv.Itoa(pid) + ` +- +`).MatchString(r.stdout) {
			t.Fatalf("cove ps table shows no '-' rootfs for %s:\n%s", name, r.stdout)
		}
		r = runCoveOpts(t, md, runOpts{sub: "inject", env: reg.env}, name, "/bin/sh", "-c", "hostname; id -u")
		if r.code != 0 || r.stdout != name+"\n0\n" {
			t.Fatalf("inject into cove run --map-root --name: %v", r)
		}
		run.cmd.Process.Signal(syscall.SIGTERM)
		if res := run.wait(); res.code != 143 {
			t.Fatalf("SIGTERM: %v", res)
		}
		if onDisk(filepath.Join(reg.dir, name+".json")) {
			t.Fatal("record left after cove run ended")
		}

		// Without --map-root there is no root inside: inject enters as the
		// program's own ids (the caller's, 65534 for root), without
		// capabilities or supplementary groups. The profile is recorded;
		// --timeout ends the sandbox and the name.
		m = sleepMark()
		run = startNamed(t, md, runOpts{env: reg.env}, false, "--profile", "default", "--timeout", "2s", "--name", name, "--", "sleep", m)
		prog := waitProgram(t, "sleep "+m)
		if e := waitListed(t, md, reg, name); e.Profile != "default" {
			t.Errorf("ps: %+v; want profile default", e)
		}
		r = runCoveOpts(t, md, runOpts{sub: "inject", env: reg.env}, name, "/bin/sh", "-c",
			`id -u; id -g; grep -E '^(CapEff|CapPrm|Groups):' /proc/self/status; hostname; exit 4`)
		wantID := strconv.Itoa(md.uid)
		if md.root {
			wantID = "65534"
		}
		want := wantID + " " + wantID + " Groups: CapPrm: 0000000000000000 CapEff: 0000000000000000 " + name
		if got := strings.Join(strings.Fields(r.stdout), " "); r.code != 4 || got != want {
			t.Fatalf("inject into a sandbox without uid 0: want ids %s, no capabilities, no groups, hostname %s: %v", wantID, name, r)
		}
		if !md.root && os.Geteuid() == 0 {
			// Root, with supplementary groups (gid 0 among them), enters the
			// user's sandbox, which denies setgroups(2): the groups must go
			// before the join, while root still may drop them.
			cmd := exec.CommandContext(t.Context(), coveBin, "inject", strconv.Itoa(prog), "/bin/sh", "-c", "grep '^Groups:' /proc/self/status")
			cmd.SysProcAttr = &syscall.SysProcAttr{}
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{0, 4}}
			out, err := cmd.CombinedOutput()
			if got := strings.Join(strings.Fields(string(out)), " "); err != nil || got != "Groups:" {
				t.Fatalf("inject by root with groups 0,4: %q %v; want no supplementary groups", out, err)
			}
		}
		if res := run.wait(); res.code != 137 {
			t.Fatalf("--timeout: %v", res)
		}
		if onDisk(filepath.Join(reg.dir, name+".json")) {
			t.Fatal("record left after --timeout")
		}
	})
}

// TestNamesErrors: bad names and untrustworthy registries are refused with
// one line naming the cause, before anything starts.
func TestNamesErrors(t *testing.T) {
	tree := rootfs.Debian(t)
	forEachMode(t, func(t *testing.T, md *mode) {
		reg := registryFor(t, md)
		for _, bad := range []string{"../x", "a/b", ".hidden", "-x", "123", strings.Repeat("n", 65), "sp ace"} {
			r := runCoveOpts(t, md, runOpts{sub: "contain", env: reg.env}, "--no-console", "--name", bad, tree, "/bin/sh", "-c", "echo started")
			if r.code != 125 || r.stdout != "" || !strings.Contains(oneLine(t, r.stderr), "--name") {
				t.Errorf("contain --name %q: %v", bad, r)
			}
			r = runCoveOpts(t, md, runOpts{env: reg.env}, "--name", bad, "--", "echo", "started")
			if r.code != 125 || r.stdout != "" || !strings.Contains(oneLine(t, r.stderr), "--name") {
				t.Errorf("run --name %q: %v", bad, r)
			}
		}
		// A container that fails to start leaves no name behind.
		name := newContainerName()
		r := runCoveOpts(t, md, runOpts{sub: "contain", env: reg.env}, "--no-console", "--name", name, tree, "/no/such/program")
		if r.code != 127 || onDisk(filepath.Join(reg.dir, name+".json")) {
			t.Errorf("contain --name with a missing program: %v", r)
		}
		r = runCoveOpts(t, md, runOpts{sub: "inject", env: reg.env}, "a/b", "/bin/true")
		if r.code != 125 || !strings.Contains(oneLine(t, r.stderr), "neither a container name nor a process id") {
			t.Errorf("inject a/b: %v", r)
		}
		r = runCoveOpts(t, md, runOpts{env: reg.env}, "--no-namespaces", "--name", newContainerName(), "--", "echo", "started")
		if r.code != 125 || r.stdout != "" || !strings.Contains(oneLine(t, r.stderr), "user namespace") {
			t.Errorf("run --no-namespaces --name: %v", r)
		}

		// Registries that must not be trusted.
		base := func(mode os.FileMode) string {
			top, err := worldTempDir("cove-e2e-xdg-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(top) })
			d := filepath.Join(top, "run")
			os.Mkdir(d, mode)
			os.Chmod(d, mode)
			os.Chown(d, md.uid, md.gid)
			return d
		}
		open := base(0o755)
		symlinked := base(0o700)
		os.Symlink(base(0o700), filepath.Join(symlinked, "cove"))
		os.Lchown(filepath.Join(symlinked, "cove"), md.uid, md.gid)
		cases := []struct {
			name, xdg, want string
		}{
			{"XDG_RUNTIME_DIR open to others", open, "XDG_RUNTIME_DIR " + open + " belongs to uid " + strconv.Itoa(md.uid) + " with mode 0755"},
			{"registry is a symlink", symlinked, "is a symlink"},
			{"relative XDG_RUNTIME_DIR", "run", "XDG_RUNTIME_DIR \"run\" is not an absolute path"},
		}
		if !md.root {
			cases = append(cases, struct{ name, xdg, want string }{"someone else's XDG_RUNTIME_DIR", "/root", "XDG_RUNTIME_DIR /root"})
		}
		for _, c := range cases {
			env := []string{"XDG_RUNTIME_DIR=" + c.xdg}
			r := runCoveOpts(t, md, runOpts{sub: "ps", env: env})
			if r.code != 125 || r.stdout != "" || !strings.Contains(oneLine(t, r.stderr), c.want) {
				t.Errorf("%s: cove ps: %v", c.name, r)
			}
			r = runCoveOpts(t, md, runOpts{sub: "contain", env: env}, "--no-console", "--name", newContainerName(), tree, "/bin/sh", "-c", "echo started")
			if r.code != 125 || r.stdout != "" || !strings.Contains(oneLine(t, r.stderr), c.want) {
				t.Errorf("%s: cove contain --name: %v", c.name, r)
			}
		}
		// Without XDG_RUNTIME_DIR and /run/user/UID (su, containers), a
		// user's names live in /tmp/cove-UID, which must be theirs. The
		// directory is made here first so that the runs' leftover check
		// does not count it; the package tests cover its creation.
		if !md.root && !onDisk(fmt.Sprintf("/run/user/%d", md.uid)) {
			fallback := fmt.Sprintf("/tmp/cove-%d", md.uid)
			if !onDisk(fallback) {
				if err := os.Mkdir(fallback, 0o700); err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(fallback)
			}
			os.Chown(fallback, md.uid, md.gid)
			name := newContainerName()
			r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--name", name, tree, "/bin/sh", "-c", "cat /proc/sys/kernel/hostname")
			if r.code != 0 || strings.TrimSpace(r.stdout) != name {
				t.Errorf("--name without XDG_RUNTIME_DIR: %v", r)
			}
			os.Chown(fallback, 0, 0)
			defer os.Chown(fallback, md.uid, md.gid) // a directory the user had before stays theirs
			r = runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--name", newContainerName(), tree, "/bin/true")
			if r.code != 125 || !strings.Contains(oneLine(t, r.stderr), fallback) {
				t.Errorf("someone else's %s: %v", fallback, r)
			}
		}
	})
}
