package chain

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseExecArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o execOptions)
		wantErr string
	}{
		{name: "command after -- keeps its own options", args: []string{"--user", "a", "--", "ls", "--user"},
			check: func(t *testing.T, o execOptions) {
				if o.user != "a" || !slices.Equal(o.command, []string{"ls", "--user"}) {
					t.Errorf("got user %q command %q", o.user, o.command)
				}
			}},
		{name: "first non-option word starts the command", args: []string{"--no-new-privs", "sh", "-c", "x"},
			check: func(t *testing.T, o execOptions) {
				if !o.noNewPrivs || !slices.Equal(o.command, []string{"sh", "-c", "x"}) {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "--opt=value form", args: []string{"--chroot=/srv", "--umask=027", "true"},
			check: func(t *testing.T, o execOptions) {
				if o.chroot != "/srv" || o.umask != 0o27 || !o.umaskSet {
					t.Errorf("got chroot %q umask %o", o.chroot, o.umask)
				}
			}},
		{name: "repeatable options keep their order", args: []string{"--setns", "a", "--setns", "b", "--env", "X=1", "--env", "Y=2", "--lock", "l1", "--lock", "l2", "true"},
			check: func(t *testing.T, o execOptions) {
				if !slices.Equal(o.setns, []string{"a", "b"}) || !slices.Equal(o.env, []string{"X=1", "Y=2"}) || !slices.Equal(o.locks, []string{"l1", "l2"}) {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "cap lists split on commas", args: []string{"--cap-add", "net_admin,CAP_CHOWN", "--cap-drop", "all", "true"},
			check: func(t *testing.T, o execOptions) {
				if !slices.Equal(o.capAdd, []string{"net_admin", "CAP_CHOWN"}) || !slices.Equal(o.capDrop, []string{"all"}) {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "help needs no command", args: []string{"--help"}, check: func(t *testing.T, o execOptions) {
			if !o.help {
				t.Error("help not set")
			}
		}},
		{name: "missing command", args: []string{"--user", "a"}, wantErr: "no COMMAND"},
		{name: "missing value", args: []string{"--user"}, wantErr: "--user needs a value"},
		{name: "unknown option", args: []string{"--frobnicate", "true"}, wantErr: "unknown option --frobnicate"},
		{name: "flag given a value", args: []string{"--no-new-privs=1", "true"}, wantErr: "takes no value"},
		{name: "bad umask", args: []string{"--umask", "999", "true"}, wantErr: "octal"},
		{name: "nice out of range", args: []string{"--nice", "40", "true"}, wantErr: "-20 to 19"},
		{name: "env without =", args: []string{"--env", "FOO", "true"}, wantErr: "NAME=VALUE"},
		{name: "bad rlimit is reported with the option", args: []string{"--rlimit", "nofile=lots", "true"}, wantErr: "--rlimit nofile=lots"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseExecArgs(c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, o)
		})
	}
}

func TestParseRlimit(t *testing.T) {
	cases := []struct {
		name, spec string
		want       rlimitSetting
		wantErr    string
	}{
		{name: "soft only keeps the hard limit", spec: "nofile=1024", want: rlimitSetting{name: "nofile", resource: unix.RLIMIT_NOFILE, soft: 1024}},
		{name: "soft and hard", spec: "core=0:100", want: rlimitSetting{name: "core", resource: unix.RLIMIT_CORE, soft: 0, hard: 100, setHard: true}},
		{name: "unlimited and inf", spec: "as=unlimited:inf", want: rlimitSetting{name: "as", resource: unix.RLIMIT_AS, soft: unix.RLIM_INFINITY, hard: unix.RLIM_INFINITY, setHard: true}},
		{name: "RLIMIT_ prefix and case", spec: "RLIMIT_NPROC=5", want: rlimitSetting{name: "nproc", resource: unix.RLIMIT_NPROC, soft: 5}},
		{name: "every short name is known", spec: "rttime=1"},
		{name: "unknown resource", spec: "files=1", wantErr: "unknown resource"},
		{name: "missing =", spec: "nofile", wantErr: "NAME=SOFT[:HARD]"},
		{name: "soft above hard", spec: "nofile=10:5", wantErr: "soft limit above hard"},
		{name: "negative", spec: "cpu=-1", wantErr: "not a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseRlimit(c.spec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.want.name != "" && got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	for _, n := range []string{"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"} {
		if _, err := parseRlimit(n + "=1"); err != nil {
			t.Errorf("short name %s: %v", n, err)
		}
	}
}

// testDB writes passwd and group files under dir.
func testDB(t *testing.T, dir string) accountDB {
	t.Helper()
	db := accountDB{passwd: filepath.Join(dir, "passwd"), group: filepath.Join(dir, "group")}
	if err := os.WriteFile(db.passwd, []byte(testPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db.group, []byte(testGroup), 0o644); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestExecResolvesNamesBeforeChroot: the jail's own passwd maps cltest to uid 0; the plan
// must use the caller's files (uid 2001) and be complete before the chroot step runs.
func TestExecResolvesNamesBeforeChroot(t *testing.T) {
	dir := t.TempDir()
	db := testDB(t, dir)
	jail := filepath.Join(dir, "jail")
	if err := os.MkdirAll(filepath.Join(jail, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jail, "etc/passwd"), []byte("cltest:x:0:0::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := parseExecArgs([]string{"--chroot", jail, "--user", "cltest", "true"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planExec(o, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.uid != 2001 || p.gid != 2001 || !slices.Equal(p.groups, []int{2001, 2345}) {
		t.Errorf("plan ids uid=%d gid=%d groups=%v, want 2001 2001 [2001 2345] from the caller's files", p.uid, p.gid, p.groups)
	}
	names := stepNames(p)
	if i := slices.Index(names, "chroot"); i < 0 || i > slices.Index(names, "setuid") {
		t.Errorf("steps %v: chroot must come before setuid", names)
	}
}

func stepNames(p *execPlan) []string {
	var names []string
	for _, s := range p.steps() {
		names = append(names, s.name)
	}
	return names
}

// TestExecStepOrder pins the documented order of every step.
func TestExecStepOrder(t *testing.T) {
	db := testDB(t, t.TempDir())
	o, err := parseExecArgs([]string{
		"--lock", "l", "--chdir", "/", "--no-new-privs", "--cap-ambient", "net_bind_service", "--securebits", "noroot",
		"--nice", "3", "--rlimit", "nofile=10", "--umask", "022", "--chroot", "/", "--user", "cltest", "--env", "A=1", "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planExec(o, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"chroot", "umask", "rlimit", "nice", "securebits", "bounding", "keepcaps", "setgroups", "setgid", "setuid", "capset", "ambient", "no_new_privs", "chdir", "lock"}
	if got := stepNames(p); !reflect.DeepEqual(got, want) {
		t.Errorf("steps\n got %v\nwant %v", got, want)
	}
}

// TestExecSecurebitsBeforeCapDrop: securebits need CAP_SETPCAP, so they must be set before the
// bounding set and the capability sets lose it, whatever the command line's order.
func TestExecSecurebitsBeforeCapDrop(t *testing.T) {
	db := testDB(t, t.TempDir())
	o, err := parseExecArgs([]string{"--cap-drop", "setpcap", "--securebits", "keep-caps-locked,noroot", "true"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planExec(o, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := stepNames(p)
	sb := slices.Index(names, "securebits")
	if sb < 0 || sb > slices.Index(names, "bounding") || sb > slices.Index(names, "capset") {
		t.Errorf("steps %v: securebits must precede bounding and capset", names)
	}
	if p.keepCaps.has(8) { // CAP_SETPCAP
		t.Error("setpcap still kept")
	}
	if p.securebits != 1<<5|1<<0 {
		t.Errorf("securebits %#x", p.securebits)
	}
}

func TestExecResolveIDs(t *testing.T) {
	db := testDB(t, t.TempDir())
	cases := []struct {
		name     string
		args     []string
		uid, gid int
		groups   []int
		noGroups bool
		wantErr  string
	}{
		{name: "name gives primary group and db groups", args: []string{"--user", "cltest"}, uid: 2001, gid: 2001, groups: []int{2001, 2345}},
		{name: "user:group overrides the primary group", args: []string{"--user", "cltest:users"}, uid: 2001, gid: 100, groups: []int{100, 2345}},
		{name: "numeric uid with passwd entry", args: []string{"--user", "2001"}, uid: 2001, gid: 2001, groups: []int{2001, 2345}},
		{name: "numeric uid:gid without passwd entry", args: []string{"--user", "3000:3000"}, uid: 3000, gid: 3000, groups: []int{}},
		{name: "numeric uid without entry needs a group", args: []string{"--user", "3000"}, wantErr: "no passwd entry"},
		{name: "--groups none", args: []string{"--user", "cltest", "--groups", "none"}, uid: 2001, gid: 2001, groups: []int{}},
		{name: "--groups list of names and numbers", args: []string{"--user", "cltest", "--groups", "users,77"}, uid: 2001, gid: 2001, groups: []int{100, 77}},
		{name: "--group alone", args: []string{"--group", "clgrp2"}, uid: -1, gid: 2345, groups: []int{}},
		{name: "unknown user", args: []string{"--user", "nosuch"}, wantErr: "resolve user nosuch: no such user"},
		{name: "unknown group", args: []string{"--user", "cltest:nosuch"}, wantErr: "resolve group nosuch: no such group"},
		{name: "group given twice", args: []string{"--user", "cltest:users", "--group", "users"}, wantErr: "give the group once"},
		{name: "--groups db without a named user", args: []string{"--user", "3000:1", "--groups", "db"}, wantErr: "--groups db needs"},
		{name: "nothing asked, nothing set", args: nil, uid: -1, gid: -1, noGroups: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseExecArgs(append(c.args, "true"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := planExec(o, db, nil)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			uid, gid := -1, -1
			if p.setUID {
				uid = p.uid
			}
			if p.setGID {
				gid = p.gid
			}
			if uid != c.uid || gid != c.gid {
				t.Errorf("uid %d gid %d, want %d %d", uid, gid, c.uid, c.gid)
			}
			if c.noGroups != !p.setGroups || (p.setGroups && !slices.Equal(p.groups, c.groups)) {
				t.Errorf("groups %v (set %v), want %v", p.groups, p.setGroups, c.groups)
			}
		})
	}
}

func TestParseCapsAndSecurebits(t *testing.T) {
	s, err := parseCapNames([]string{"CAP_NET_BIND_SERVICE", "chown"})
	if err != nil || s != 1<<10|1<<0 {
		t.Errorf("caps %#x %v", s, err)
	}
	if _, err := parseCapNames([]string{"cap_frobnicate"}); err == nil {
		t.Error("unknown capability accepted")
	}
	for spec, want := range map[string]int{"noroot": 1, "keep_caps,keep-caps-locked": 0x30, "SECBIT_NO_SETUID_FIXUP": 4, "0x2f": 0x2f} {
		if got, err := parseSecurebits(spec); err != nil || got != want {
			t.Errorf("securebits %q = %#x, %v; want %#x", spec, got, err, want)
		}
	}
	if _, err := parseSecurebits("sticky"); err == nil {
		t.Error("unknown securebit accepted")
	}
}
