package chain

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary play every personality: the fixture links it under each tool's
// name and the differential tests run those links exactly as they run the real tools. A few
// helper names serve the tests themselves.
func TestMain(m *testing.M) {
	name := filepath.Base(os.Args[0])
	switch name {
	case helperNsrun:
		os.Exit(nsrunMain(os.Args[1:]))
	case helperHello:
		os.Exit(helloMain())
	case "cove":
		os.Exit(coveMain(os.Args[1:]))
	}
	if fn := Lookup(name); fn != nil {
		os.Exit(fn(os.Args))
	}
	code := m.Run()
	if fixtureVal != nil {
		os.RemoveAll(fixtureVal.dir)
	}
	os.Exit(code)
}

const (
	helperNsrun = "chaintest-nsrun"
	helperHello = "hello"
)

// coveMain stands in for cmd/cove's dispatch of the subcommands this package implements.
func coveMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "cove: want a subcommand")
		return 125
	}
	switch args[0] {
	case "exec":
		return ExecMain(args[1:])
	case "install-links":
		return InstallLinksMain(args[1:])
	}
	fmt.Fprintln(os.Stderr, "cove: unknown subcommand", args[0])
	return 125
}

// nsrunMain is `chaintest-nsrun [--as UID:GID[:GROUPS]] PASSWD GROUP -- ARGV...`. It runs in a private
// mount namespace (its parent cloned it with CLONE_NEWNS), binds PASSWD and GROUP over
// /etc/passwd and /etc/group so that real tools and cove's personalities see the same test
// accounts without the host's files being touched, optionally drops to UID:GID with no
// supplementary groups (or the comma-separated GROUPS), and execs ARGV.
func nsrunMain(args []string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "chaintest-nsrun:", err); return 99 }
	uid, gid := -1, -1
	var groups []int
	if len(args) > 1 && args[0] == "--as" {
		parts := strings.SplitN(args[1], ":", 3)
		uid, _ = strconv.Atoi(parts[0])
		gid, _ = strconv.Atoi(parts[1])
		if len(parts) == 3 {
			for _, g := range strings.Split(parts[2], ",") {
				n, _ := strconv.Atoi(g)
				groups = append(groups, n)
			}
		}
		args = args[2:]
	}
	if len(args) < 4 || args[2] != "--" {
		return fail(fmt.Errorf("usage: [--as UID:GID] PASSWD GROUP -- ARGV"))
	}
	for i, dst := range []string{"/etc/passwd", "/etc/group"} {
		if err := unix.Mount(args[i], dst, "", unix.MS_BIND, ""); err != nil {
			return fail(fmt.Errorf("bind %s on %s: %w", args[i], dst, err))
		}
	}
	if uid >= 0 {
		if err := syscall.Setgroups(groups); err != nil {
			return fail(err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fail(err)
		}
		if err := syscall.Setuid(uid); err != nil {
			return fail(err)
		}
	}
	argv := args[3:]
	return fail(unix.Exec(argv[0], argv, os.Environ()))
}

// helloMain is the program placed in the test chroot: it reports where it runs and as whom.
func helloMain() int {
	wd, _ := os.Getwd()
	fmt.Printf("cwd=%s uid=%d gid=%d\n", wd, os.Getuid(), os.Getgid())
	return 0
}
