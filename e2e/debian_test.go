package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/covebox/cove/e2e/rootfs"
)

// The container tests against a real distribution tree: a minimal Debian
// made with debootstrap (cached outside the repository by package rootfs),
// or a busybox tree when no mirror can be reached. They run as root, as an
// unprivileged user with /etc/subuid and /etc/subgid entries (the e2e user,
// which useradd gives ranges), and as one without (made here with
// SUB_UID_COUNT=0).

// noSubUser has no delegated id ranges.
const noSubUser = "cove-nosub"

var (
	noSubOnce sync.Once
	noSubMode *mode
	noSubErr  error
)

// nosub returns the mode of a user without subordinate ids, creating the
// user on first use. It skips when the tests do not run as root.
func nosub(t *testing.T) *mode {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a user without subuid entries needs root")
	}
	noSubOnce.Do(func() { noSubMode, noSubErr = makeNoSubMode() })
	if noSubErr != nil {
		t.Fatalf("user %s: %v", noSubUser, noSubErr)
	}
	return noSubMode
}

func makeNoSubMode() (*mode, error) {
	u, err := user.Lookup(noSubUser)
	if err != nil {
		out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", noSubUser).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("useradd: %v: %s", err, out)
		}
		if u, err = user.Lookup(noSubUser); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if r, _ := subRange(f, u.Username, u.Uid); r != nil {
			return nil, fmt.Errorf("%s has an entry for %s; the test needs a user without one", f, noSubUser)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	tmp, err := worldTempDir("cove-e2e-tmp-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return nil, err
	}
	noSubTmps = append(noSubTmps, tmp)
	return &mode{name: "nosub", uid: uid, gid: gid, home: u.HomeDir, tmpdir: tmp,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// noSubTmps are the nosub mode's TMPDIRs, removed by TestMain.
var noSubTmps []string

func removeNoSubTmps() {
	for _, d := range noSubTmps {
		os.RemoveAll(d)
	}
}

// subRange returns the first "name-or-uid:start:count" entry of file for
// the user, or nil.
func subRange(file, name, uid string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(p) == 3 && (p[0] == name || p[0] == uid) {
			return p, nil
		}
	}
	return nil, sc.Err()
}

// wantMap is the uid_map (or gid_map) and setgroups cove contain must set up
// for md: root's container root is the highest host id with every other id
// mapped to itself (host root never mapped); a user with a delegated range
// gets 0 → self plus the range, setgroups allowed; a user without one gets
// 0 → self only, setgroups denied.
func wantMap(t *testing.T, md *mode, file string, id int) (idmap, setgroups string) {
	t.Helper()
	if md.root {
		return "0 4294967294 1\n1 1 4294967293", "allow"
	}
	u, err := user.LookupId(strconv.Itoa(md.uid))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := subRange(file, u.Username, u.Uid)
	if r == nil {
		return fmt.Sprintf("0 %d 1", id), "deny"
	}
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skipf("user %s has delegated ids but newuidmap is missing (apt-get install uidmap)", u.Username)
	}
	return fmt.Sprintf("0 %d 1\n1 %s %s", id, r[1], r[2]), "allow"
}

// containModes runs f for root, the e2e user (with subuid entries) and the
// user without them.
func containModes(t *testing.T, f func(t *testing.T, md *mode)) {
	t.Helper()
	forEachMode(t, f)
	t.Run("nosub", func(t *testing.T) { f(t, nosub(t)) })
}

// fields normalises a map file: one line per entry, single spaces.
func fields(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

// section splits output made of "== name" headers into named parts.
func sections(out string) map[string]string {
	parts := map[string]string{}
	name := ""
	for _, l := range strings.SplitAfter(out, "\n") {
		if h, ok := strings.CutPrefix(l, "== "); ok {
			name = strings.TrimSpace(h)
			continue
		}
		parts[name] += l
	}
	return parts
}

func TestContainDebian(t *testing.T) {
	tree := rootfs.Debian(t)
	debian := true
	if _, err := os.Stat(filepath.Join(tree, "etc/debian_version")); err != nil {
		debian = false
		t.Logf("no Debian tree (see the log above); using %s", tree)
	}
	containModes(t, func(t *testing.T, md *mode) {
		script := `echo == uid_map; cat /proc/self/uid_map
echo == gid_map; cat /proc/self/gid_map
echo == setgroups; cat /proc/self/setgroups
echo == dev; ls -A /dev
echo == env; /usr/bin/env 2>/dev/null || /bin/env
echo == id; id -u; id -g
echo == hostname; hostname
echo == init; cat /proc/1/comm
echo == debian; cat /etc/debian_version 2>/dev/null || echo none
echo == mounts; cut -d' ' -f2,3 /proc/self/mounts
echo == write; touch /etc/cove-e2e 2>&1 && echo wrote || echo refused
echo == mount; mount -t tmpfs scratch /mnt && touch /mnt/f && ls /mnt
sleep 300 & exit 42`
		r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", "--hostname", "deb", tree, "/bin/sh", "-c", script)
		if r.code != 42 {
			t.Fatalf("want the program's status 42: %v", r)
		}
		s := sections(r.stdout)
		wantUID, wantSG := wantMap(t, md, "/etc/subuid", md.uid)
		wantGID, _ := wantMap(t, md, "/etc/subgid", md.gid)
		if got := fields(s["uid_map"]); got != wantUID {
			t.Errorf("uid_map:\n%s\nwant:\n%s", got, wantUID)
		}
		if got := fields(s["gid_map"]); got != wantGID {
			t.Errorf("gid_map:\n%s\nwant:\n%s", got, wantGID)
		}
		if got := strings.TrimSpace(s["setgroups"]); got != wantSG {
			t.Errorf("setgroups = %q, want %q", got, wantSG)
		}
		dev := strings.Fields(s["dev"])
		wantDev := []string{"core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
		slices.Sort(dev)
		if !slices.Equal(dev, wantDev) {
			t.Errorf("/dev = %v, want %v", dev, wantDev)
		}
		// The shell exports PWD itself; everything else comes from cove.
		var env []string
		for _, kv := range strings.Fields(s["env"]) {
			if !strings.HasPrefix(kv, "PWD=") {
				env = append(env, kv)
			}
		}
		if !slices.Equal(env, []string{"container=cove"}) {
			t.Errorf("environment = %q, want only container=cove (and the shell's PWD)", env)
		}
		if got := strings.Fields(s["id"]); !slices.Equal(got, []string{"0", "0"}) {
			t.Errorf("ids inside = %v, want 0 0", got)
		}
		if got := strings.TrimSpace(s["hostname"]); got != "deb" {
			t.Errorf("hostname = %q", got)
		}
		if got := strings.TrimSpace(s["init"]); got != "cove-init" {
			t.Errorf("pid 1 is %q, want cove's init", got)
		}
		if debian && !strings.HasPrefix(strings.TrimSpace(s["debian"]), "12") {
			t.Errorf("/etc/debian_version = %q", s["debian"])
		}
		// The tree belongs to host root, which is never mapped in: even the
		// container's root cannot change it.
		if got := strings.TrimSpace(s["write"]); !strings.HasSuffix(got, "refused") {
			t.Errorf("container root wrote into the host-root-owned tree: %q", got)
		}
		// The container's root may mount inside its own namespaces.
		if got := strings.TrimSpace(s["mount"]); got != "f" {
			t.Errorf("mount a tmpfs inside the container: %q", got)
		}
		mounts := s["mounts"]
		for _, want := range []string{"/ ", "/proc proc", "/dev tmpfs", "/dev/pts devpts"} {
			if !strings.Contains(mounts, want) {
				t.Errorf("mounts lack %q:\n%s", want, mounts)
			}
		}
		if strings.Contains(mounts, "/home") || strings.Contains(mounts, "/tmp/") {
			t.Errorf("host mounts visible inside:\n%s", mounts)
		}
		noSurvivor(t, "sleep 300")
	})
}

// TestContainDebianSignals: exit statuses through a real distribution's
// shell: killed by a signal from inside, and a SIGTERM sent to cove is
// forwarded to the program.
func TestContainDebianSignals(t *testing.T) {
	tree := rootfs.Debian(t)
	containModes(t, func(t *testing.T, md *mode) {
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", tree, "/bin/sh", "-c", "kill -KILL $$"); r.code != 137 {
			t.Fatalf("SIGKILL: %v", r)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", tree, "/bin/sh", "-c", "kill -TERM $$"); r.code != 143 {
			t.Fatalf("SIGTERM: %v", r)
		}
		mark := strconv.Itoa(700 + int(time.Now().UnixNano()%200))
		run := startCove(t, md, runOpts{sub: "contain"}, false, "--no-console", tree, "/bin/sleep", mark)
		deadline := time.Now().Add(5 * time.Second)
		for len(findProcs(func(pid int) bool { return cmdline(pid) == "/bin/sleep "+mark })) == 0 {
			if time.Now().After(deadline) {
				run.cmd.Process.Kill()
				run.wait()
				t.Fatal("the container's program did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
		run.cmd.Process.Signal(syscall.SIGTERM)
		if res := run.wait(); res.code != 143 {
			t.Fatalf("SIGTERM to cove: %v", res)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", tree, "/no/such/program"); r.code != 127 {
			t.Fatalf("missing program: %v", r)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "contain"}, "--no-console", tree, "/etc/debian_version"); r.code != 126 && r.code != 127 {
			t.Fatalf("not executable: %v", r)
		}
	})
}

// TestInjectDebian: inject into a container running the Debian tree sees
// its hostname, pid namespace and mounts and returns the command's status.
func TestInjectDebian(t *testing.T) {
	tree := rootfs.Debian(t)
	containModes(t, func(t *testing.T, md *mode) {
		pid, stop := startContainer(t, md, tree, "--hostname", "debinj")
		defer stop()
		r := runCoveOpts(t, md, runOpts{sub: "inject"}, strconv.Itoa(pid), "/bin/sh", "-c",
			`hostname; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; cat /proc/1/comm; ls /etc/debian_version /etc/os-release 2>/dev/null | wc -l; exit 9`)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 9 || len(lines) != 5 || lines[0] != "debinj" || lines[3] != "cove-init" {
			t.Fatalf("inject: %v", r)
		}
		pidNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		mntNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
		if lines[1] != pidNS || lines[2] != mntNS {
			t.Fatalf("inject joined %s %s, the container is in %s %s", lines[1], lines[2], pidNS, mntNS)
		}
	})
}
