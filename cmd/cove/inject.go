package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/covebox/cove"
	"github.com/covebox/cove/internal/stage"
	"github.com/covebox/cove/spec"
)

const injectUsage = `Usage: cove inject PID [COMMAND [ARG...]]

Run COMMAND (default $SHELL, else /bin/sh) inside the namespaces of process
PID — a container's program, as cove contain shows it — as root of its user
namespace: user namespace first, then cgroup, ipc, uts, net, pid, time and
mount; a fork puts COMMAND in the PID namespace; it starts in "/" with your
environment and stdio, no_new_privs and the default seccomp policy. You must
own PID's user namespace.

cove inject first re-executes itself from a sealed in-memory copy, so that
nothing in the container can reach the host's cove binary through
/proc/PID/exe (CVE-2019-5736); the joining process is also non-dumpable
until it executes COMMAND.

Exit status: COMMAND's; 128+N if it was killed by signal N; 125 if cove failed
(no such process, not yours, ...); 126 not executable; 127 not found.
`

// sealedEnv marks a cove that already runs from its sealed copy.
const sealedEnv = "_COVE_SEALED"

func injectMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, injectUsage)
		return 0
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "cove inject: no PID given (usage: cove inject PID [COMMAND [ARG...]])")
		return exitSetup
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "cove inject: %q is not a process id\n", args[0])
		return exitSetup
	}
	if os.Getenv(sealedEnv) == "" {
		return reexecSealed(stderr)
	}
	os.Unsetenv(sealedEnv)
	command := args[1:]
	if len(command) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		command = []string{sh}
	}
	cmd := cove.Command(spec.Inject(pid), command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.KeepSession = true
	err = cmd.Run()
	var se *cove.SetupError
	if errors.As(err, &se) {
		switch se.Code {
		case exitNotFound:
			fmt.Fprintf(stderr, "cove inject: %s: command not found\n", command[0])
		case exitNotExec:
			fmt.Fprintf(stderr, "cove inject: %s: cannot execute: %v\n", command[0], errnoText(se))
		default:
			fmt.Fprintf(stderr, "cove inject: %s\n", strings.TrimPrefix(oneLine(se), "join: "))
		}
		return se.Code
	}
	if st := cmd.Status(); st != nil {
		return st.Code
	}
	fmt.Fprintf(stderr, "cove inject: %s\n", oneLine(err))
	return exitSetup
}

// reexecSealed replaces this process with a sealed memfd copy of itself,
// same arguments, marked so that the copy goes on.
func reexecSealed(stderr io.Writer) int {
	f, err := stage.SealedSelf()
	if err != nil {
		fmt.Fprintf(stderr, "cove inject: %v\n", err)
		return exitSetup
	}
	// The memfd is close-on-exec; execveat with AT_EMPTY_PATH on it keeps
	// argv[0] and needs no /proc.
	env := append(os.Environ(), sealedEnv+"=1")
	argv, err := syscall.SlicePtrFromStrings(os.Args)
	if err == nil {
		var envv []*byte
		envv, err = syscall.SlicePtrFromStrings(env)
		if err == nil {
			empty := []byte{0}
			_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, f.Fd(), uintptr(unsafe.Pointer(&empty[0])),
				uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
			err = errno
		}
	}
	fmt.Fprintf(stderr, "cove inject: re-execute from a sealed copy: %v\n", err)
	return exitSetup
}
