package chain

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// diffCase is one invocation run under the real tool and under cove's personality; both must
// give the same exit status, stdout and stderr (after fixture.normalize), and the status the
// reference notes observed.
type diffCase struct {
	name     string   // the behaviour pinned down
	argv     []string // argv[0] is the tool's name
	wantCode int      // the status observed with the real tool (reference §1.8)
	opts     runOpts
	sortOut  bool      // stdout is `env` output: compare it as a set of lines
	hold     *heldLock // a lock the test process holds during both runs
}

// heldLock is a lock the test process takes on a fixture file, so that the command under test
// finds it busy.
type heldLock struct {
	file  string // relative to the fixture directory
	posix bool   // fcntl record lock (s6) instead of flock (daemontools, runit)
}

func (h *heldLock) acquire(t *testing.T, fx *fixture) func() {
	t.Helper()
	fd, err := unix.Open(filepath.Join(fx.dir, h.file), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if h.posix {
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		err = unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk)
	} else {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		t.Fatalf("hold %s: %v", h.file, err)
	}
	return func() { unix.Close(fd) }
}

// runDiffCases runs each case under both implementations and compares them.
func runDiffCases(t *testing.T, cases []diffCase) {
	fx := getFixture(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.hold != nil {
				defer c.hold.acquire(t, fx)()
			}
			real := fx.runReal(t, c.argv, c.opts)
			cove := fx.runCove(t, c.argv, c.opts)
			if real.code != c.wantCode {
				t.Errorf("real %q: status %d, reference says %d (stderr %q)", c.argv, real.code, c.wantCode, real.stderr)
			}
			if cove.code != real.code {
				t.Errorf("%q: cove status %d, real %d\ncove stderr: %q\nreal stderr: %q", c.argv, cove.code, real.code, cove.stderr, real.stderr)
			}
			if a, b := fx.normalize(cove.stdout, c.sortOut), fx.normalize(real.stdout, c.sortOut); a != b {
				t.Errorf("%q: stdout differs\ncove: %q\nreal: %q", c.argv, a, b)
			}
			if a, b := fx.normalize(cove.stderr, false), fx.normalize(real.stderr, false); a != b {
				t.Errorf("%q: stderr differs\ncove: %q\nreal: %q", c.argv, a, b)
			}
		})
	}
}

// idScript prints the identity as `id` sees it and as the kernel holds it (the raw, sorted
// supplementary list, duplicates included).
const idScript = `id; grep -E '^(Uid|Gid|Groups):' /proc/self/status`

// limitsScript prints every limit of the exec'd program.
const limitsScript = `cat /proc/self/limits`

func TestDaemontoolsDifferential(t *testing.T) {
	nobody := runOpts{as: "65534:65534"}
	runDiffCases(t, []diffCase{
		{name: "D1 setuidgid sets uid, gid and only the primary group", argv: []string{"setuidgid", "cltest", "sh", "-c", idScript}},
		{name: "setuidgid drops the supplementary groups of a member of another group", argv: []string{"setuidgid", "cltest2", "sh", "-c", idScript}},
		{name: "D2 unknown account", argv: []string{"setuidgid", "nosuchuser", "id"}, wantCode: 111},
		{name: "D3 missing program", argv: []string{"setuidgid", "cltest", "/nonexistent"}, wantCode: 111},
		{name: "missing program found through PATH", argv: []string{"setuidgid", "cltest", "nonexistent-prog"}, wantCode: 111},
		{name: "D4 usage without arguments", argv: []string{"setuidgid"}, wantCode: 100},
		{name: "D4 usage without child", argv: []string{"setuidgid", "cltest"}, wantCode: 100},
		{name: "D5 numeric account is not accepted", argv: []string{"setuidgid", "2001", "id"}, wantCode: 111},
		{name: "D6 nested setuidgid cannot regain root", argv: []string{"setuidgid", "cltest", "setuidgid", "root", "id"}, wantCode: 111},
		{name: "D7 child status passes through", argv: []string{"setuidgid", "cltest", "sh", "-c", "exit 7"}, wantCode: 7},
		{name: "D8 program without exec permission", argv: []string{"setuidgid", "root", "./noexec.sh"}, wantCode: 111},
		{name: "setuidgid as unprivileged caller fails at setgid", argv: []string{"setuidgid", "cltest", "id"}, wantCode: 111, opts: nobody},
		{name: "setuidgid to oneself as unprivileged caller", argv: []string{"setuidgid", "nobody", "sh", "-c", idScript}, wantCode: 111, opts: nobody},

		{name: "D9 envuidgid exports UID and GID only", argv: []string{"envuidgid", "cltest", "env"}, sortOut: true, opts: runOpts{env: []string{"GIDLIST=keep"}}},
		{name: "D10 envuidgid unknown account", argv: []string{"envuidgid", "nosuchuser", "env"}, wantCode: 111},
		{name: "D11 envuidgid usage", argv: []string{"envuidgid"}, wantCode: 100},
		{name: "envuidgid missing program", argv: []string{"envuidgid", "cltest", "/nonexistent"}, wantCode: 111},
		{name: "envuidgid works unprivileged", argv: []string{"envuidgid", "cltest", "env"}, sortOut: true, opts: nobody},

		{name: "D12 envdir first line, trailing blanks cut, NUL to newline, empty unsets, dotfiles skipped, A=B kept",
			argv:    []string{"envdir", "envd", "sh", "-c", `echo "[$FOO] [${REMOVEME-unset}] [$NUL] [$EMPTYLINE] [$CR] [$TRAIL]"; env`},
			sortOut: true, opts: runOpts{env: []string{"REMOVEME=1", "A=old"}}},
		{name: "D13 envdir missing directory", argv: []string{"envdir", "/nonexistent", "env"}, wantCode: 111},
		{name: "D14 envdir usage exits 111", argv: []string{"envdir"}, wantCode: 111},
		{name: "envdir usage without child", argv: []string{"envdir", "envd"}, wantCode: 111},
		{name: "D15 envdir with a subdirectory", argv: []string{"envdir", "envd2", "true"}, wantCode: 111},
		{name: "envdir reads whole files (no size clamp)", argv: []string{"envdir", "envbig", "env"}, sortOut: true},
		{name: "envdir on a regular file", argv: []string{"envdir", "noexec.sh", "true"}, wantCode: 111},
		{name: "envdir missing program", argv: []string{"envdir", "envd", "/nonexistent"}, wantCode: 111},

		{name: "D16 softlimit clamps to the hard limit", argv: []string{"softlimit", "-o", "999999999", "sh", "-c", limitsScript}},
		{name: "softlimit = means the hard limit", argv: []string{"softlimit", "-o", "=", "-c", "=", "sh", "-c", limitsScript}},
		{name: "softlimit lowers one limit", argv: []string{"softlimit", "-o", "64", "-p", "500", "-f", "1000000", "-t", "77", "-c", "0", "-r", "9999999", "sh", "-c", limitsScript}},
		{name: "D17 softlimit non-numeric value", argv: []string{"softlimit", "-o", "abc", "true"}, wantCode: 100},
		{name: "D18 softlimit unknown option", argv: []string{"softlimit", "-z", "5", "true"}, wantCode: 100},
		{name: "softlimit option without argument", argv: []string{"softlimit", "-o"}, wantCode: 100},
		{name: "softlimit without child", argv: []string{"softlimit", "-o", "10"}, wantCode: 100},
		{name: "D19 softlimit -m sets data, stack, memlock and address space", argv: []string{"softlimit", "-m", "100000000", "sh", "-c", limitsScript}},
		{name: "softlimit attached argument and -- end", argv: []string{"softlimit", "-o64", "--", "sh", "-c", limitsScript}},
		{name: "softlimit missing program", argv: []string{"softlimit", "-o", "10", "/nonexistent"}, wantCode: 111},
		{name: "softlimit unprivileged", argv: []string{"softlimit", "-o", "33", "sh", "-c", limitsScript}, opts: nobody},

		{name: "D20 setlock -n on a held lock", argv: []string{"setlock", "-n", "lk", "echo", "got"}, wantCode: 111, hold: &heldLock{file: "lk"}},
		{name: "D21 setlock -nx on a held lock exits 0 without running", argv: []string{"setlock", "-nx", "lk", "echo", "got"}, hold: &heldLock{file: "lk"}},
		{name: "setlock free lock runs the child with the lock fd", argv: []string{"setlock", "-n", "lk", "sh", "-c", "ls -l /proc/self/fd | grep -c /lk$"}},
		{name: "setlock ignores a POSIX lock on the same file (X1)", argv: []string{"setlock", "-n", "lk8", "echo", "a"}, hold: &heldLock{file: "lk8", posix: true}},
		{name: "D22 setlock open failure", argv: []string{"setlock", "/nonexistent/dir/lk", "true"}, wantCode: 111},
		{name: "D22 setlock -x open failure exits 0", argv: []string{"setlock", "-x", "/nonexistent/dir/lk", "true"}},
		{name: "D23 setlock usage", argv: []string{"setlock"}, wantCode: 100},
		{name: "setlock unknown option", argv: []string{"setlock", "-q", "lk", "true"}, wantCode: 100},
		{name: "setlock -x still reports a missing program", argv: []string{"setlock", "-x", "lk", "/nonexistent"}, wantCode: 111},
		{name: "setlock unprivileged in a writable directory", argv: []string{"setlock", "locks/lk-nobody", "echo", "ok"}, opts: nobody},
	})
}
