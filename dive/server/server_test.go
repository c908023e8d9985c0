package server

import (
	"slices"
	"testing"
)

func TestParseCapText(t *testing.T) {
	const netRaw, kill = 1 << 13, 1 << 5
	cases := []struct {
		name, text string
		want       CapSets
		bad        bool
	}{
		{"raise one in all three sets", "cap_net_raw+eip", CapSets{netRaw, netRaw, netRaw}, false},
		{"= clears then sets", "cap_kill,cap_net_raw=p cap_kill+e", CapSets{kill, kill | netRaw, 0}, false},
		{"all then drop", "=ep cap_kill-e", CapSets{(1<<41 - 1) &^ kill, 1<<41 - 1, 0}, false},
		{"operator without flags", "cap_kill+", CapSets{}, true},
		{"unknown name", "cap_nope+e", CapSets{}, true},
		{"no operator", "cap_kill", CapSets{}, true},
	}
	for _, c := range cases {
		got, err := ParseCapText(c.text, 40)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("%s: ParseCapText(%q) = %+v, %v; want %+v, error %v", c.name, c.text, got, err, c.want, c.bad)
		}
	}
}

func TestWithin(t *testing.T) {
	cases := []struct{ name, root, dir, want string }{
		{"root itself", "/srv/jail", "/srv/jail", "/"},
		{"below the root", "/srv/jail", "/srv/jail/home/u", "/home/u"},
		{"outside the root leaks nothing (bug 2)", "/srv/jail", "/etc", ""},
		{"prefix is not containment", "/srv/jail", "/srv/jailbreak", ""},
		{"host root", "/", "/tmp", "/tmp"},
	}
	for _, c := range cases {
		if got := within(c.root, c.dir); got != c.want {
			t.Errorf("%s: within(%q, %q) = %q, want %q", c.name, c.root, c.dir, got, c.want)
		}
	}
}

func TestDiveEnvFiltersClientDiveVariables(t *testing.T) {
	got := DiveEnv([]string{"A=1", "DIVE_UID=0", "DIVE_X=y", "PATH=/bin"}, Peer{UID: 1000, GID: 100, PID: 42, User: "u"})
	want := []string{"A=1", "PATH=/bin", "DIVE_UID=1000", "DIVE_GID=100", "DIVE_PID=42", "DIVE_USER=u"}
	if !slices.Equal(got, want) {
		t.Errorf("DiveEnv = %q, want %q", got, want)
	}
}

func TestCandidates(t *testing.T) {
	if got := Candidates("/bin/true", "/x"); !slices.Equal(got, []string{"/bin/true"}) {
		t.Errorf("absolute: %q", got)
	}
	if got := Candidates("ls", "/a::/b"); !slices.Equal(got, []string{"/a/ls", "./ls", "/b/ls"}) {
		t.Errorf("search: %q", got)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"default", Policy{}, true},
		{"-P with -u", Policy{NoSetuid: true, User: "x"}, false},
		{"-B with -b", Policy{HasRetainCaps: true, HasRemoveCaps: true}, false},
		{"-w with -n", Policy{NoWait: true, Signals: SignalsProcess}, false},
		{"-g without -u", Policy{Groups: []string{"g"}}, false},
		{"privileged forced command with client env (bug 14)", Policy{ForcedArgv: []string{"/bin/sh"}, NoSetuid: true}, false},
		{"privileged forced command with -E", Policy{ForcedArgv: []string{"/bin/sh"}, NoSetuid: true, NoClientEnv: true}, true},
	}
	for _, c := range cases {
		if err := c.p.Validate(false); (err == nil) != c.ok {
			t.Errorf("%s: Validate = %v, want ok %v", c.name, err, c.ok)
		}
	}
}
