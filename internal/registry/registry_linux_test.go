package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove/internal/testutil"
)

// The tests run as whoever runs them; run as root, TestUnprivileged runs
// them all again as uid 65534.

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
		why  string
	}{
		{"web", true, "letters"},
		{"db-1.prod_x", true, "every allowed character"},
		{"9lives", true, "a leading digit when not all digits"},
		{strings.Repeat("a", 64), true, "64 characters: a hostname's limit"},
		{"", false, "empty"},
		{strings.Repeat("a", 65), false, "longer than a hostname"},
		{"123", false, "only digits: reads as a pid"},
		{".hidden", false, "leading dot: temporary files start with one"},
		{"-x", false, "leading dash: reads as an option"},
		{"_x", false, "leading underscore"},
		{"a/b", false, "a slash would leave the directory"},
		{"..", false, "dot-dot"},
		{"a b", false, "a space"},
		{"caf\xc3\xa9", false, "non-ASCII"},
		{"a\x00b", false, "NUL"},
	}
	for _, c := range cases {
		err := ValidateName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("%s: ValidateName(%q) = %v, want ok=%v", c.why, c.name, err, c.ok)
		}
	}
}

// testBase is a registry named "cove" in dir, which must be the caller's
// (private) or root's (/run-like).
func testBase(dir, what string, own bool) base {
	if own {
		return base{dir, "cove", what, private}
	}
	return base{dir, "cove", what, rootRun}
}

// privateBase returns a fresh directory of the caller's, mode 0700, as
// XDG_RUNTIME_DIR must be.
func privateBase(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func openPrivate(t *testing.T, base string) *Dir {
	t.Helper()
	d, err := openIn(testBase(base, "test base "+base, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestOpenChecksTheDirectory(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, base string)
		private bool
		want    string // "" = opens
	}{
		{"fresh private base", func(*testing.T, string) {}, true, ""},
		{"existing registry", func(t *testing.T, base string) { os.Mkdir(filepath.Join(base, "cove"), 0o700) }, true, ""},
		{"base open to others", func(t *testing.T, base string) { os.Chmod(base, 0o755) }, true, "mode 0755"},
		{"registry open to others", func(t *testing.T, base string) {
			os.Mkdir(filepath.Join(base, "cove"), 0o700)
			os.Chmod(filepath.Join(base, "cove"), 0o755)
		}, true, "refusing to trust it"},
		{"registry is a symlink to a private directory", func(t *testing.T, base string) {
			other := privateBase(t)
			os.Symlink(other, filepath.Join(base, "cove"))
		}, true, "symlink"},
		{"registry is a file", func(t *testing.T, base string) {
			os.WriteFile(filepath.Join(base, "cove"), nil, 0o600)
		}, true, "not a directory"},
		{"shared base of another user than root", func(*testing.T, string) {}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := privateBase(t)
			c.setup(t, base)
			want := c.want
			if !c.private {
				if os.Geteuid() == 0 {
					os.Chown(base, 65534, 65534)
				}
				want = "must be root's"
			}
			d, err := openIn(testBase(base, "base "+base, c.private))
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(base, "cove"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o777 != 0o700 {
					t.Fatalf("registry directory: mode %o, %v; want a directory with mode 0700", st.Mode, err)
				}
				return
			}
			if err == nil {
				d.Close()
				t.Fatalf("opened; want an error with %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q; want %q in it", err, want)
			}
		})
	}
	t.Run("root's /run-like base", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("a base owned by root needs root")
		}
		base := privateBase(t)
		os.Chmod(base, 0o755)
		d, err := openIn(testBase(base, base, false))
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		os.Chmod(base, 0o775)
		if d, err := openIn(testBase(base, base, false)); err == nil || !strings.Contains(err.Error(), "not writable by others") {
			if d != nil {
				d.Close()
			}
			t.Fatalf("group-writable base: %v", err)
		}
	})
}

func TestOpenLocation(t *testing.T) {
	t.Run("XDG_RUNTIME_DIR", func(t *testing.T) {
		base := privateBase(t)
		t.Setenv("XDG_RUNTIME_DIR", base)
		d, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if d.Path() != filepath.Join(base, "cove") {
			t.Fatalf("path %s", d.Path())
		}
	})
	t.Run("relative XDG_RUNTIME_DIR", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "run/user")
		if _, err := Open(); err == nil || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR") {
			t.Fatalf("want an error naming XDG_RUNTIME_DIR, got %v", err)
		}
	})
	t.Run("XDG_RUNTIME_DIR of someone else", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "/")
		if os.Geteuid() == 0 {
			t.Setenv("XDG_RUNTIME_DIR", "/proc") // root's, but mode 0555
		}
		if _, err := Open(); err == nil || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR") {
			t.Fatalf("want an error naming XDG_RUNTIME_DIR, got %v", err)
		}
	})
	t.Run("no XDG_RUNTIME_DIR", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "")
		b, err := runtimeBase()
		if err != nil {
			t.Fatal(err)
		}
		uid := os.Geteuid()
		switch {
		case uid == 0:
			if b.dir != "/run" || b.name != "cove" || b.kind != rootRun {
				t.Fatalf("root: %+v, want /run/cove", b)
			}
		case onDisk(fmt.Sprintf("/run/user/%d", uid)):
			if b.dir != fmt.Sprintf("/run/user/%d", uid) || b.kind != private {
				t.Fatalf("%+v, want /run/user/%d/cove", b, uid)
			}
		default:
			if b.dir != "/tmp" || b.name != fmt.Sprintf("cove-%d", uid) || b.kind != sticky {
				t.Fatalf("%+v, want /tmp/cove-%d", b, uid)
			}
		}
	})
	t.Run("sticky /tmp-like base", func(t *testing.T) {
		dir := t.TempDir()
		os.Chmod(dir, 0o777|os.ModeSticky)
		name := fmt.Sprintf("cove-%d", os.Geteuid())
		d, err := openIn(base{dir, name, dir, sticky})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil || st.Mode&0o777 != 0o700 || int(st.Uid) != os.Geteuid() {
			t.Fatalf("%s: mode %o uid %d (%v); want the caller's, 0700", name, st.Mode&0o777, st.Uid, err)
		}
		// Somebody else's directory (or a symlink) under the same name, made
		// before us, is refused: at worst a denial of service, never trust.
		os.RemoveAll(filepath.Join(dir, name))
		os.Symlink("/", filepath.Join(dir, name))
		if d, err := openIn(base{dir, name, dir, sticky}); err == nil || !strings.Contains(err.Error(), "symlink") {
			if d != nil {
				d.Close()
			}
			t.Fatalf("symlinked registry: %v", err)
		}
		os.Remove(filepath.Join(dir, name))
		if os.Geteuid() == 0 {
			os.Mkdir(filepath.Join(dir, name), 0o700)
			os.Chown(filepath.Join(dir, name), 65534, 65534)
			if d, err := openIn(base{dir, name, dir, sticky}); err == nil || !strings.Contains(err.Error(), "refusing to trust") {
				if d != nil {
					d.Close()
				}
				t.Fatalf("another user's registry: %v", err)
			}
		}
		// A world-writable base without the sticky bit is refused.
		other := t.TempDir()
		os.Chmod(other, 0o777)
		if d, err := openIn(base{other, name, other, sticky}); err == nil || !strings.Contains(err.Error(), "sticky") {
			if d != nil {
				d.Close()
			}
			t.Fatalf("non-sticky base: %v", err)
		}
	})
}

// sandboxed is a process in new user, mount and PID namespaces of the
// caller's (as a container's program is), running a shell script.
type sandboxed struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startSandboxed starts /bin/sh -c script in new namespaces and waits for
// its first line of output (scripts print one once they are set up).
func startSandboxed(t *testing.T, script string) *sandboxed {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOSPC) {
			t.Skipf("cannot create a user namespace here: %v", err)
		}
		t.Fatal(err)
	}
	s := &sandboxed{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { s.stop() })
	if _, err := s.out.ReadString('\n'); err != nil {
		t.Fatalf("sandboxed process: %v", err)
	}
	return s
}

func (s *sandboxed) pid() int { return s.cmd.Process.Pid }

// stop kills the process and reaps it.
func (s *sandboxed) stop() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func sleeper(t *testing.T) *sandboxed {
	return startSandboxed(t, "echo ready; exec sleep 1000")
}

func describe(t *testing.T, name string, s *sandboxed) *Record {
	t.Helper()
	rec, err := Describe(name, s.pid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestRegisterLookupRemove(t *testing.T) {
	d := openPrivate(t, privateBase(t))
	a, b := sleeper(t), sleeper(t)
	recA, recB := describe(t, "web", a), describe(t, "web", b)
	recA.Rootfs = "/srv/web"
	if recA.UID != os.Geteuid() || recA.Supervisor != os.Getpid() || recA.Program.PIDNS == recB.Program.PIDNS {
		t.Fatalf("record: %+v", recA)
	}
	if err := d.Register(recA); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(d.Path(), "web.json")
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil || st.Mode&0o777 != 0o600 {
		t.Fatalf("record file mode %o (%v), want 0600", st.Mode&0o777, err)
	}
	var onDisk Record
	if b, err := os.ReadFile(file); err != nil || json.Unmarshal(b, &onDisk) != nil || onDisk.Program != recA.Program || onDisk.Rootfs != "/srv/web" {
		t.Fatalf("record on disk: %+v %v", onDisk, err)
	}
	if ents, _ := os.ReadDir(d.Path()); len(ents) != 1 {
		t.Fatalf("directory holds %v, want only web.json", ents)
	}

	c, err := d.Lookup("web")
	if err != nil {
		t.Fatal(err)
	}
	if c.Program.PID != a.pid() || !c.Alive() {
		t.Fatalf("lookup: %+v alive=%v", c.Record, c.Alive())
	}
	c.Close()
	if list, err := d.List(); err != nil || len(list) != 1 || list[0].Name != "web" {
		t.Fatalf("list: %+v %v", list, err)
	}

	// The name is taken while a's program lives.
	var inUse *InUseError
	if err := d.Register(recB); !errors.As(err, &inUse) || inUse.PID != a.pid() || err.Error() != fmt.Sprintf("name web is in use by pid %d", a.pid()) {
		t.Fatalf("second registration: %v", err)
	}
	if err := d.Check("web"); !errors.As(err, &inUse) {
		t.Fatalf("check: %v", err)
	}
	// Registering the same container again is not a conflict.
	if err := d.Register(recA); err != nil {
		t.Fatalf("re-registration: %v", err)
	}
	// Only the record's own container removes it.
	if err := d.Remove(recB); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("removed by another container's supervisor: %v", err)
	}
	if err := d.Remove(recA); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("record still there after Remove: %v", err)
	}
	if _, err := d.Lookup("web"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no container named web") {
		t.Fatalf("lookup after removal: %v", err)
	}
	if err := d.Remove(recA); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if _, err := d.Lookup("../etc"); err == nil {
		t.Fatal("looked up an invalid name")
	}
	a.stop()
	if _, err := Describe("web", a.pid(), 0); !errors.Is(err, ErrGone) {
		t.Fatalf("Describe of an exited program: %v; want ErrGone", err)
	}
}

// TestStale: records of containers that are gone, or whose pid now names
// another process or a process in other namespaces, are not containers:
// List and Lookup delete them, and the name is free again.
func TestStale(t *testing.T) {
	cases := []struct {
		name  string
		stale func(t *testing.T, d *Dir) *Record
	}{
		{"program exited", func(t *testing.T, d *Dir) *Record {
			s := sleeper(t)
			rec := describe(t, "gone", s)
			s.stop()
			return rec
		}},
		{"program exited, not reaped", func(t *testing.T, d *Dir) *Record {
			s := sleeper(t)
			rec := describe(t, "zombie", s)
			syscall.Kill(s.pid(), syscall.SIGKILL)
			for procState(s.pid()) != "Z" {
				time.Sleep(5 * time.Millisecond)
			}
			return rec
		}},
		{"pid reused (other start time)", func(t *testing.T, d *Dir) *Record {
			rec := describe(t, "reused", sleeper(t))
			rec.Program.StartTime++
			return rec
		}},
		{"other mount namespace (forged)", func(t *testing.T, d *Dir) *Record {
			rec := describe(t, "otherns", sleeper(t))
			rec.Program.MntNS.Ino++
			return rec
		}},
		{"program moved to a new mount namespace", func(t *testing.T, d *Dir) *Record {
			s := startSandboxed(t, "echo ready; read x; exec unshare --mount sh -c 'echo moved; exec sleep 1000'")
			rec := describe(t, "moved", s)
			fmt.Fprintln(s.stdin, "go")
			if l, err := s.out.ReadString('\n'); err != nil || l != "moved\n" {
				t.Skipf("unshare --mount inside the test's user namespace: %q %v", l, err)
			}
			return rec
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := openPrivate(t, privateBase(t))
			rec := c.stale(t, d)
			if err := d.write(rec.Name, mustJSON(t, rec)); err != nil {
				t.Fatal(err)
			}
			if list, err := d.List(); err != nil || len(list) != 0 {
				t.Fatalf("list: %+v %v; want nothing", list, err)
			}
			if _, err := os.Stat(filepath.Join(d.Path(), rec.Name+".json")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stale record not pruned by List: %v", err)
			}
			d.write(rec.Name, mustJSON(t, rec))
			if _, err := d.Lookup(rec.Name); !errors.Is(err, ErrNotFound) {
				t.Fatalf("lookup: %v; want ErrNotFound", err)
			}
			if _, err := os.Stat(filepath.Join(d.Path(), rec.Name+".json")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stale record not pruned by Lookup: %v", err)
			}
			// A stale record does not hold the name.
			d.write(rec.Name, mustJSON(t, rec))
			if err := d.Check(rec.Name); err != nil {
				t.Fatalf("check: %v", err)
			}
			d.write(rec.Name, mustJSON(t, rec))
			fresh := describe(t, rec.Name, sleeper(t))
			if err := d.Register(fresh); err != nil {
				t.Fatalf("register over a stale record: %v", err)
			}
			if c, err := d.Lookup(rec.Name); err != nil || c.Program != fresh.Program {
				t.Fatalf("lookup after replacement: %v", err)
			} else {
				c.Close()
			}
		})
	}
}

// TestNotYours: a record naming a live process of another user is refused
// by Lookup (and dropped), never taken for a container of the caller's.
func TestNotYours(t *testing.T) {
	d := openPrivate(t, privateBase(t))
	var rec Record
	if os.Geteuid() == 0 {
		// A process in a user namespace owned by uid 65534: unshare(1) run
		// as 65534 creates it and execs in place.
		cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "/bin/sh", "-c", "echo ready; exec sleep 1000")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, Pdeathsig: syscall.SIGKILL}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start unshare as uid 65534: %v", err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		if l, err := bufio.NewReader(out).ReadString('\n'); l != "ready\n" {
			t.Skipf("uid 65534 cannot create a user namespace here: %q %v", l, err)
		}
		id, pidfd, err := probe(cmd.Process.Pid, nil)
		if !errors.Is(err, ErrNotYours) {
			if pidfd >= 0 {
				unix.Close(pidfd)
			}
			t.Fatalf("probe of another user's process: %v; want ErrNotYours", err)
		}
		rec = Record{Name: "theirs", Program: id, UID: 0, Created: time.Now()}
		// probe stopped at the owner check: the namespaces it read are right.
	} else {
		// Process 1: its start time is public, its namespaces are not.
		st, err := startTime("/proc/1/stat")
		if err != nil {
			t.Fatal(err)
		}
		rec = Record{Name: "theirs", Program: Identity{PID: 1, StartTime: st}, UID: os.Geteuid(), Created: time.Now()}
	}
	if err := d.write(rec.Name, mustJSON(t, &rec)); err != nil {
		t.Fatal(err)
	}
	_, err := d.Lookup("theirs")
	if !errors.Is(err, ErrNotYours) || !strings.Contains(err.Error(), "does not belong to you") {
		t.Fatalf("lookup of another user's process: %v", err)
	}
	if list, err := d.List(); err != nil || len(list) != 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
}

// TestFilesLeftBehind: a temporary file of an interrupted write is removed;
// a symlink or a file that is not a record is never followed or trusted.
func TestFilesLeftBehind(t *testing.T) {
	d := openPrivate(t, privateBase(t))
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("keep"), 0o600)
	os.WriteFile(filepath.Join(d.Path(), ".web.tmp-0123"), []byte("{"), 0o600)
	os.Symlink(secret, filepath.Join(d.Path(), "link.json"))
	os.WriteFile(filepath.Join(d.Path(), "junk.json"), []byte("{not json"), 0o600)
	os.WriteFile(filepath.Join(d.Path(), "other.json"), mustJSON(t, &Record{Name: "different", Program: Identity{PID: 1}, UID: os.Geteuid()}), 0o600)
	os.WriteFile(filepath.Join(d.Path(), "README"), []byte("not ours"), 0o600)
	if list, err := d.List(); err != nil || len(list) != 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
	ents, _ := os.ReadDir(d.Path())
	if len(ents) != 1 || ents[0].Name() != "README" {
		t.Fatalf("left in the registry: %v; want only README", ents)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "keep" {
		t.Fatalf("symlink target touched: %q %v", b, err)
	}
}

// TestConcurrentRegistration: cove processes registering one name at once
// (each with its own open directory) end with exactly one holder, and a
// reader never sees a partial record.
func TestConcurrentRegistration(t *testing.T) {
	base := privateBase(t)
	const n = 6
	var procs []*sandboxed
	for i := 0; i < n; i++ {
		procs = append(procs, sleeper(t))
	}
	stop := make(chan struct{})
	var readerErr error
	var wgr sync.WaitGroup
	wgr.Add(1)
	go func() {
		defer wgr.Done()
		d := openPrivate(t, base)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := d.read("race"); err != nil && !errors.Is(err, ErrNotFound) {
				readerErr = err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range procs {
		rec := describe(t, "race", procs[i])
		d := openPrivate(t, base)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Register(rec)
		}()
	}
	wg.Wait()
	close(stop)
	wgr.Wait()
	if readerErr != nil {
		t.Fatalf("a reader saw a broken record: %v", readerErr)
	}
	won := 0
	for _, err := range errs {
		var inUse *InUseError
		switch {
		case err == nil:
			won++
		case !errors.As(err, &inUse):
			t.Fatalf("registration: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d registrations of one name succeeded: %v", won, errs)
	}
}

// TestUnprivileged runs this package's tests again as uid 65534.
func TestUnprivileged(t *testing.T) {
	out := testutil.AsNobody(t, "registry.test", []string{"PATH=/usr/bin:/bin"},
		"-test.v", "-test.run", "^Test(ValidateName|OpenChecksTheDirectory|OpenLocation|RegisterLookupRemove|Stale|NotYours|FilesLeftBehind|ConcurrentRegistration)$")
	if strings.Contains(out, "--- SKIP: TestRegisterLookupRemove") {
		t.Skip("uid 65534 cannot create user namespaces here (see the log)")
	}
}

func mustJSON(t *testing.T, rec *Record) []byte {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// procState is the state letter of pid ("" if it is gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if f := strings.Fields(string(b[i+1:])); i > 0 && len(f) > 0 {
		return f[0]
	}
	return ""
}

func onDisk(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
