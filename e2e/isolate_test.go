package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestIsolate: cove isolate gives new network and IPC namespaces (only lo,
// up) and changes nothing else: same ids, same files, same working directory.
func TestIsolate(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		script := `id -u; pwd; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; grep -c ' lo$' /proc/net/if_inet6; test -e /etc/hostname && echo host-files; exit 3`
		r := runCoveOpts(t, md, runOpts{sub: "isolate", dir: "/usr"}, "--", "sh", "-c", script)
		want := fmt.Sprintf("%d\n/usr\nlo\n1\nhost-files\n", md.uid)
		if r.code != 3 || r.stdout != want {
			t.Fatalf("got %v\nwant stdout %q and exit 3", r, want)
		}
		if !md.root {
			// The unprivileged caller is mapped to itself.
			m := mustRunSub(t, md, "isolate", "cat", "/proc/self/uid_map")
			if f := strings.Fields(m); len(f) != 3 || f[0] != fmt.Sprint(md.uid) || f[1] != fmt.Sprint(md.uid) || f[2] != "1" {
				t.Fatalf("uid_map %q, want %d %d 1", m, md.uid, md.uid)
			}
		}
		if r := runCoveOpts(t, md, runOpts{sub: "isolate"}, "--", "no-such-cmd"); r.code != 127 || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("missing command: %v", r)
		}
		if r := runCoveOpts(t, md, runOpts{sub: "isolate"}); r.code != 125 {
			t.Fatalf("no command: %v", r)
		}
	})
}

// TestPseudo: cove pseudo makes the caller root of a new user namespace with
// every capability there, maps delegated subordinate ids when there are some,
// and never maps host root.
func TestPseudo(t *testing.T) {
	forEachMode(t, func(t *testing.T, md *mode) {
		r := runCoveOpts(t, md, runOpts{sub: "pseudo"}, "--", "sh", "-c", `id -u; id -g; grep CapEff /proc/self/status; cat /proc/self/uid_map; exit 5`)
		if r.code != 5 {
			t.Fatalf("exit: %v", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) < 4 || lines[0] != "0" || lines[1] != "0" || lines[2] == "CapEff:\t0000000000000000" {
			t.Fatalf("want root with capabilities inside, got %v", r)
		}
		for _, l := range lines[3:] {
			f := strings.Fields(l)
			if len(f) == 3 && f[1] == "0" {
				t.Fatalf("host root mapped: %q", l)
			}
		}
		first := strings.Fields(lines[3])
		if md.root {
			if strings.Join(first, " ") != "0 4294967294 1" {
				t.Fatalf("root caller: first map line %q, want 0 4294967294 1", lines[3])
			}
		} else if first[0] != "0" || first[1] != fmt.Sprint(md.uid) {
			t.Fatalf("user: first map line %q, want 0 -> %d", lines[3], md.uid)
		}
	})
}

func mustRunSub(t *testing.T, md *mode, sub string, args ...string) string {
	t.Helper()
	r := runCoveOpts(t, md, runOpts{sub: sub}, append([]string{"--"}, args...)...)
	if r.code != 0 {
		t.Fatalf("cove %s %v: %v", sub, args, r)
	}
	return r.stdout
}
