// Package dive holds end-to-end tests of cove serve, cove dive and the
// dive/dived personalities: a root server, an unprivileged client.
package dive

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testUser = "cove-dive"

var (
	binDir   string // 0755 directory with cove and the dive/dived links
	coveBin  string
	skipAll  string
	uid, gid int
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		skipAll = "needs root: the server switches to the client's uid"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "cove-dive-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	binDir = dir
	coveBin = filepath.Join(dir, "cove")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", coveBin, "github.com/covebox/cove/cmd/cove")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cove:", err)
		return 1
	}
	for _, n := range []string{"dive", "dived"} {
		os.Symlink("cove", filepath.Join(dir, n))
	}
	if _, err := user.Lookup(testUser); err != nil {
		if out, err := exec.Command("useradd", "-m", testUser).CombinedOutput(); err != nil {
			skipAll = fmt.Sprintf("cannot create %s: %v %s", testUser, err, out)
		}
	}
	if u, err := user.Lookup(testUser); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	return m.Run()
}

func need(t *testing.T) {
	t.Helper()
	if skipAll != "" {
		t.Skip(skipAll)
	}
}

// worldDir is a temporary directory the test user can enter.
func worldDir(t *testing.T) string {
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	return d
}

type server struct {
	cmd  *exec.Cmd
	sock string
	log  *bytes.Buffer
}

// startServer runs `cove serve SOCK ARGS...` (or dived with dived true) as
// root, the socket open to everyone.
func startServer(t *testing.T, dived bool, args ...string) *server {
	t.Helper()
	dir := worldDir(t)
	sock := filepath.Join(dir, "s")
	var cmd *exec.Cmd
	if dived {
		cmd = exec.Command(filepath.Join(binDir, "dived"), append([]string{sock, "-C", "777"}, args...)...)
	} else {
		cmd = exec.Command(coveBin, append([]string{"serve", sock, "--chmod", "777", "--log-level", "warn"}, args...)...)
	}
	s := &server{cmd: cmd, sock: sock, log: &bytes.Buffer{}}
	cmd.Stderr = s.log
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server did not create %s: %s", sock, s.log)
	return nil
}

// client describes how to run a client as the test user.
type client struct {
	name string // "dive" (the 1100 personality) or "cove dive" (native)
}

var clients = []client{{"dive"}, {"cove dive"}}

func (c client) argv(sock string, cmd ...string) []string {
	if c.name == "dive" {
		return append([]string{filepath.Join(binDir, "dive"), sock}, cmd...)
	}
	return append([]string{coveBin, "dive", sock}, cmd...)
}

// signalExit is what the client exits with when the program dies of sig.
func (c client) signalExit(sig syscall.Signal) int {
	if c.name == "dive" {
		return int(sig)
	}
	return 128 + int(sig)
}

type run struct {
	env   []string
	dir   string
	stdin string
	files []*os.File
	root  bool // run the client as root, not the test user
}

// do runs argv as the test user and returns stdout, stderr, exit code.
func do(t *testing.T, r run, argv []string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"}, r.env...)
	cmd.Dir = r.dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.Stdin = strings.NewReader(r.stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.ExtraFiles = r.files
	if !r.root {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v: timed out; stderr %s", argv, errb.String())
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}
