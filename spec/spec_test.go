package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValidAndSafe(t *testing.T) {
	s := Default()
	if err := s.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	n := s.Namespaces
	if !n.User || !n.Mount || !n.PID || !n.IPC || !n.UTS || !n.Net || !n.Cgroup {
		t.Fatalf("default namespaces %+v, want user mount pid ipc uts net cgroup", n)
	}
	if s.IDs.MapHostRoot || s.IDs.MapRoot || s.Security.AllowNewPrivs || len(s.Security.CapAdd) > 0 {
		t.Fatalf("default grants something: %+v %+v", s.IDs, s.Security)
	}
	if s.Hostname != "cove" || s.Security.Seccomp.Policy != "default" {
		t.Fatalf("hostname %q seccomp %q", s.Hostname, s.Security.Seccomp.Policy)
	}
	if len(s.Rlimits) != 1 || s.Rlimits[0] != (Rlimit{Name: "core"}) {
		t.Fatalf("rlimits %+v, want core 0", s.Rlimits)
	}
	// Each call is a fresh value.
	s.Filesystem[0].Dst = "/changed"
	if Default().Filesystem[0].Dst == "/changed" {
		t.Fatal("Default() shares state between calls")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	s := Default()
	uid := uint32(1234)
	s.IDs.UID = &uid
	s.Lifecycle.Timeout = Duration(90 * time.Second)
	s.Env.Set = []EnvVar{{Name: "A", Value: "b c"}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, &back) {
		t.Fatalf("round trip changed the spec:\n%+v\n%+v", s, &back)
	}
	if !strings.Contains(string(b), `"timeout":"1m30s"`) {
		t.Fatalf("timeout not written as a duration string: %s", b)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Spec)
		field string
	}{
		{"relative destination", func(s *Spec) { s.Filesystem[0].Dst = "usr" }, "filesystem[0].dst"},
		{"dotdot destination", func(s *Spec) { s.Filesystem[0].Dst = "/a/../etc" }, "filesystem[0].dst"},
		{"unknown operation", func(s *Spec) { s.Filesystem[1].Type = "overlay" }, "filesystem[1].type"},
		{"bind without source", func(s *Spec) { s.Filesystem[0].Src = "" }, "filesystem[0].src"},
		{"tmpfs with source", func(s *Spec) { s.Filesystem = append(s.Filesystem, Mount{Type: Tmpfs, Src: "/x", Dst: "/y"}) }, "filesystem[12].src"},
		{"mode on a bind", func(s *Spec) { s.Filesystem[0].Mode = 0o700 }, "filesystem[0].mode"},
		{"optional proc", func(s *Spec) { s.Filesystem[8].Optional = true }, "filesystem[8].optional"},
		{"relative cwd", func(s *Spec) { s.Cwd = "src" }, "cwd"},
		{"umask too big", func(s *Spec) { m := uint32(0o1000); s.Umask = &m }, "umask"},
		{"env name with =", func(s *Spec) { s.Env.Set = []EnvVar{{Name: "A=B"}} }, "env.set[0].name"},
		{"unknown rlimit", func(s *Spec) { s.Rlimits = []Rlimit{{Name: "files"}} }, "rlimits[0].name"},
		{"soft above hard", func(s *Spec) { s.Rlimits = []Rlimit{{Name: "nofile", Soft: 10, Hard: 5}} }, "rlimits[0]"},
		{"hostname without uts", func(s *Spec) { s.Namespaces.UTS = false }, "hostname"},
		{"mount ns without user ns", func(s *Spec) { s.Namespaces.User = false }, "namespaces.user"},
		{"root without pid ns", func(s *Spec) { s.Namespaces.PID = false }, "namespaces.pid"},
		{"map-root with uid", func(s *Spec) { u := uint32(1); s.IDs.UID = &u; s.IDs.MapRoot = true }, "ids.map_root"},
		{"negative timeout", func(s *Spec) { s.Lifecycle.Timeout = -1 }, "lifecycle.timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Default()
			c.edit(s)
			err := s.Validate()
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != c.field {
				t.Fatalf("got %v, want a FieldError for %s", err, c.field)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name    string
		file    string
		text    string
		check   func(*Spec) string
		wantErr string
	}{
		{"toml extends default and replaces keys", "a.toml", "hostname = \"builder\"\n[namespaces]\nnet = false\n",
			func(s *Spec) string {
				if s.Hostname != "builder" || s.Namespaces.Net || !s.Namespaces.PID || len(s.Filesystem) != len(Default().Filesystem) {
					return "keys not applied onto the default"
				}
				return ""
			}, ""},
		{"json extends none", "b.json", `{"extends":"none","cwd":"/"}`,
			func(s *Spec) string {
				if s.Namespaces.User || len(s.Filesystem) != 0 || s.Cwd != "/" {
					return "none did not start empty"
				}
				return ""
			}, ""},
		{"lists are replaced", "c.toml", "[[filesystem]]\ntype = \"tmpfs\"\ndst = \"/tmp\"\n",
			func(s *Spec) string {
				if len(s.Filesystem) != 1 {
					return "filesystem list was merged, not replaced"
				}
				return ""
			}, ""},
		{"unknown toml key", "d.toml", "hostnme = \"x\"\n", nil, `unknown key "hostnme"`},
		{"unknown nested toml key", "e.toml", "[security]\nno_new_privs = true\n", nil, `unknown key "security.no_new_privs"`},
		{"unknown json key", "f.json", `{"hostnme":"x"}`, nil, `unknown key "hostnme"`},
		{"json syntax error names the line", "g.json", "{\n\"hostname\": \"x\",\n}", nil, "line 3"},
		{"invalid value is validated", "h.toml", "cwd = \"relative\"\n", nil, "cwd:"},
		{"unknown base", "i.toml", "extends = \"paranoid\"\n", nil, `unknown built-in profile "paranoid"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := LoadProfile(write(c.file, c.text))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := c.check(s); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

func TestBuiltinProfiles(t *testing.T) {
	for _, n := range BuiltinNames() {
		s, err := LoadProfile(n)
		if err != nil || s.Validate() != nil {
			t.Fatalf("built-in %s: %v", n, err)
		}
	}
	if _, err := LoadProfile("nosuch"); err == nil || !strings.Contains(err.Error(), "no such profile") {
		t.Fatalf("got %v for an unknown name", err)
	}
	for _, m := range Minimal().Filesystem {
		if m.Dst == "/etc" || m.Dst == "~" {
			t.Fatalf("minimal profile has %s", m.Dst)
		}
	}
}
