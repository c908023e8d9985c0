package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/covebox/cove"
	"github.com/covebox/cove/spec"
)

const isolateUsage = `Usage: cove isolate [--] COMMAND [ARG...]

Run COMMAND in new network and IPC namespaces: only a loopback interface (up),
no host sockets, no host System V IPC. Nothing else changes: same files, same
user and capabilities, same session and terminal. An unprivileged caller also
gets a user namespace that maps it to itself. COMMAND is executed directly
(no init): its exit status is cove's, 128+N if it was killed by signal N; 125
if cove failed, 126 if COMMAND cannot be executed, 127 if not found.

Like arachsys isolate. For a full sandbox use cove run.
`

const pseudoUsage = `Usage: cove pseudo [--] [COMMAND [ARG...]]

Run COMMAND (default $SHELL, or /bin/sh) as root of a new user namespace, with
every capability there: a fakeroot that works with static binaries and
chroots. You are uid and gid 0 inside; the subordinate ids /etc/subuid and
/etc/subgid delegate to you are mapped at 1, 2, ... (written by newuidmap and
newgidmap, from Debian's uidmap package); without delegated ids only your own
id is mapped. Run by root: inside 0 is host id 4294967294 and every other id
maps to itself, so host root is never mapped. Files, network and session are
unchanged. Exit status as for cove isolate.

Like arachsys pseudo.
`

func isolateMain(args []string, stdout, stderr io.Writer) int {
	return nsMain("isolate", isolateUsage, spec.Isolate(os.Geteuid() != 0), args, false, stdout, stderr)
}

func pseudoMain(args []string, stdout, stderr io.Writer) int {
	return nsMain("pseudo", pseudoUsage, spec.Pseudo(), args, true, stdout, stderr)
}

// nsMain runs a command directly in new namespaces, keeping the caller's
// session and stdio.
func nsMain(name, usage string, s *spec.Spec, args []string, defaultShell bool, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		fmt.Fprintf(stderr, "cove %s: unknown option %s (usage: cove %s [--] COMMAND...)\n", name, args[0], name)
		return exitSetup
	}
	if len(args) == 0 {
		if !defaultShell {
			fmt.Fprintf(stderr, "cove %s: no command given (usage: cove %s [--] COMMAND [ARG...])\n", name, name)
			return exitSetup
		}
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		args = []string{sh}
	}
	cmd := cove.Command(s, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.KeepSession = true
	err := cmd.Run()
	var se *cove.SetupError
	if errors.As(err, &se) {
		switch se.Code {
		case exitNotFound:
			fmt.Fprintf(stderr, "cove %s: %s: command not found\n", name, args[0])
		case exitNotExec:
			fmt.Fprintf(stderr, "cove %s: %s: cannot execute: %v\n", name, args[0], errnoText(se))
		default:
			fmt.Fprintf(stderr, "cove %s: %s\n", name, oneLine(se))
		}
		return se.Code
	}
	if st := cmd.Status(); st != nil {
		return st.Code
	}
	if err != nil {
		fmt.Fprintf(stderr, "cove %s: %s\n", name, oneLine(err))
		return exitSetup
	}
	return 0
}
