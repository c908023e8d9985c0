package chain

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGetopt(t *testing.T) {
	type step struct {
		c   byte
		arg string
	}
	cases := []struct {
		name    string
		argv    []string
		opts    string
		want    []step
		rest    []string
		missing bool
	}{
		{name: "bundled flags", argv: []string{"p", "-nx", "f"}, opts: "nNxX", want: []step{{'n', ""}, {'x', ""}}, rest: []string{"f"}},
		{name: "attached and separate arguments", argv: []string{"p", "-o10", "-d", "5", "prog"}, opts: "o:d:", want: []step{{'o', "10"}, {'d', "5"}}, rest: []string{"prog"}},
		{name: "-- ends options and is consumed", argv: []string{"p", "-n", "--", "-x"}, opts: "n", want: []step{{'n', ""}}, rest: []string{"-x"}},
		{name: "lone - is an operand", argv: []string{"p", "-", "x"}, opts: "n", rest: []string{"-", "x"}},
		{name: "first operand stops parsing", argv: []string{"p", "prog", "-n"}, opts: "n", rest: []string{"prog", "-n"}},
		{name: "unknown letter", argv: []string{"p", "-z", "5"}, opts: "o:", want: []step{{'?', ""}}},
		{name: "missing argument", argv: []string{"p", "-o"}, opts: "o:", want: []step{{'?', ""}}, missing: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGetopt(c.argv)
			var got []step
			for {
				ch := g.next(c.opts)
				if ch == 0 {
					break
				}
				got = append(got, step{ch, g.arg})
				if ch == '?' {
					if g.missing != c.missing {
						t.Errorf("missing = %v", g.missing)
					}
					break
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("options %v, want %v", got, c.want)
			}
			if c.rest != nil && !slices.Equal(g.rest(), c.rest) {
				t.Errorf("rest %q, want %q", g.rest(), c.rest)
			}
		})
	}
}

func TestEnvironModify(t *testing.T) {
	cases := []struct {
		name string
		env  environ
		mod  string
		want environ
	}{
		{name: "set replaces", env: environ{"A=1", "B=2"}, mod: "A=3", want: environ{"B=2", "A=3"}},
		{name: "bare name unsets", env: environ{"A=1", "B=2"}, mod: "A", want: environ{"B=2"}},
		{name: "djb name with = sets the part before it", env: environ{"A=old"}, mod: "A=B=v", want: environ{"A=B=v"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.env.modify(c.mod); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestEnvdirReaders(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"FOO": "hello  \t\nsecond\n", "EMPTY": "", "NUL": "a\x00b", ".dot": "x", "A=B": "v", "CR": "x\r\n", "ONLYNL": "\n"}
	for n, v := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	djb, err := djbEnvdir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(djb)
	if want := []string{"A=B=v", "CR=x\r", "EMPTY", "FOO=hello", "NUL=a\nb", "ONLYNL="}; !slices.Equal(djb, want) {
		t.Errorf("djb envdir %q, want %q", djb, want)
	}
	s6, err := s6Envdir(dir, s6EnvdirOptions{nullIs: '\n'})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(s6)
	if want := []string{"CR=x", "EMPTY", "FOO=hello", "NUL=a\nb", "ONLYNL="}; !slices.Equal(s6, want) {
		t.Errorf("s6 envdir %q, want %q", s6, want)
	}
	if err := os.Mkdir(filepath.Join(dir, "SUB"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := djbEnvdir(dir, false); err == nil {
		t.Error("daemontools envdir accepted a subdirectory")
	}
	if _, err := djbEnvdir(dir, true); err != nil {
		t.Errorf("chpst envdir must skip a subdirectory: %v", err)
	}
}

func TestNumberParsers(t *testing.T) {
	for s, want := range map[string][]int{"1,2:3 4": {1, 2, 3, 4}, "1,x": {1}, "": nil} {
		got, ok := scanGidList(s)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("scanGidList(%q) = %v %v, want %v", s, got, ok, want)
		}
	}
	if _, ok := scanGidList("x"); ok {
		t.Error("scanGidList accepted x")
	}
	for s, want := range map[string]uint64{"10": 10, "0x10": 16, "010": 8, " +7": 7, "0": 0} {
		if got, ok := strtoulFull(s); !ok || got != want {
			t.Errorf("strtoulFull(%q) = %d %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-1", "1_0", "12x", "0x", "099"} {
		if _, ok := strtoulFull(s); ok {
			t.Errorf("strtoulFull(%q) accepted", s)
		}
	}
	for s, ok := range map[string]bool{"0": true, "4294967294": true, "4294967295": false, "": false, "+1": false, "1a": false} {
		if _, got := parseID(s); got != ok {
			t.Errorf("parseID(%q) ok=%v", s, got)
		}
	}
	if n, ok := scanULong(""); !ok || n != 0 {
		t.Error("djb scan_ulong of empty string must be 0")
	}
	if n, ok := scanULong("99999999999999999999999"); !ok || n != ^uint64(0) {
		t.Error("huge values must saturate")
	}
}

func TestNamesAndLookup(t *testing.T) {
	for _, n := range Names() {
		if Lookup(n) == nil {
			t.Errorf("Names() lists %s but Lookup has no entry", n)
		}
	}
	for _, n := range []string{"cove", "bash", "", "s6-svscan"} {
		if Lookup(n) != nil {
			t.Errorf("Lookup(%q) is not nil", n)
		}
	}
}
