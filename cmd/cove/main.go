// Command cove starts programs in controlled Linux environments.
//
// Run `cove help` for the list of commands, `cove COMMAND --help` for one
// command. Invoked through a link with another name (setuidgid, envdir,
// chpst, ...), cove behaves as that tool.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/covebox/cove/chain"
	"github.com/covebox/cove/internal/audit"
)

// Version is the cove version, set at build time with
// -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// Exit statuses of cove itself (the program's own status passes through).
const (
	exitSetup       = 125 // cove failed before the command started
	exitNotExec     = 126 // the command exists but cannot be executed
	exitNotFound    = 127 // the command was not found
	exitUsageOthers = 2
)

func main() {
	os.Exit(dispatch(os.Args, os.Stdout, os.Stderr))
}

type command struct {
	name, summary string
	main          func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run a command in a new sandbox (the built-in default profile)", runMain},
		{"serve", "serve dive clients: start programs for them over a UNIX socket (dived)", serveMain},
		{"dive", "start a program through a cove serve (or dived) socket, here", diveMain},
		{"contain", "run a rootless container from a root filesystem directory", containMain},
		{"inject", "run a command inside a running container's namespaces", injectMain},
		{"ps", "list your running named containers (--name)", psMain},
		{"isolate", "run a command in new network and IPC namespaces (only lo), nothing else changed", isolateMain},
		{"pseudo", "run a command as root of a new user namespace (fakeroot; delegated ids mapped)", pseudoMain},
		{"seal", "run a program from a sealed in-memory copy of itself (CVE-2019-5736)", sealMain},
		{"pivot", "make a directory the root of this mount namespace, detaching the old root", pivotMain},
		{"exec", "change process attributes (user, groups, caps, limits, root...) and exec a command in place", func(a []string, _, _ io.Writer) int { return chain.ExecMain(a) }},
		{"install-links", "create links named after the drop-in tools (setuidgid, envdir, chpst, ...)", func(a []string, _, _ io.Writer) int {
			return chain.InstallLinksMain(a, "dive", "dived", "seal", "pivot")
		}},
		{"audit", "report a process's isolation: namespaces, ids, capabilities, seccomp, limits", audit.Main},
		{"version", "print cove's version", versionMain},
		{"help", "list commands, or show one command's help", nil},
	}
}

func dispatch(argv []string, stdout, stderr io.Writer) int {
	name := filepath.Base(argv[0])
	switch name {
	case "dive":
		return diveTool(argv)
	case "dived":
		return divedMain(argv)
	case "seal":
		return sealTool(argv, stdout, stderr)
	case "pivot":
		return pivotTool(argv, stdout, stderr)
	}
	if f := chain.Lookup(name); f != nil {
		return f(argv)
	}
	if len(argv) < 2 {
		usage(stderr)
		return exitUsageOthers
	}
	sub, args := argv[1], argv[2:]
	switch sub {
	case "help", "-h", "--help":
		if len(args) > 0 {
			for _, c := range commands() {
				if c.name == args[0] && c.main != nil {
					return c.main([]string{"--help"}, stdout, stderr)
				}
			}
		}
		usage(stdout)
		return 0
	case "--version":
		return versionMain(nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == sub && c.main != nil {
			return c.main(args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cove: unknown command %q (run 'cove help' for the list)\n", sub)
	return exitUsageOthers
}

func usage(w io.Writer) {
	fmt.Fprint(w, `cove starts programs in controlled Linux environments.

Usage: cove COMMAND [OPTIONS] [--] [ARGS...]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'cove COMMAND --help' for a command's options. Documentation: docs/ in
the source tree. Invoked through a link named dive, dived, seal, pivot,
setuidgid, envuidgid, envdir, softlimit, setlock, pgrphack, chpst, s6-* or
setuidgid-fromenv, cove behaves as that tool, with its syntax and exit codes
('cove install-links DIR' creates the links).

Example: cove run -- sh -c 'id; hostname; ls /'
`)
}

func versionMain(args []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "cove %s\n", Version)
	return 0
}
