package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/e2e/rootfs"
)

// cove seal and cove pivot, and their drop-in names seal and pivot. Every
// pivot runs inside new user, mount and PID namespaces made by util-linux
// unshare (as root too), so the host's root is never at stake.

// spOpts are the knobs of spRun.
type spOpts struct {
	env   []string // added to the mode's environment
	path  *string  // PATH to use instead of the mode's; nil keeps it
	unset bool     // run without PATH at all
	dir   string   // working directory (default "/")
}

// spRun runs prog with args as md, with md's environment, and checks that
// the run left nothing behind on the host.
func spRun(t *testing.T, md *mode, o spOpts, prog string, args ...string) result {
	t.Helper()
	runID := randHex()
	before := snapshot(t, md)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	env := md.env(runID, o.env)
	if o.unset || o.path != nil {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") })
	}
	if o.path != nil {
		env = append(env, "PATH="+*o.path)
	}
	cmd.Env = env
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: md.cred}
	cmd.WaitDelay = time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: so.String(), stderr: se.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%q hung and was killed after 30 s\n%v", cmd.Args, res)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%q: %v", cmd.Args, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.code = 128 + int(ws.Signal())
	} else {
		res.code = cmd.ProcessState.ExitCode()
	}
	checkClean(t, md, runID, before)
	return res
}

// spLinks returns a directory holding the links `cove install-links` makes,
// seal and pivot among them, after checking that they point at cove.
func spLinks(t *testing.T) string {
	t.Helper()
	dir, err := worldTempDir("cove-e2e-links-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command(coveBin, "install-links", dir).CombinedOutput(); err != nil {
		t.Fatalf("cove install-links: %v: %s", err, out)
	}
	self, _ := filepath.EvalSymlinks(coveBin)
	for _, n := range []string{"seal", "pivot", "dive", "dived", "setuidgid"} {
		if target, err := filepath.EvalSymlinks(filepath.Join(dir, n)); err != nil || target != self {
			t.Fatalf("install-links made %s -> %q (%v), want %s", n, target, err, self)
		}
	}
	return dir
}

// spWorldDir is a temporary directory the unprivileged user can read.
func spWorldDir(t *testing.T) string {
	t.Helper()
	dir, err := worldTempDir("cove-e2e-seal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// spFind is where execvp finds name on path (for the expected memfd names).
func spFind(t *testing.T, name, path string) string {
	t.Helper()
	for _, d := range strings.Split(path, ":") {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && unix.Access(p, unix.X_OK) == nil {
			return p
		}
	}
	t.Skipf("no %s on %s", name, path)
	return ""
}

const spPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" // the modes' PATH

func ptr(s string) *string { return &s }

// TestSealExeLink: the sealed program's /proc/PID/exe is the memfd, named
// after the path found on PATH, and argv[0] is passed as written.
func TestSealExeLink(t *testing.T) {
	sh := spFind(t, "sh", spPath)
	forEachMode(t, func(t *testing.T, md *mode) {
		r := spRun(t, md, spOpts{}, coveBin, "seal", "sh", "-c", `readlink /proc/$$/exe; tr '\0' ' ' </proc/$$/cmdline`)
		want := "/memfd:" + sh + " (deleted)\nsh -c "
		if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
			t.Fatalf("got %v\nwant stdout starting %q", r, want)
		}
	})
}

// TestSealCannotBeOverwritten replays CVE-2019-5736 against a sealed
// process: open /proc/PID/exe while it runs, keep the descriptor, and try
// to write through it, during and after the process's life. An unsealed
// copy of the same program, attacked the same way, is overwritten — the
// control that shows the attack is real.
func TestSealCannotBeOverwritten(t *testing.T) {
	sh := spFind(t, "sh", spPath)
	forEachMode(t, func(t *testing.T, md *mode) {
		dir := spWorldDir(t)
		b, err := os.ReadFile(sh)
		if err != nil {
			t.Fatal(err)
		}
		unsealed := filepath.Join(dir, "sh-copy")
		if err := os.WriteFile(unsealed, b, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(unsealed, 0o777) // so that the attack as any uid may write it
		for _, tc := range []struct {
			name   string
			argv   []string
			sealed bool
		}{
			{"sealed", []string{coveBin, "seal", "sh"}, true},
			{"unsealed control", []string{unsealed}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				attack(t, md, tc.argv, tc.sealed)
			})
		}
	})
}

// attack starts argv (a shell that waits on stdin) as md and attacks its
// executable through /proc/PID/exe.
func attack(t *testing.T, md *mode, argv []string, sealed bool) {
	runID := randHex()
	before := snapshot(t, md)
	cmd := exec.Command(argv[0], append(argv[1:], "-c", "echo ready; read x")...)
	cmd.Env = md.env(runID, nil)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: md.cred}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		checkClean(t, md, runID, before)
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("program did not start: %q %v", line, err)
	}
	exe := fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)
	link, _ := os.Readlink(exe)
	if got := strings.HasPrefix(link, "/memfd:"); got != sealed {
		t.Fatalf("%s -> %q: memfd %v, want %v", exe, link, got, sealed)
	}
	// While it runs, the kernel refuses writers of any running executable.
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Errorf("opened %s for writing while it runs", exe)
	} else if !errors.Is(err, unix.ETXTBSY) {
		t.Errorf("open %s for writing: %v, want ETXTBSY", exe, err)
	}
	held, err := os.Open(exe)
	if err != nil {
		t.Fatalf("open %s: %v", exe, err)
	}
	defer held.Close()
	seals, err := unix.FcntlInt(held.Fd(), unix.F_GET_SEALS, 0)
	want := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	switch {
	case sealed && (err != nil || seals&want != want):
		t.Errorf("F_GET_SEALS on %s = %#x, %v; want at least %#x", exe, seals, err, want)
	case !sealed && err == nil:
		t.Errorf("F_GET_SEALS on an ordinary file succeeded: %#x", seals)
	}
	// Let the process end, then write through the held descriptor, as the
	// CVE-2019-5736 exploit does.
	in.Close()
	cmd.Wait()
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", held.Fd()), os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("reopen for writing after exit: %v", err)
	}
	defer w.Close()
	_, err = w.WriteAt([]byte("#!"), 0)
	if sealed && !errors.Is(err, unix.EPERM) {
		t.Errorf("write to the sealed copy after exit: %v, want EPERM", err)
	}
	if !sealed && err != nil {
		t.Errorf("control: write to the unsealed executable after exit: %v, want success", err)
	}
	if sealed {
		if err := w.Truncate(0); !errors.Is(err, unix.EPERM) {
			t.Errorf("truncate the sealed copy: %v, want EPERM", err)
		}
	}
}

// TestSealPathRules: the program is found as execvp finds it.
func TestSealPathRules(t *testing.T) {
	sh := spFind(t, "sh", "/usr/bin:/bin")
	dir := spWorldDir(t)
	mk := func(p string, mode os.FileMode) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho ran $0\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	if err := os.Symlink(sh, filepath.Join(dir, "bin", "mysh")); err != nil {
		t.Fatal(err)
	}
	mk(filepath.Join(dir, "noexec", "prog"), 0o644)
	mk(filepath.Join(dir, "noexec", "true"), 0o644)
	os.MkdirAll(filepath.Join(dir, "dirprog", "prog"), 0o755)
	os.MkdirAll(filepath.Join(dir, "fifo"), 0o755)
	if err := unix.Mkfifo(filepath.Join(dir, "fifo", "prog"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "fifo", "prog"), 0o755)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	// Absolute: some cases search a PATH without it.
	exeLink := []string{"-c", spFind(t, "readlink", "/usr/bin:/bin") + ` /proc/$$/exe`}

	cases := []struct {
		name   string
		o      spOpts
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"PATH unset: the default path /usr/bin:/bin", spOpts{unset: true}, append([]string{"sh"}, exeLink...), 0,
			"/memfd:" + sh + " (deleted)\n", ""},
		{"an empty PATH element is the current directory", spOpts{path: ptr("/nonexistent::/usr/bin"), dir: filepath.Join(dir, "bin")},
			append([]string{"mysh"}, exeLink...), 0, "/memfd:mysh (deleted)\n", ""},
		{"an empty PATH is the current directory", spOpts{path: ptr(""), dir: filepath.Join(dir, "bin")},
			append([]string{"mysh"}, exeLink...), 0, "/memfd:mysh (deleted)\n", ""},
		{"a name with a slash is used as written", spOpts{path: ptr("/nonexistent"), dir: dir},
			append([]string{"bin/mysh"}, exeLink...), 0, "/memfd:bin/mysh (deleted)\n", ""},
		{"a name with a slash is not searched", spOpts{path: ptr("/usr"), dir: "/"},
			[]string{"bin/cove-no-such-program"}, 127, "", "bin/cove-no-such-program: no such file or directory"},
		{"found but not executable: 126", spOpts{path: ptr(filepath.Join(dir, "noexec"))},
			[]string{"prog"}, 126, "", "prog: cannot execute: permission denied"},
		{"a non-executable match is skipped for a later one", spOpts{path: ptr(filepath.Join(dir, "noexec") + ":/usr/bin:/bin")},
			[]string{"true"}, 0, "", ""},
		{"a directory is not a program", spOpts{path: ptr(filepath.Join(dir, "dirprog"))},
			[]string{"prog"}, 126, "", "permission denied"},
		{"a FIFO is not a program (and is never opened)", spOpts{path: ptr(filepath.Join(dir, "fifo"))},
			[]string{"prog"}, 126, "", "permission denied"},
		{"a device is not a program", spOpts{}, []string{"/dev/null"}, 126, "", "/dev/null: cannot execute"},
		{"not found anywhere: 127", spOpts{path: ptr(filepath.Join(dir, "empty") + ":/nonexistent")},
			[]string{"prog"}, 127, "", "prog: command not found in PATH (" + filepath.Join(dir, "empty") + ":/nonexistent)"},
		{"not found without PATH names the default path", spOpts{unset: true},
			[]string{"cove-no-such-program"}, 127, "", "command not found in the default path (/usr/bin:/bin)"},
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := spRun(t, md, tc.o, coveBin, append([]string{"seal"}, tc.args...)...)
				if r.code != tc.code || (tc.stdout != "" && r.stdout != tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
					t.Fatalf("got %v\nwant exit %d, stdout %q, stderr containing %q", r, tc.code, tc.stdout, tc.stderr)
				}
				if tc.code != 0 {
					oneLine(t, r.stderr)
				}
			})
		}
	})
}

// TestSealExitStatus: the program's status is cove's (it replaced cove);
// cove's own failures use 125, 126 and 127; the drop-in name seal uses
// arachsys seal's 64 and 1.
func TestSealExitStatus(t *testing.T) {
	links := spLinks(t)
	dir := spWorldDir(t)
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seal := filepath.Join(links, "seal")
	cases := []struct {
		name   string
		prog   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring; "" means empty
	}{
		{"success", coveBin, []string{"seal", "true"}, 0, "", ""},
		{"the program's status", coveBin, []string{"seal", "sh", "-c", "exit 42"}, 42, "", ""},
		{"killed by a signal", coveBin, []string{"seal", "sh", "-c", "kill -TERM $$"}, 128 + 15, "", ""},
		{"-- ends cove's options", coveBin, []string{"seal", "--", "sh", "-c", "exit 5"}, 5, "", ""},
		{"not executable: 126", coveBin, []string{"seal", noexec}, 126, "", "cannot execute: permission denied"},
		{"not found: 127", coveBin, []string{"seal", "cove-no-such-program"}, 127, "", "command not found"},
		{"no command: 125", coveBin, []string{"seal"}, 125, "", "no command given"},
		{"unknown option: 125", coveBin, []string{"seal", "--bogus", "true"}, 125, "", "unknown option --bogus"},
		{"--help teaches", coveBin, []string{"seal", "--help"}, 0, "CVE-2019-5736", ""},
		{"cove help seal", coveBin, []string{"help", "seal"}, 0, "vm.memfd_noexec", ""},
		{"drop-in: success", seal, []string{"sh", "-c", "exit 42"}, 42, "", ""},
		{"drop-in: usage is 64", seal, nil, 64, "", "Usage: " + seal + " PROG [ARG]..."},
		{"drop-in: not found is 1, as arachsys", seal, []string{"cove-no-such-program"}, 1, "", "seal: cove-no-such-program: No such file or directory"},
		{"drop-in: not executable is 1", seal, []string{noexec}, 1, "", "seal: " + noexec + ": Permission denied"},
		{"drop-in: runs sealed", seal, []string{"sh", "-c", `readlink /proc/$$/exe`}, 0, "/memfd:", ""},
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := spRun(t, md, spOpts{}, tc.prog, tc.args...)
				if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || (tc.stderr == "") != (r.stderr == "") || !strings.Contains(r.stderr, tc.stderr) {
					t.Fatalf("got %v\nwant exit %d, stdout containing %q, stderr containing %q", r, tc.code, tc.stdout, tc.stderr)
				}
				if tc.stderr != "" {
					oneLine(t, r.stderr)
				}
			})
		}
	})
}

// TestSealScript: a "#!" script runs from its sealed copy, which stays open
// for the interpreter as /dev/fd/N (arachsys seal fails here with ENOENT).
func TestSealScript(t *testing.T) {
	dir := spWorldDir(t)
	script := filepath.Join(dir, "script")
	body := "#!/bin/sh\necho \"$0 $1\"\nreadlink /proc/$$/exe\nexit 7\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(script, 0o755)
	os.Chmod(bad, 0o755)
	forEachMode(t, func(t *testing.T, md *mode) {
		r := spRun(t, md, spOpts{}, coveBin, "seal", script, "arg")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 7 || len(lines) != 2 || !strings.HasPrefix(lines[0], "/dev/fd/") || !strings.HasSuffix(lines[0], " arg") ||
			strings.HasPrefix(lines[1], "/memfd:") {
			t.Fatalf("got %v\nwant exit 7, $0 = /dev/fd/N, the interpreter as exe", r)
		}
		r = spRun(t, md, spOpts{}, coveBin, "seal", bad)
		if r.code != 126 || !strings.Contains(r.stderr, "interpreter") {
			t.Fatalf("missing interpreter: %v", r)
		}
	})
}

// TestSealMemfdNoexec sets vm.memfd_noexec, which Linux 6.3 made per PID
// namespace, inside a new PID namespace (root only: the sysctl is written
// with root's capabilities in the initial user namespace), and runs cove
// seal there as root and as the unprivileged user: it works under 1 (cove
// asks for MFD_EXEC) and fails clearly, with 125, under 2.
func TestSealMemfdNoexec(t *testing.T) {
	host, err := os.ReadFile("/proc/sys/vm/memfd_noexec")
	if err != nil {
		t.Skipf("no vm.memfd_noexec sysctl (Linux < 6.3): %v", err)
	}
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s (util-linux) is needed: %v", tool, err)
		}
	}
	links := spLinks(t)
	forModes(t, []string{"root"}, func(t *testing.T, root *mode) {
		var user *mode
		for _, md := range modes {
			if md.name == "user" && md.skip == "" {
				user = md
			}
		}
		// Who runs cove seal inside: root, and the user through setpriv.
		type runner struct{ name, prefix string }
		runners := []runner{{"root", ""}}
		if user != nil {
			runners = append(runners, runner{"user", fmt.Sprintf("setpriv --reuid=%d --regid=%d --clear-groups ", user.uid, user.gid)})
		}
		cases := []struct {
			name, value, cmd string
			code             int
			stdout           string
			stderr           string
		}{
			{"cove seal", "1", `"$COVE" seal sh -c 'echo sealed ran'`, 0, "sealed ran\n", ""},
			{"cove seal", "2", `"$COVE" seal sh -c 'echo sealed ran'`, 125, "", "vm.memfd_noexec=2"},
			{"drop-in seal", "2", `"$LINKS/seal" sh -c 'echo sealed ran'`, 1, "", "seal: memfd_create: Permission denied (executable memfds are forbidden here: vm.memfd_noexec=2)"},
		}
		for _, who := range runners {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s as %s under %s", tc.name, who.name, tc.value), func(t *testing.T) {
					script := fmt.Sprintf("echo %s > /proc/sys/vm/memfd_noexec && exec %s%s", tc.value, who.prefix, tc.cmd)
					r := spRun(t, root, spOpts{env: []string{"COVE=" + coveBin, "LINKS=" + links}},
						"unshare", "--pid", "--fork", "--kill-child", "sh", "-c", script)
					if r.code != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) {
						t.Fatalf("got %v\nwant exit %d, stdout %q, stderr containing %q", r, tc.code, tc.stdout, tc.stderr)
					}
				})
			}
		}
	})
	if after, _ := os.ReadFile("/proc/sys/vm/memfd_noexec"); !bytes.Equal(after, host) {
		t.Errorf("the host's vm.memfd_noexec changed from %q to %q", host, after)
	}
}

// pivotSetup is the shell prelude of the pivot scenarios, run by unshare as
// root of new user, mount and PID namespaces: a tmpfs on $NEW with the
// busybox tree's bin (read-only), a /proc of the new PID namespace and a
// marker.
const pivotSetup = `set -e
mount -t tmpfs -o mode=0755 cove-new "$NEW"
mkdir "$NEW/bin" "$NEW/proc" "$NEW/old"
mount -o bind,ro "$BUSYBOX/bin" "$NEW/bin"
mount -t proc proc "$NEW/proc"
echo new > "$NEW/marker-new"
`

// pivotEnv prepares a mount point, a host marker and the environment of a
// pivot scenario.
func pivotEnv(t *testing.T) (env []string, marker string) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("unshare (util-linux) is needed: %v", err)
	}
	bb := rootfs.Busybox(t)
	dir := spWorldDir(t)
	newDir := filepath.Join(dir, "new")
	if err := os.Mkdir(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker = filepath.Join(dir, "host-marker")
	if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"COVE=" + coveBin, "NEW=" + newDir, "BUSYBOX=" + bb, "MARKER=" + marker, "LINKS=" + spLinks(t)}, marker
}

// inPivotNS runs script after pivotSetup in new user, mount and PID
// namespaces as md.
func inPivotNS(t *testing.T, md *mode, env []string, script string) result {
	t.Helper()
	return spRun(t, md, spOpts{env: env}, "unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child",
		"sh", "-c", pivotSetup+script)
}

// TestPivotDetach: with one argument the old root is gone when cove pivot
// returns: a host file is unreachable, the mount table holds only the new
// tree, and a process started before the pivot has the new root too.
func TestPivotDetach(t *testing.T) {
	env, _ := pivotEnv(t)
	script := `sleep 300 &
bg=$!
"$COVE" pivot "$NEW"
cd /
exec /bin/sh -c '
echo "marker $(cat /marker-new)"
if [ -e "$MARKER" ]; then echo "host marker visible"; else echo "host marker gone"; fi
echo "ls" $(ls /)
echo "bg root $(cat /proc/$0/root/marker-new)"
echo "bg cwd $(cat /proc/$0/cwd/marker-new)"
sed "s/^/mountinfo /" /proc/self/mountinfo
kill $0' "$bg"
`
	forEachMode(t, func(t *testing.T, md *mode) {
		r := inPivotNS(t, md, env, script)
		if r.code != 0 {
			t.Fatalf("pivot scenario: %v", r)
		}
		var points []string
		rootType := ""
		for l := range strings.SplitSeq(r.stdout, "\n") {
			if rest, ok := strings.CutPrefix(l, "mountinfo "); ok {
				pre, post, _ := strings.Cut(rest, " - ")
				f := strings.Fields(pre)
				points = append(points, f[4])
				if f[4] == "/" {
					rootType = strings.Fields(post)[0]
				}
			}
		}
		for _, want := range []string{"marker new\n", "host marker gone\n", "ls bin marker-new old proc\n", "bg root new\n", "bg cwd new\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("want %q in the output", want)
			}
		}
		slices.Sort(points)
		if !slices.Equal(points, []string{"/", "/bin", "/proc"}) || rootType != "tmpfs" {
			t.Errorf("mount points after the pivot %q (root %s), want only / (tmpfs), /bin and /proc", points, rootType)
		}
		if t.Failed() {
			t.Logf("%v", r)
		}
	})
}

// TestPivotKeepOld: with two arguments the old root stays mounted at OLD.
func TestPivotKeepOld(t *testing.T) {
	env, _ := pivotEnv(t)
	script := `"$COVE" pivot "$NEW" "$NEW/old"
cd /
exec /bin/sh -c 'cat "/old$MARKER"; cat /marker-new; grep -c " /old " /proc/self/mountinfo'
`
	forEachMode(t, func(t *testing.T, md *mode) {
		r := inPivotNS(t, md, env, script)
		if r.code != 0 || r.stdout != "host\nnew\n1\n" {
			t.Fatalf("got %v\nwant the host marker under /old, the new marker at /, and /old in mountinfo", r)
		}
	})
}

// TestPivotErrors: what cannot be pivoted is refused with a one-line reason
// and the fix, with exit 125 (cove pivot) or 1 (the drop-in pivot).
func TestPivotErrors(t *testing.T) {
	env, _ := pivotEnv(t)
	cases := []struct {
		name, script string
		code         int
		stderr       []string
	}{
		{"NEW not a mount point", `mkdir "$NEW/sub"; exec "$COVE" pivot "$NEW/sub"`, 125,
			[]string{"is not a mount point", "mount --bind "}},
		{"NEW not a mount point, two arguments", `mkdir "$NEW/sub" "$NEW/sub/old"; exec "$COVE" pivot "$NEW/sub" "$NEW/sub/old"`, 125,
			[]string{"is not a mount point"}},
		{"NEW not a mount point, drop-in", `mkdir "$NEW/sub"; exec "$LINKS/pivot" "$NEW/sub"`, 1,
			[]string{"pivot: cannot pivot to new root ", "/sub: Invalid argument (", "is not a mount point"}},
		{"NEW missing", `exec "$COVE" pivot "$NEW/missing"`, 125, []string{"chdir ", "no such file or directory"}},
		{"OLD outside NEW", `exec "$COVE" pivot "$NEW" /proc`, 125,
			[]string{"is not at or under"}},
		{"shared propagation", `mount --make-shared "$NEW"; exec "$COVE" pivot "$NEW"`, 125,
			[]string{"shared propagation", "mount --make-rprivate /"}},
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := inPivotNS(t, md, env, tc.script)
				if r.code != tc.code {
					t.Fatalf("got %v\nwant exit %d", r, tc.code)
				}
				line := oneLine(t, r.stderr)
				for _, s := range tc.stderr {
					if !strings.Contains(line, s) {
						t.Errorf("stderr %q lacks %q", line, s)
					}
				}
			})
		}
	})
}

// TestPivotPrivilegeAndUsage: without CAP_SYS_ADMIN over the mount
// namespace, and with wrong arguments, nothing is attempted and the reason
// is one line. The target is a plain directory, so even a wrongly
// privileged call could not pivot anything.
func TestPivotPrivilegeAndUsage(t *testing.T) {
	links := spLinks(t)
	target := spWorldDir(t)
	pivotLink := filepath.Join(links, "pivot")
	type tc struct {
		name   string
		prog   string
		args   []string
		code   int
		stdout string
		stderr string
	}
	cases := []tc{
		{"root of a user namespace does not own the host's mounts", "unshare", []string{"--user", "--map-root-user", coveBin, "pivot", target}, 125, "",
			"needs CAP_SYS_ADMIN in the user namespace that owns this mount namespace"},
		{"the same, drop-in", "unshare", []string{"--user", "--map-root-user", pivotLink, target}, 1, "",
			"pivot: cannot pivot to new root " + target + ": Operation not permitted ("},
		{"no arguments", coveBin, []string{"pivot"}, 125, "", "no NEW root given"},
		{"three arguments", coveBin, []string{"pivot", target, target, target}, 125, "", "too many arguments"},
		{"unknown option", coveBin, []string{"pivot", "--bogus", target}, 125, "", "unknown option --bogus"},
		{"empty NEW", coveBin, []string{"pivot", ""}, 125, "", "NEW is empty"},
		{"empty OLD", coveBin, []string{"pivot", target, ""}, 125, "", "OLD is empty"},
		{"--help teaches", coveBin, []string{"pivot", "--help"}, 0, "MNT_DETACH", ""},
		{"drop-in: no arguments is 64", pivotLink, nil, 64, "", "Usage: " + pivotLink + " NEW-ROOT [PUT-OLD]"},
		{"drop-in: three arguments is 64", pivotLink, []string{target, target, target}, 64, "", "Usage: "},
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		all := cases
		if !md.root {
			// Only an unprivileged caller may be pointed at the host's
			// mount namespace itself.
			all = append(all, tc{"unprivileged, host namespace", coveBin, []string{"pivot", target}, 125, "", "run it in a new mount namespace (unshare -Urm"})
		}
		for _, tc := range all {
			t.Run(tc.name, func(t *testing.T) {
				r := spRun(t, md, spOpts{}, tc.prog, tc.args...)
				if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
					t.Fatalf("got %v\nwant exit %d, stdout containing %q, stderr containing %q", r, tc.code, tc.stdout, tc.stderr)
				}
				if tc.stderr != "" && tc.code != 64 {
					oneLine(t, r.stderr)
				}
			})
		}
	})
}

// TestRunInsideUnshareUr: `cove run` by root of a user namespace that maps
// only uid 0 (`unshare -Ur`, setgroups denied): the default fails with a
// message that says why and what to do; --map-host-root, the fix it names,
// then works (the caller's setgroups denial is inherited, not fought), as
// do isolate and --no-namespaces.
func TestRunInsideUnshareUr(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		r := spRun(t, md, spOpts{}, unshare, "-Ur", coveBin, "run", "--", "id", "-u")
		if r.code != 125 || !strings.Contains(r.stderr, "not mapped in this user namespace") || !strings.Contains(r.stderr, "--map-host-root") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("default inside unshare -Ur: want one line naming the unmapped uid and --map-host-root, exit 125\n%v", r)
		}
		r = spRun(t, md, spOpts{}, unshare, "-Ur", coveBin, "run", "--map-host-root", "--", "id", "-u")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
			t.Fatalf("--map-host-root inside unshare -Ur: want uid 0\n%v", r)
		}
		// isolate maps the caller's own id: it works there as it is.
		r = spRun(t, md, spOpts{}, unshare, "-Ur", coveBin, "isolate", "--", "id", "-u")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
			t.Fatalf("isolate inside unshare -Ur: want uid 0\n%v", r)
		}
		// Root of that namespace still empties the bounding set of a
		// program it starts without namespaces.
		r = spRun(t, md, spOpts{}, unshare, "-Ur", coveBin, "run", "--no-namespaces", "--", "grep", "^CapBnd:", "/proc/self/status")
		if r.code != 0 || !strings.Contains(r.stdout, "0000000000000000") {
			t.Fatalf("--no-namespaces inside unshare -Ur: want an empty bounding set\n%v", r)
		}
	})
}
