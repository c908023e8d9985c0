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

// TestLockFilesCreatedLikeOriginals checks that each locking tool creates a missing lock file
// with the original's mode (setlock/chpst 0600, s6-setlock 0666 minus umask, also with -r).
func TestLockFilesCreatedLikeOriginals(t *testing.T) {
	fx := getFixture(t)
	cases := []struct {
		name string
		argv func(file string) []string
	}{
		{"setlock", func(f string) []string { return []string{"setlock", f, "true"} }},
		{"chpst -l", func(f string) []string { return []string{"chpst", "-l", f, "true"} }},
		{"s6-setlock", func(f string) []string { return []string{"s6-setlock", f, "true"} }},
		{"s6-setlock -r", func(f string) []string { return []string{"s6-setlock", "-r", f, "true"} }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			modes := map[string]os.FileMode{}
			for _, impl := range []string{"real", "cove"} {
				file := fmt.Sprintf("locks/created-%d-%s", i, impl)
				var r result
				if impl == "real" {
					r = fx.runReal(t, c.argv(file), runOpts{})
				} else {
					r = fx.runCove(t, c.argv(file), runOpts{})
				}
				if r.code != 0 {
					t.Fatalf("%s %q: status %d: %s", impl, c.argv(file), r.code, r.stderr)
				}
				st, err := os.Stat(filepath.Join(fx.dir, file))
				if err != nil {
					t.Fatalf("%s did not create %s: %v", impl, file, err)
				}
				modes[impl] = st.Mode()
			}
			if modes["real"] != modes["cove"] {
				t.Errorf("lock file mode: cove %v, real %v", modes["cove"], modes["real"])
			}
		})
	}
}

// TestLockBetweenProcesses holds a lock with one implementation's tool in a running process and
// contends for it with the other's, in all four pairings: the lock kinds must interoperate with
// the real tools, and a released lock must be free again.
func TestLockBetweenProcesses(t *testing.T) {
	fx := getFixture(t)
	kinds := []struct {
		name     string
		hold     func(file string) []string
		try      func(file string) []string
		busyCode int
	}{
		{"setlock (flock)", func(f string) []string { return []string{"setlock", f, "sh", "-c", "echo held; read x; exit 0"} },
			func(f string) []string { return []string{"setlock", "-n", f, "true"} }, 111},
		{"chpst -l (flock)", func(f string) []string { return []string{"chpst", "-l", f, "sh", "-c", "echo held; read x; exit 0"} },
			func(f string) []string { return []string{"chpst", "-L", f, "true"} }, 111},
		{"s6-setlock (fcntl)", func(f string) []string { return []string{"s6-setlock", f, "sh", "-c", "echo held; read x; exit 0"} },
			func(f string) []string { return []string{"s6-setlock", "-n", f, "true"} }, 1},
	}
	for ki, k := range kinds {
		for _, holder := range []string{"real", "cove"} {
			for _, contender := range []string{"real", "cove"} {
				t.Run(fmt.Sprintf("%s held by %s, tried by %s", k.name, holder, contender), func(t *testing.T) {
					file := fmt.Sprintf("locks/between-%d-%s-%s", ki, holder, contender)
					release := fx.startHolder(t, holder, k.hold(file))
					var r result
					run := func() result {
						if contender == "real" {
							return fx.runReal(t, k.try(file), runOpts{})
						}
						return fx.runCove(t, k.try(file), runOpts{})
					}
					if r = run(); r.code != k.busyCode {
						t.Errorf("while held: status %d, want %d (stderr %q)", r.code, k.busyCode, r.stderr)
					}
					release()
					if r = run(); r.code != 0 {
						t.Errorf("after release: status %d, want 0 (stderr %q)", r.code, r.stderr)
					}
				})
			}
		}
	}
}

// startHolder starts argv (real tool or cove's personality) in the fixture directory, waits
// until it prints "held", and returns a func that makes it exit and waits for it.
func (fx *fixture) startHolder(t *testing.T, impl string, argv []string) func() {
	t.Helper()
	path := filepath.Join(fx.bin, argv[0])
	if impl == "real" {
		path = realTool(t, argv[0])
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Dir = fx.dir
	cmd.Env = []string{"PATH=" + systemPath}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "held" {
			t.Fatalf("holder %q printed %q", argv, s)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("holder %q did not get its lock", argv)
	}
	done := false
	release := func() {
		if done {
			return
		}
		done = true
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("holder %q: %v", argv, err)
		}
	}
	t.Cleanup(release)
	return release
}
