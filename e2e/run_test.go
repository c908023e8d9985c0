package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probeArgs binds the probe helper at /e2e inside the sandbox.
func probeArgs() []string { return []string{"--ro-bind", binDir, "/e2e"} }

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string // for failures of cove itself: the one line must contain this
	}{
		{"0", []string{"--", "true"}, 0, ""},
		{"42", []string{"--", "sh", "-c", "exit 42"}, 42, ""},
		{"137-kill-9", []string{"--", "sh", "-c", "kill -9 $$"}, 137, ""},
		{"127-not-found", []string{"--", "no-such-command-e2e"}, 127, "no-such-command-e2e"},
		{"126-not-executable", []string{"--", "/etc/passwd"}, 126, "/etc/passwd"},
		{"125-bad-bind-source", []string{"--bind", "/nonexistent-e2e-src", "/x", "--", "true"}, 125, "--bind /nonexistent-e2e-src"},
		{"125-unknown-flag", []string{"--no-such-flag-e2e", "--", "true"}, 125, "--no-such-flag-e2e"},
		{"125-profile-toml-key", []string{"--profile", "@/badkey.toml", "--", "true"}, 125, "bogus_e2e_key"},
		{"125-profile-json-key", []string{"--profile", "@/badkey.json", "--", "true"}, 125, "bogus_e2e_key"},
	}
	forEachMode(t, func(t *testing.T, md *mode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				args := slices.Clone(c.args)
				for i, a := range args {
					if rest, ok := strings.CutPrefix(a, "@/"); ok {
						args[i] = filepath.Join(binDir, rest)
					}
				}
				r := runCove(t, md, args...)
				if r.code != c.code {
					t.Fatalf("want exit %d\n%v", c.code, r)
				}
				if c.stderr == "" {
					if r.stderr != "" {
						t.Errorf("unexpected stderr %q", r.stderr)
					}
					return
				}
				if l := oneLine(t, r.stderr); !strings.Contains(l, c.stderr) {
					t.Errorf("stderr %q does not name %q", l, c.stderr)
				}
			})
		}
	})
}

func TestIdentity(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		out := mustRun(t, md, "--", "sh", "-c", "id -u; id -g; echo; cat /proc/self/uid_map; echo; cat /proc/self/gid_map")
		parts := strings.Split(out, "\n\n")
		if len(parts) != 3 {
			t.Fatalf("unexpected output %q", out)
		}
		ids := strings.Fields(parts[0])
		for i, m := range parts[1:] {
			for _, l := range strings.Split(strings.TrimSpace(m), "\n") {
				f := strings.Fields(l)
				if len(f) != 3 {
					t.Fatalf("bad map line %q", l)
				}
				if f[1] == "0" {
					t.Errorf("%s map maps host id 0 into the sandbox: %q", []string{"uid", "gid"}[i], l)
				}
				if !md.root && f[1] != strconv.Itoa([]int{md.uid, md.gid}[i]) {
					t.Errorf("%s map outside id %s, want the caller's %d", []string{"uid", "gid"}[i], f[1], []int{md.uid, md.gid}[i])
				}
			}
		}
		if !md.root {
			if want := []string{strconv.Itoa(md.uid), strconv.Itoa(md.gid)}; !slices.Equal(ids, want) {
				t.Errorf("uid/gid inside %v, want the caller's %v", ids, want)
			}
		}
	})
}

// capsAndNNP checks a /proc/self/status dump: NoNewPrivs 1 and every
// capability set empty.
func capsAndNNP(t *testing.T, status string) {
	t.Helper()
	want := map[string]string{
		"NoNewPrivs": "1", "CapInh": "0000000000000000", "CapPrm": "0000000000000000",
		"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
	}
	seen := 0
	for _, l := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if w, known := want[k]; ok && known {
			seen++
			if strings.TrimSpace(v) != w {
				t.Errorf("%s: %s, want %s", k, strings.TrimSpace(v), w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("status lacks some of %v:\n%s", want, status)
	}
}

func TestNoPrivileges(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		capsAndNNP(t, mustRun(t, md, "--", "cat", "/proc/self/status"))
	})
}

func TestReadOnlySystem(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		for _, p := range []string{"/usr/x", "/etc/x"} {
			r := runCove(t, md, "--", "touch", p)
			// strerror(EROFS); touch prints "touch: cannot touch '/usr/x': Read-only file system".
			if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
				t.Errorf("touch %s: want EROFS\n%v", p, r)
			}
		}
	})
}

func TestPrivateTmpAndHome(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		if ents, _ := os.ReadDir(md.home); len(ents) == 0 {
			t.Fatalf("host home %s is empty: the test would prove nothing", md.home)
		}
		out := mustRun(t, md, "--", "sh", "-c",
			`echo "$HOME"; ls -A /tmp; echo --; ls -A "$HOME"; echo --; echo t >/tmp/w && cat /tmp/w && echo h >"$HOME/w" && cat "$HOME/w"`)
		want := md.home + "\n--\n--\nt\nh\n"
		if out != want {
			t.Errorf("got %q, want %q (HOME, then empty /tmp and $HOME, then both writable)", out, want)
		}
	})
}

func TestHostHomeInvisible(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		if md.marker == "" {
			t.Fatal("no marker file")
		}
		if _, err := os.Stat(md.marker); err != nil {
			t.Fatalf("marker missing on the host: %v", err)
		}
		out := mustRun(t, md, "--", "sh", "-c",
			`test -e "$1" && echo "marker visible"; ls -A "$(dirname "$1")" 2>/dev/null; echo @@; ls -A /home 2>/dev/null; true`, "sh", md.marker)
		beside, home, _ := strings.Cut(out, "@@\n")
		if beside != "" {
			t.Errorf("host home contents visible inside: %q", beside)
		}
		// /home inside holds at most the mount point of the private $HOME.
		want := ""
		if rel, ok := strings.CutPrefix(md.home, "/home/"); ok {
			want = strings.Split(rel, "/")[0] + "\n"
		}
		if home != want {
			t.Errorf("/home inside lists %q, want %q", home, want)
		}
	})
}

func TestLoopbackOnly(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		out := mustRun(t, md, append(probeArgs(), "--", "sh", "-c",
			"cat /proc/net/dev; echo @@; /e2e/probe ifflags lo; /e2e/probe loopback")...)
		dev, probes, _ := strings.Cut(out, "@@\n")
		if ifs := ifaces(dev); !slices.Equal(ifs, []string{"lo"}) {
			t.Errorf("interfaces %v, want only lo", ifs)
		}
		var flags uint64
		if _, err := fmt.Sscanf(probes, "flags lo %v\n", &flags); err != nil {
			t.Fatalf("probe output %q: %v", probes, err)
		}
		if flags&syscall.IFF_UP == 0 || flags&syscall.IFF_RUNNING == 0 {
			t.Errorf("lo flags %#x: not up and running", flags)
		}
		if !strings.Contains(probes, "loopback ok") {
			t.Errorf("no TCP over loopback: %q", probes)
		}
	})
}

// ifaces lists the interface names of a /proc/net/dev dump.
func ifaces(dev string) []string {
	var names []string
	for _, l := range strings.Split(dev, "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	sort.Strings(names)
	return names
}

func TestHostname(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		if out := mustRun(t, md, "--", "uname", "-n"); out != "cove\n" {
			t.Errorf("default hostname %q, want cove", out)
		}
		if out := mustRun(t, md, "--hostname", "e2e-host", "--", "uname", "-n"); out != "e2e-host\n" {
			t.Errorf("--hostname: got %q", out)
		}
	})
}

// listFds prints the fds open in the shell. The glob's own directory fd is
// closed by the time the loop runs, so [ -L ] filters it out.
const listFds = `for f in /proc/self/fd/*; do [ -L "$f" ] && echo "${f##*/}"; done; `

func TestOnlyDeclaredFds(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		// cove gets two extra fds, 3 and 4 (write ends of pipes).
		pipes := func() (r [2]*os.File, w [2]*os.File) {
			for i := range 2 {
				var err error
				if r[i], w[i], err = os.Pipe(); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		read := func(r *os.File) string {
			defer r.Close()
			b, _ := io.ReadAll(r)
			return string(b)
		}
		t.Run("undeclared", func(t *testing.T) {
			rd, wr := pipes()
			r := runCoveOpts(t, md, runOpts{extra: wr[:]}, "--", "sh", "-c", listFds+"true")
			wr[0].Close()
			wr[1].Close()
			if r.code != 0 || r.stdout != "0\n1\n2\n" {
				t.Errorf("want only fds 0 1 2 inside\n%v", r)
			}
			if a, b := read(rd[0]), read(rd[1]); a != "" || b != "" {
				t.Errorf("something wrote to cove's undeclared fds: %q %q", a, b)
			}
		})
		t.Run("pass-fd", func(t *testing.T) {
			rd, wr := pipes()
			r := runCoveOpts(t, md, runOpts{extra: wr[:]}, "--pass-fd", "4", "--", "sh", "-c", listFds+"echo via3 >&3")
			wr[0].Close()
			wr[1].Close()
			if r.code != 0 || r.stdout != "0\n1\n2\n3\n" {
				t.Errorf("want fds 0 1 2 3 inside\n%v", r)
			}
			// fd 3 inside must be cove's fd 4, and cove's fd 3 must not leak.
			if a, b := read(rd[0]), read(rd[1]); a != "" || b != "via3\n" {
				t.Errorf("cove fd 3 got %q (want nothing), fd 4 got %q (want via3)", a, b)
			}
		})
	})
}

func TestZombiesReaped(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		// Each ( cmd & ) leaves cmd orphaned to the sandbox's PID 1. The early
		// listing proves the orphan sleep was reparented to PID 1; by the late
		// one every orphan has exited, so any Z left is one PID 1 did not reap.
		const list = `for f in /proc/[0-9]*/stat; do read -r l <"$f" 2>/dev/null && echo "$l"; done; `
		out := mustRun(t, md, "--", "sh", "-c",
			`(true &); (sh -c 'exit 3' &); (sh -c 'kill -9 $$' &); (sleep 0.3 &); sleep 0.1; `+list+
				`echo @@; sleep 0.7; `+list+`true`)
		early, late, ok := strings.Cut(out, "@@\n")
		if !ok {
			t.Fatalf("unexpected output %q", out)
		}
		orphan := false
		for _, l := range strings.Split(strings.TrimSpace(early), "\n") {
			if f := strings.Fields(l[strings.LastIndexByte(l, ')')+1:]); strings.Contains(l, "(sleep)") && len(f) > 1 && f[1] == "1" {
				orphan = true
			}
		}
		if !orphan {
			t.Fatalf("no orphaned sleep with parent 1 in the early listing:\n%s", early)
		}
		lines := strings.Split(strings.TrimSpace(late), "\n")
		if len(lines) < 2 {
			t.Fatalf("process listing too short: %q", late)
		}
		for _, l := range lines {
			if statState(l) == "Z" {
				t.Errorf("zombie inside the sandbox: %s", l)
			}
		}
	})
}

func TestKillCoveKillsSandbox(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		mark := "cove-e2e-mark-" + randHex()
		// The inner sh keeps $0 = mark in its cmdline (it does not exec sleep
		// because of the trailing ':'); the sleep carries the run's env marker.
		r := startCove(t, md, runOpts{}, true, "--", "sh", "-c",
			`sh -c 'sleep 1000; :' `+mark+` & sleep 1000 & echo ready; wait`)
		line, err := bufio.NewReader(r.outPipe).ReadString('\n')
		if err != nil || line != "ready\n" {
			r.cmd.Process.Kill()
			r.cmd.Wait()
			t.Fatalf("sandbox did not start: %q %v: %s", line, err, r.se.String())
		}
		match := func(pid int) bool {
			return strings.Contains(cmdline(pid), mark) || hasEnv(pid, "COVE_E2E_RUN="+r.runID)
		}
		var alive []int
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if alive = findProcs(match); len(alive) >= 3 {
				break
			}
		}
		if len(alive) < 3 {
			r.cmd.Process.Kill()
			r.cmd.Wait()
			t.Fatalf("expected the sandbox's processes to be visible before the kill, found %s", describeProcs(alive))
		}
		if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		for {
			alive = nil
			for _, p := range findProcs(match) {
				if s := procState(p); s != "" && s != "Z" {
					alive = append(alive, p)
				}
			}
			if len(alive) == 0 {
				break
			}
			if time.Since(killed) > time.Second {
				t.Errorf("1 s after SIGKILL of cove, sandbox processes are alive: %s", describeProcs(alive))
				// Do not leave them behind: they are this run's, found by marker.
				for _, p := range alive {
					syscall.Kill(p, syscall.SIGKILL)
				}
				time.Sleep(100 * time.Millisecond)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		io.Copy(io.Discard, r.outPipe)
		res := r.wait()
		if res.code != 137 {
			t.Errorf("cove: want killed by SIGKILL\n%v", res)
		}
	})
}

func TestTimeout(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		r := runCove(t, md, "--timeout", "1s", "--", "sleep", "10")
		if r.code != 137 {
			t.Errorf("want exit 137\n%v", r)
		}
		if r.elapsed < 900*time.Millisecond || r.elapsed > 2500*time.Millisecond {
			t.Errorf("--timeout 1s ended after %v", r.elapsed)
		}
		if !strings.Contains(r.stderr, "timed out") {
			t.Errorf("no timeout message: %q", r.stderr)
		}
	})
}

// jsonStatus runs cove with --json-status 3 and returns the decoded lines.
// onFirst, if set, is called with the first line while cove still runs.
func jsonStatus(t *testing.T, md *mode, onFirst func(map[string]any), args ...string) ([]map[string]any, result) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	r := startCove(t, md, runOpts{extra: []*os.File{pw}}, false, append([]string{"--json-status", "3"}, args...)...)
	pw.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("bad status line %q: %v", sc.Text(), err)
			continue
		}
		if len(lines) == 0 && onFirst != nil {
			onFirst(m)
		}
		lines = append(lines, m)
	}
	return lines, r.wait()
}

func TestJSONStatus(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		t.Run("exit-code", func(t *testing.T) {
			mark := "e2e-json-" + randHex()
			lines, r := jsonStatus(t, md, func(m map[string]any) {
				// child-pid is the program's host pid: while it runs, that
				// pid's cmdline is our script.
				if n, ok := m["child-pid"].(float64); ok {
					if c := cmdline(int(n)); !strings.Contains(c, mark) {
						t.Errorf("child-pid %v has cmdline %q, want the program's", n, c)
					}
				}
			}, "--", "sh", "-c", ": "+mark+"; sleep 0.3; exit 7")
			if r.code != 7 {
				t.Errorf("want exit 7\n%v", r)
			}
			checkStatus(t, lines, "exit-code", 7)
		})
		t.Run("timeout", func(t *testing.T) {
			lines, r := jsonStatus(t, md, nil, "--timeout", "1s", "--", "sleep", "10")
			if r.code != 137 {
				t.Errorf("want exit 137\n%v", r)
			}
			checkStatus(t, lines, "signal", 9)
		})
		t.Run("signal", func(t *testing.T) {
			lines, r := jsonStatus(t, md, nil, "--", "sh", "-c", "kill -9 $$")
			if r.code != 137 {
				t.Errorf("want exit 137\n%v", r)
			}
			checkStatus(t, lines, "signal", 9)
		})
		for _, c := range []struct {
			name string
			args []string
			code int
		}{
			{"error-not-found", []string{"--", "no-such-command-e2e"}, 127},
			{"error-bad-bind", []string{"--bind", "/nonexistent-e2e-src", "/x", "--", "true"}, 125},
		} {
			t.Run(c.name, func(t *testing.T) {
				lines, r := jsonStatus(t, md, nil, c.args...)
				if r.code != c.code {
					t.Errorf("want exit %d\n%v", c.code, r)
				}
				if len(lines) != 1 {
					t.Fatalf("want exactly one error line, got %v", lines)
				}
				e, ok := lines[0]["error"].(map[string]any)
				if !ok || len(lines[0]) != 1 {
					t.Fatalf("want {\"error\":{...}}, got %v", lines[0])
				}
				if s, _ := e["step"].(string); s == "" {
					t.Errorf("error without step: %v", e)
				}
				if m, _ := e["message"].(string); m == "" || !strings.Contains(r.stderr, m) {
					t.Errorf("error message %q is not the one on stderr %q", m, r.stderr)
				}
			})
		}
	})
}

// checkStatus wants exactly {"child-pid":N>0} then {key:want}.
func checkStatus(t *testing.T, lines []map[string]any, key string, want int) {
	t.Helper()
	if len(lines) != 2 {
		t.Fatalf("want 2 status lines, got %v", lines)
	}
	if n, ok := lines[0]["child-pid"].(float64); !ok || n <= 0 || len(lines[0]) != 1 {
		t.Errorf("first line %v, want {\"child-pid\":N}", lines[0])
	}
	if n, ok := lines[1][key].(float64); !ok || int(n) != want || len(lines[1]) != 1 {
		t.Errorf("second line %v, want {%q:%d}", lines[1], key, want)
	}
}

func TestFilesystemOpsInOrder(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		out := mustRun(t, md, "--tmpfs", "/x", "--dir", "/x/y", "--symlink", "y", "/x/z", "--",
			"sh", "-c", `test -d /x/y && echo dir; readlink /x/z; test -d /x/z && echo link-to-dir; ls -A /x`)
		if out != "dir\ny\nlink-to-dir\ny\nz\n" {
			t.Errorf("--tmpfs /x --dir /x/y --symlink y /x/z: got %q", out)
		}
		// Reversed, the tmpfs hides the directory made before it.
		out = mustRun(t, md, "--dir", "/x/y", "--tmpfs", "/x", "--", "ls", "-A", "/x")
		if out != "" {
			t.Errorf("--dir /x/y --tmpfs /x: /x holds %q, want empty (tmpfs mounted last)", out)
		}
	})
}

func TestShareCwd(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		dir, err := os.MkdirTemp(binDir, "cwd-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		// The sandbox's host uid (65534 for root) must be able to write.
		os.Chmod(dir, 0o777)
		if err := os.WriteFile(filepath.Join(dir, "host"), []byte("from host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCoveOpts(t, md, runOpts{dir: dir}, "--share-cwd", "--", "sh", "-c", "pwd; cat host; echo from sandbox >made")
		if r.code != 0 || r.stdout != dir+"\nfrom host\n" {
			t.Errorf("want to start in %s and see its files\n%v", dir, r)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "made")); err != nil || string(b) != "from sandbox\n" {
			t.Errorf("write through --share-cwd not seen on the host: %q %v", b, err)
		}
	})
}

func TestChdir(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		if out := mustRun(t, md, "--chdir", "/usr/bin", "--", "pwd"); out != "/usr/bin\n" {
			t.Errorf("--chdir /usr/bin: pwd %q", out)
		}
		if out := mustRun(t, md, "--", "pwd"); out != md.home+"\n" {
			t.Errorf("default cwd %q, want $HOME %s", out, md.home)
		}
	})
}

func TestEnv(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		o := runOpts{env: []string{"E2E_KEEP=k", "E2E_DROP=d"}}
		r := runCoveOpts(t, md, o, "--setenv", "E2E_SET", "s v", "--unsetenv", "E2E_DROP", "--", "/usr/bin/env")
		env := strings.Split(r.stdout, "\n")
		if r.code != 0 || !slices.Contains(env, "E2E_KEEP=k") || !slices.Contains(env, "E2E_SET=s v") || slices.Contains(env, "E2E_DROP=d") {
			t.Errorf("want E2E_KEEP and E2E_SET, not E2E_DROP\n%v", r)
		}
		r = runCoveOpts(t, md, o, "--clearenv", "--setenv", "ONLY", "1", "--", "/usr/bin/env")
		if r.code != 0 || r.stdout != "ONLY=1\n" {
			t.Errorf("--clearenv --setenv ONLY 1: want only ONLY=1\n%v", r)
		}
	})
}

func TestNetHost(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		b, err := os.ReadFile("/proc/net/dev")
		if err != nil {
			t.Fatal(err)
		}
		host := ifaces(string(b))
		if got := ifaces(mustRun(t, md, "--net", "host", "--", "cat", "/proc/net/dev")); !slices.Equal(got, host) {
			t.Errorf("--net host sees %v, the host has %v", got, host)
		}
	})
}

func TestUidGidFlags(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		if out := mustRun(t, md, "--uid", "1234", "--gid", "1234", "--", "sh", "-c", "id -u; id -g"); out != "1234\n1234\n" {
			t.Errorf("--uid 1234 --gid 1234: got %q", out)
		}
	})
}

func TestMapRoot(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		out := mustRun(t, md, "--map-root", "--", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/status")
		lines := strings.SplitN(out, "\n", 5)
		if len(lines) != 5 || lines[0] != "0" || lines[1] != "0" {
			t.Fatalf("--map-root: want uid and gid 0 inside, got %q", out)
		}
		// Inside root is the caller's own id outside, never host root.
		for _, l := range lines[2:4] {
			f := strings.Fields(l)
			want := strconv.Itoa(md.uid)
			if md.root {
				want = "65534"
			}
			if len(f) != 3 || f[0] != "0" || f[1] != want || f[2] != "1" {
				t.Errorf("--map-root id map %q, want 0 %s 1", l, want)
			}
		}
		capsAndNNP(t, lines[4])
	})
}

func TestProfiles(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		const script = `uname -n; test -e /etc && echo etc; test -e /usr/bin/sh && echo usr; echo "$FROM_PROFILE"`
		cases := []struct{ name, profile, want string }{
			{"builtin-minimal", "minimal", "cove\nusr\n\n"},
			{"toml-extends-minimal", filepath.Join(binDir, "minimal-host.toml"), "from-toml\nusr\ntoml\n"},
			{"json-extends-default", filepath.Join(binDir, "default-host.json"), "from-json\netc\nusr\njson\n"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if out := mustRun(t, md, "--profile", c.profile, "--", "sh", "-c", script); out != c.want {
					t.Errorf("--profile %s: got %q, want %q", c.profile, out, c.want)
				}
			})
		}
	})
}

// TestSignalsForwarded: the signals that would end cove reach the program
// instead, which decides; a signal the caller ignored stays ignored for
// cove and is inherited, ignored, by the program (as under nohup).
func TestSignalsForwarded(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		r := startCove(t, md, runOpts{}, true, "--", "sh", "-c",
			`trap 'echo got-usr1' USR1; trap 'echo got-int' INT; trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.02; done`)
		out := bufio.NewReader(r.outPipe)
		expect := func(want string) {
			t.Helper()
			line, err := out.ReadString('\n')
			if err != nil || line != want+"\n" {
				r.cmd.Process.Kill()
				r.cmd.Wait()
				t.Fatalf("want %q, read %q (%v): %s", want, line, err, r.se.String())
			}
		}
		expect("ready")
		for _, s := range []struct {
			sig  syscall.Signal
			echo string
		}{{syscall.SIGUSR1, "got-usr1"}, {syscall.SIGINT, "got-int"}, {syscall.SIGTERM, "got-term"}} {
			if err := r.cmd.Process.Signal(s.sig); err != nil {
				t.Fatal(err)
			}
			expect(s.echo)
		}
		io.Copy(io.Discard, r.outPipe)
		if res := r.wait(); res.code != 7 {
			t.Fatalf("want the program's own exit 7 after its TERM trap\n%v", res)
		}

		// SIGHUP ignored by the caller: cove is not ended by it, and the
		// program starts with it ignored (bit 1 of SigIgn).
		signal.Ignore(syscall.SIGHUP)
		defer signal.Reset(syscall.SIGHUP)
		r = startCove(t, md, runOpts{}, true, "--", "sh", "-c",
			`echo ready; sleep 0.3; grep '^SigIgn:' /proc/self/status`)
		out = bufio.NewReader(r.outPipe)
		expect("ready")
		if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		line, _ := out.ReadString('\n')
		io.Copy(io.Discard, r.outPipe)
		res := r.wait()
		_, mask, _ := strings.Cut(strings.TrimSpace(line), "\t")
		ign, err := strconv.ParseUint(mask, 16, 64)
		if res.code != 0 || err != nil || ign&1 == 0 {
			t.Fatalf("with SIGHUP ignored: SigIgn line %q\n%v", line, res)
		}
	})
}

// TestOldRootGoneAtExec: the host root the sandbox was built from is
// detached before the program's first instruction. The init detaches it
// while the program sets itself up (docs/architecture.md, "A shared init"),
// and the program must wait for that before execve: read at once by the
// program itself, mountinfo has one "/" (the sandbox's tmpfs) and no host
// filesystem. Twenty runs, so that a race would show.
func TestOldRootGoneAtExec(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		for i := 0; i < 20; i++ {
			out := mustRun(t, md, "--", "cat", "/proc/self/mountinfo")
			roots := 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Fields(l)
				if len(f) < 5 {
					continue
				}
				if f[4] == "/" {
					roots++
				}
				for _, host := range []string{"/sys", "/run", "/boot", "/var"} {
					if f[4] == host {
						t.Fatalf("run %d: host mount %s still attached at exec:\n%s", i, host, out)
					}
				}
			}
			if roots != 1 {
				t.Fatalf("run %d: %d mounts at / (want the sandbox root alone):\n%s", i, roots, out)
			}
		}
	})
}
