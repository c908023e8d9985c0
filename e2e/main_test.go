package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The e2e tests drive the built cove binary the way a user does, once as root
// and once as an unprivileged user, and check after every run that nothing
// was left behind on the host (mounts, temp entries, processes).

const e2eUser = "cove-e2e"

var (
	binDir   string // world-readable directory holding cove, probe and profile files
	coveBin  string // the cove binary under test
	probeBin string // testdata/probe, bound into sandboxes at /e2e/probe
	modes    []*mode
)

// mode is one identity the tests run cove as.
type mode struct {
	name     string
	root     bool
	uid, gid int
	cred     *syscall.Credential // nil: run as the test process itself
	home     string
	tmpdir   string // TMPDIR given to cove; must stay empty
	marker   string // a host file under /home that must not be visible inside
	skip     string // why this mode is skipped (printed)
}

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := worldTempDir("cove-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binDir = dir
	defer os.RemoveAll(dir)
	coveBin = filepath.Join(dir, "cove")
	probeBin = filepath.Join(dir, "probe")
	builds := []struct{ out, pkg, wd string }{
		{coveBin, "./cmd/cove", ".."},
		{probeBin, "./testdata/probe", "."},
	}
	// COVE_E2E_BIN tests a cove binary built elsewhere instead of this tree's.
	if bin := os.Getenv("COVE_E2E_BIN"); bin != "" {
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(coveBin, b, 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: COVE_E2E_BIN:", err)
			return 1
		}
		builds = builds[1:]
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", b.out, b.pkg)
		cmd.Dir = b.wd
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
		if err := os.Chmod(b.out, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	if err := writeProfiles(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	cleanup, err := setupModes()
	defer cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	for _, md := range modes {
		if md.skip != "" {
			fmt.Fprintf(os.Stderr, "e2e: %s cases skipped: %s\n", md.name, md.skip)
		}
	}
	defer removeRootfs()
	defer removeNoSubTmps()
	return m.Run()
}

// worldTempDir makes a 0755 directory whose every ancestor others can search,
// so that the unprivileged user can run what it holds.
func worldTempDir(prefix string) (string, error) {
	for _, base := range []string{os.TempDir(), "/tmp", "/var/tmp"} {
		if !searchable(base) {
			continue
		}
		d, err := os.MkdirTemp(base, prefix)
		if err != nil {
			continue
		}
		if err := os.Chmod(d, 0o755); err != nil {
			os.RemoveAll(d)
			return "", err
		}
		return d, nil
	}
	return "", fmt.Errorf("no temp directory that other users can search (tried $TMPDIR, /tmp, /var/tmp)")
}

func searchable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == "/" {
			return true
		}
		dir = filepath.Dir(dir)
	}
}

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// setupModes fills modes: root and the dedicated user when the tests run as
// root, else only the runner itself as the unprivileged user.
func setupModes() (func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	newTmp := func() (string, error) {
		d, err := worldTempDir("cove-e2e-tmp-")
		if err != nil {
			return "", err
		}
		undo = append(undo, func() { os.RemoveAll(d) })
		return d, os.Chmod(d, 0o1777)
	}
	if os.Geteuid() != 0 {
		home, _ := os.UserHomeDir()
		md := &mode{name: "user", uid: os.Getuid(), gid: os.Getgid(), home: home}
		var err error
		if md.tmpdir, err = newTmp(); err != nil {
			return cleanup, err
		}
		if !filepath.IsAbs(home) {
			md.skip = "the runner has no home directory"
		} else {
			md.marker = filepath.Join(home, ".cove-e2e-marker-"+randHex())
			if err := os.WriteFile(md.marker, []byte("host\n"), 0o600); err != nil {
				return cleanup, err
			}
			undo = append(undo, func() { os.Remove(md.marker) })
		}
		modes = []*mode{
			{name: "root", root: true, skip: "not running as root: the root cases need uid 0"},
			md,
		}
		probeModes()
		return cleanup, nil
	}

	u, err := user.Lookup(e2eUser)
	if err != nil {
		out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", e2eUser).CombinedOutput()
		if err != nil {
			return cleanup, fmt.Errorf("useradd -m %s: %v: %s", e2eUser, err, out)
		}
		if u, err = user.Lookup(e2eUser); err != nil {
			return cleanup, err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if _, err := os.Stat(u.HomeDir); err != nil {
		if err := os.MkdirAll(u.HomeDir, 0o755); err != nil {
			return cleanup, err
		}
		os.Chown(u.HomeDir, uid, gid)
	}
	// Something in the user's home, so that "$HOME is empty inside" means
	// the host's home is hidden.
	marker := filepath.Join(u.HomeDir, ".cove-e2e-marker")
	if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
		return cleanup, err
	}
	os.Chown(marker, uid, gid)
	undo = append(undo, func() { os.Remove(marker) })

	rootHome := os.Getenv("HOME")
	if !filepath.IsAbs(rootHome) {
		rootHome = "/root"
	}
	r := &mode{name: "root", root: true, uid: 0, gid: 0, home: rootHome, marker: marker}
	us := &mode{name: "user", uid: uid, gid: gid, home: u.HomeDir, marker: marker,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	for _, md := range []*mode{r, us} {
		if md.tmpdir, err = newTmp(); err != nil {
			return cleanup, err
		}
	}
	modes = []*mode{r, us}
	probeModes()
	return cleanup, nil
}

// probeModes runs `cove run -- true` in each mode and skips a mode only when
// cove says user namespaces are not available to it.
func probeModes() {
	for _, md := range modes {
		if md.skip != "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := md.command(ctx, randHex(), nil, "run", "--", "true")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		if err != nil && strings.Contains(stderr.String(), "user namespaces") {
			md.skip = "user namespaces are unavailable: " + strings.TrimSpace(stderr.String())
		}
	}
}

// writeProfiles writes the profile files the tests use into dir.
func writeProfiles(dir string) error {
	files := map[string]string{
		"badkey.toml":       "hostname = \"x\"\nbogus_e2e_key = 1\n",
		"badkey.json":       "{\"hostname\": \"x\", \"bogus_e2e_key\": 1}\n",
		"minimal-host.toml": "extends = \"minimal\"\nhostname = \"from-toml\"\n\n[env]\nset = [{name = \"FROM_PROFILE\", value = \"toml\"}]\n",
		"default-host.json": "{\"extends\": \"default\", \"hostname\": \"from-json\", \"env\": {\"set\": [{\"name\": \"FROM_PROFILE\", \"value\": \"json\"}]}}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// env is the environment cove starts with; runID marks every process of
// one run so that leftovers can be found.
func (md *mode) env(runID string, extra []string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + md.home,
		"TMPDIR=" + md.tmpdir,
		"LANG=C",
		"COVE_E2E_RUN=" + runID,
	}
	return append(env, extra...)
}

func (md *mode) command(ctx context.Context, runID string, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, coveBin, args...)
	cmd.Env = md.env(runID, extraEnv)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if md.cred != nil {
		cmd.SysProcAttr.Credential = md.cred
	}
	cmd.WaitDelay = time.Second
	return cmd
}

// forEachMode runs f as subtests "root" and "user".
func forEachMode(t *testing.T, f func(t *testing.T, md *mode)) {
	t.Helper()
	forModes(t, []string{"root", "user"}, f)
}

// forModes runs f as subtests for the named modes only.
func forModes(t *testing.T, names []string, f func(t *testing.T, md *mode)) {
	t.Helper()
	for _, md := range modes {
		if !slices.Contains(names, md.name) {
			continue
		}
		t.Run(md.name, func(t *testing.T) {
			if md.skip != "" {
				t.Skip(md.skip)
			}
			f(t, md)
		})
	}
}

// runOpts are the less common knobs of a run.
type runOpts struct {
	env   []string   // added to cove's environment
	extra []*os.File // cove's fds 3, 4, ...
	dir   string     // cove's working directory
	sub   string     // the cove command (default "run")
	stdin io.Reader
	// tty, if set, is cove's stdin, stdout, stderr and controlling terminal
	// (in a new session), as in an interactive shell.
	tty *os.File
}

type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout:\n%s\nstderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// running is a started cove.
type running struct {
	t       *testing.T
	md      *mode
	cmd     *exec.Cmd
	runID   string
	cancel  context.CancelFunc
	ctx     context.Context
	before  hostState
	start   time.Time
	so, se  bytes.Buffer
	outPipe io.ReadCloser // set when startCove was asked for a stdout pipe
}

// startCove starts `cove run ARGS...` as md. A run that takes more than 30 s
// is killed and fails the test.
func startCove(t *testing.T, md *mode, o runOpts, pipeStdout bool, args ...string) *running {
	t.Helper()
	r := &running{t: t, md: md, runID: randHex()}
	r.before = snapshot(t, md)
	r.ctx, r.cancel = context.WithTimeout(context.Background(), 30*time.Second)
	sub := o.sub
	if sub == "" {
		sub = "run"
	}
	r.cmd = md.command(r.ctx, r.runID, o.env, append([]string{sub}, args...)...)
	r.cmd.ExtraFiles = o.extra
	r.cmd.Dir = o.dir
	r.cmd.Stdin = o.stdin
	r.cmd.Stderr = &r.se
	if o.tty != nil {
		r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = o.tty, o.tty, o.tty
		r.cmd.SysProcAttr.Setsid = true
		r.cmd.SysProcAttr.Setctty = true
		r.cmd.SysProcAttr.Ctty = 0
	} else if pipeStdout {
		p, err := r.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		r.outPipe = p
	} else {
		r.cmd.Stdout = &r.so
	}
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		r.cancel()
		t.Fatalf("start cove: %v", err)
	}
	return r
}

// wait waits for cove, then checks that the run left nothing on the host.
func (r *running) wait() result {
	r.t.Helper()
	defer r.cancel()
	err := r.cmd.Wait()
	res := result{stdout: r.so.String(), stderr: r.se.String(), elapsed: time.Since(r.start)}
	if r.ctx.Err() != nil {
		r.t.Fatalf("cove %q hung and was killed after 30 s\n%v", r.cmd.Args, res)
	}
	if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.code = 128 + int(ws.Signal())
	} else {
		res.code = r.cmd.ProcessState.ExitCode()
	}
	if err != nil && res.code == -1 {
		r.t.Fatalf("cove %q: %v", r.cmd.Args, err)
	}
	checkClean(r.t, r.md, r.runID, r.before)
	return res
}

// runCove runs `cove run ARGS...` as md and returns its output and status.
func runCove(t *testing.T, md *mode, args ...string) result {
	t.Helper()
	return runCoveOpts(t, md, runOpts{}, args...)
}

func runCoveOpts(t *testing.T, md *mode, o runOpts, args ...string) result {
	t.Helper()
	return startCove(t, md, o, false, args...).wait()
}

// mustRun runs cove and fails unless it exits 0.
func mustRun(t *testing.T, md *mode, args ...string) string {
	t.Helper()
	r := runCove(t, md, args...)
	if r.code != 0 {
		t.Fatalf("cove run %q: want exit 0\n%v", args, r)
	}
	return r.stdout
}

// hostState is what a run must not change on the host.
type hostState struct {
	mounts map[string]string // mount id → mountinfo line
	tmp    map[string]bool   // names in /tmp and /dev/shm
}

func snapshot(t *testing.T, md *mode) hostState {
	t.Helper()
	s := hostState{mounts: map[string]string{}, tmp: map[string]bool{}}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		id, _, _ := strings.Cut(l, " ")
		s.mounts[id] = l
	}
	for _, d := range []string{"/tmp", "/dev/shm"} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			s.tmp[filepath.Join(d, e.Name())] = true
		}
	}
	return s
}

// checkClean fails the test if, after a run: a mount appeared in the test's
// mount namespace; cove's TMPDIR is not empty; a new entry in /tmp or
// /dev/shm belongs to the sandbox's host uid (only attributable in user
// mode, where that uid is ours alone); or a process of the run is alive.
func checkClean(t *testing.T, md *mode, runID string, before hostState) {
	t.Helper()
	after := snapshot(t, md)
	var added []string
	for id, l := range after.mounts {
		if _, ok := before.mounts[id]; !ok {
			added = append(added, l)
		}
	}
	if len(added) > 0 {
		sort.Strings(added)
		t.Errorf("new mounts on the host after the run:\n%s", strings.Join(added, "\n"))
	}
	if ents, err := os.ReadDir(md.tmpdir); err != nil || len(ents) > 0 {
		t.Errorf("cove's TMPDIR %s is not empty after the run: %v %v", md.tmpdir, names(ents), err)
	}
	if !md.root {
		for p := range after.tmp {
			if before.tmp[p] {
				continue
			}
			var st syscall.Stat_t
			if syscall.Lstat(p, &st) == nil && int(st.Uid) == md.uid {
				t.Errorf("new host temp entry %s owned by uid %d after the run", p, md.uid)
			}
		}
	}
	if procs := findProcs(func(pid int) bool { return hasEnv(pid, "COVE_E2E_RUN="+runID) }); len(procs) > 0 {
		t.Errorf("processes of the run still alive after cove exited: %s", describeProcs(procs))
		for _, p := range procs { // ours (found by the run's marker): do not leave them
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

func names(ents []os.DirEntry) []string {
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return n
}

// findProcs returns the host pids for which match is true.
func findProcs(match func(pid int) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if match(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

// procState is the state letter of pid (R, S, Z, ...), or "" if it is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	return statState(string(b))
}

// statState extracts the state field of a /proc/PID/stat line.
func statState(line string) string {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(line[i+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func describeProcs(pids []int) string {
	var s []string
	for _, p := range pids {
		s = append(s, fmt.Sprintf("%d[%s] %q", p, procState(p), cmdline(p)))
	}
	return strings.Join(s, ", ")
}

// oneLine fails unless s is exactly one non-empty line.
func oneLine(t *testing.T, s string) string {
	t.Helper()
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 || strings.TrimSpace(s) == "" {
		t.Fatalf("want exactly one line on stderr, got %q", s)
	}
	return strings.TrimSuffix(s, "\n")
}
