package audit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/covebox/cove/internal/caps"
)

func TestAssess(t *testing.T) {
	private := map[string]string{"net": "private", "user": "private", "mnt": "private", "pid": "private", "ipc": "private", "cgroup": "private", "uts": "private"}
	shared := map[string]string{"net": "shared", "user": "shared", "mnt": "shared", "pid": "shared", "ipc": "shared", "cgroup": "shared", "uts": "shared"}
	all := caps.All(40)
	for _, tc := range []struct {
		behaviour string
		f         facts
		score     float64
		label     string
	}{
		{"host root with everything is the worst",
			facts{euid: 0, initialUserNS: true, ns: shared, netKnown: true, perm: all, bnd: all, amb: all, dumpable: "yes"}, 10.0, "DANGEROUS"},
		{"cove's default sandbox scores perfect",
			facts{euid: 1000, ns: private, netKnown: true, onlyLoopback: true, nnp: true, seccompMode: 2, dumpable: "no"}, 0.0, "PERFECT"},
		{"without no_new_privs a plain host process can reach the bounding set through setuid binaries",
			facts{euid: 1000, initialUserNS: true, ns: shared, netKnown: true, bnd: all, dumpable: "yes"}, 9.1, "UNSAFE"},
		{"no_new_privs keeps the bounding set out of reach for non-root",
			facts{euid: 1000, initialUserNS: true, ns: shared, netKnown: true, bnd: all, nnp: true, seccompMode: 2, dumpable: "yes"}, 2.5, "OK"},
		{"unknown dumpable is left out, not guessed",
			facts{euid: 1000, ns: private, onlyLoopback: true, netKnown: true, nnp: true, seccompMode: 2, dumpable: "unknown"}, 0.0, "PERFECT"},
		{"root in a user namespace with its full bounding set",
			facts{euid: 0, ns: private, netKnown: true, onlyLoopback: true, nnp: true, seccompMode: 2, perm: all, bnd: all, dumpable: "no"}, 5.9, "MEDIUM"},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			e := assess(tc.f)
			if e.Score != tc.score || e.Label != tc.label {
				var b strings.Builder
				for _, c := range e.Checks {
					b.WriteString("\n  " + c.Name + " " + c.Finding)
				}
				t.Errorf("score %.1f %s, want %.1f %s; checks:%s", e.Score, e.Label, tc.score, tc.label, b.String())
			}
		})
	}
}

func TestLabel(t *testing.T) {
	for exposure, want := range map[int]string{0: "PERFECT", 1: "SAFE", 9: "SAFE", 10: "OK", 49: "OK", 50: "MEDIUM", 75: "EXPOSED", 90: "UNSAFE", 100: "DANGEROUS"} {
		if got := label(exposure); got != want {
			t.Errorf("label(%d) = %s, want %s", exposure, got, want)
		}
	}
}

func TestMainUsage(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		args      []string
		stderr    string
	}{
		{"PID not a number", []string{"abc"}, "cove audit: bad PID \"abc\": want a positive number\n"},
		{"PID zero", []string{"0"}, "cove audit: bad PID \"0\": want a positive number\n"},
		{"two PIDs", []string{"1", "2"}, "cove audit: too many arguments (1 2): usage: cove audit [--json] [PID]\n"},
		{"unknown flag", []string{"--yaml"}, "flag provided but not defined: -yaml\nusage: cove audit [--json] [PID]\n"},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(tc.args, &out, &errb); code != ExitUsage {
				t.Errorf("exit %d, want %d", code, ExitUsage)
			}
			if errb.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}
